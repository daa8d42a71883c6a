#!/bin/sh
# Invalid UTF-8, control bytes and a NUL on the first line, a broken perfdata item.
printf 'CRIT \377\376 bad\001bytes\000 here | x=\377 =5 good=3\n\200\201 long\n'
exit 2
