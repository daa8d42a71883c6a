#!/bin/sh
# Perfdata on the first and later lines, quoted labels with spaces and '' escapes, missing
# fields, ranges, an unknown value.
echo "WARNING - disk almost full | '/ used'=91%;80;90;0;100 'it''s'=5"
echo "long text line 1"
echo "long text line 2 | 'var log'=12.5MB;;;0 time=0.25s"
echo "unknown=U ranged=7;10:20;@5:6 bare=3"
exit 1
