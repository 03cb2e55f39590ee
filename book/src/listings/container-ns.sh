#!/bin/sh
# container-ns.sh: start a small "container" of two processes with util-linux's unshare, then,
# from the host, compare their /proc/PID/ns links with each other and with the host's.
# Run as root. The container (and everything in it) is killed at the end.
set -e

# ANCHOR: start
# Inside: sh starts a `sleep 60` in the background, then becomes `sleep 61` itself.
# The container holds two processes then: pid 1 (sleep 61) and pid 2 (sleep 60).
unshare --uts --ipc --net --pid --mount --fork --mount-proc --kill-child \
	sh -c 'sleep 60 & exec sleep 61' &
# From the host, find them: unshare's child is the container's pid 1; its child is pid 2.
children() { cat /proc/"$1"/task/"$1"/children 2>/dev/null | tr -d ' '; }
tries=200 # 10 s at most
until first=$(children $!) && [ -n "$first" ] && second=$(children "$first") &&
	[ -n "$second" ] && [ "$(cat /proc/"$first"/comm)" = sleep ]; do
	tries=$((tries - 1)) && [ "$tries" -gt 0 ] || { echo "no container" >&2; exit 1; }
	sleep 0.05
done
# ANCHOR_END: start

# ANCHOR: compare
printf '%-7s %-24s %s\n' TYPE "THE TWO PROCESSES" "THE HOST"
for type in cgroup ipc mnt net pid time user uts; do
	a=$(readlink /proc/"$first"/ns/$type)
	b=$(readlink /proc/"$second"/ns/$type)
	host=$(readlink /proc/$$/ns/$type)
	if [ "$a" = "$b" ]; then both="share one namespace"; else both="differ"; fi
	if [ "$a" = "$host" ]; then mine="it is the host's"; else mine="it is new"; fi
	printf '%-7s %-24s %s\n' "$type" "$both" "$mine"
done
# ANCHOR_END: compare

# ANCHOR: inside
# What lsns says from inside: it reads the container's own /proc, so it sees three
# processes there: the two sleeps and lsns itself.
nsenter --target "$first" --all lsns --output TYPE,NPROCS,PID | sort
# ANCHOR_END: inside

# Ending unshare ends the container: --kill-child gave its pid 1 a SIGKILL for that moment,
# and when a pid namespace's init dies, the kernel kills every other process in it. (unshare
# blocks SIGTERM while it waits for its child, so it gets SIGKILL.)
unshare_pid=$!
kill -KILL "$unshare_pid"
{ wait "$unshare_pid"; } 2>/dev/null || true
