#!/bin/sh
echo "OK - should never run: this file is not executable"
exit 0
