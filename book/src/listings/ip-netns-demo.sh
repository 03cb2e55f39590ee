#!/bin/sh
# ip-netns-demo.sh: the lesson's exercise in small: make a named network namespace with
# `ip netns`, look inside, bring its lo up, delete it. Run as root.
#
# `ip netns add` keeps a namespace alive by bind-mounting it on /run/netns/NAME (and makes
# /run/netns a mount point of its own). So that the host keeps none of that, the demo first
# enters a mount namespace of its own, where / is private and /run is an empty tmpfs: every
# mount below dies with that namespace when the script ends.
set -e

# ANCHOR: private
if [ -z "$IN_PRIVATE_MOUNTS" ]; then
	IN_PRIVATE_MOUNTS=1 exec unshare --mount --propagation private sh "$0"
fi
mount -t tmpfs tmpfs /run
# ANCHOR_END: private

# ANCHOR: netns
ip netns add demo
ip netns list
ip netns exec demo ip link show
ip netns exec demo ip link set lo up
ip netns exec demo ip -4 address show lo
ip netns delete demo
echo "after delete: $(ip netns list | wc -l) namespace(s) listed"
# ANCHOR_END: netns
