#!/bin/sh
# Prints what a plugin sees of its environment (one variable per perfdata-free line).
echo "OK - environment"
env | sort
exit 0
