#!/bin/sh
# nsenter-demo.sh: start a small "container" (new uts and network namespaces, hostname box),
# then look into it from outside with nsenter, which joins its namespaces with setns(2).
# Run as root. Everything it makes goes away with the sleep it kills at the end.
set -e

# ANCHOR: start
unshare --uts --net sh -c 'hostname box; exec sleep 60' &
box=$!
# Wait (10 s at most) until the container's shell has set the name and become `sleep`.
tries=200
until [ "$(cat /proc/$box/comm)" = sleep ]; do
	tries=$((tries - 1)) && [ "$tries" -gt 0 ] || { echo "no container" >&2; exit 1; }
	sleep 0.05
done
# ANCHOR_END: start

# ANCHOR: enter
nsenter --target "$box" --uts hostname
nsenter --target "$box" --net ip link show
[ "$(hostname)" != box ] && echo "outside, the hostname is still not box"
# ANCHOR_END: enter

kill "$box"
