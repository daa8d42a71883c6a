#!/bin/sh
# About 1 MB of long text after a normal first line.
echo "OK - lots of output | size=1048576B"
yes "a long text line of the plugin output, repeated to reach one megabyte" | head -c 1048576
exit 0
