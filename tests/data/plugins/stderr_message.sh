#!/bin/sh
echo "UNKNOWN - cannot read the configuration"
echo "open(/etc/missing.conf): No such file or directory" >&2
exit 3
