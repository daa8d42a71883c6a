#!/bin/sh
# Ignores SIGTERM (and so does its child, which inherits the ignored disposition): only SIGKILL
# stops it.
trap '' TERM
echo "ignoring SIGTERM"
sleep 60
