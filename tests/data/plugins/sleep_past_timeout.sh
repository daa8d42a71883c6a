#!/bin/sh
# Never finishes on its own; exits on SIGTERM like a well-behaved plugin.
echo "still running"
exec sleep 60
