#!/usr/bin/env bash
# Install what the node tier runs pods with, from Debian: containerd, runc, the CNI plugins
# (bridge, host-local), a static busybox for the workload image, iptables and iproute2. Only as root, only what is
# missing; elsewhere it says why not and the tier skips (it fails under CI=true).
set -euo pipefail

packages=()
command -v containerd >/dev/null 2>&1 || packages+=(containerd)
command -v runc >/dev/null 2>&1 || packages+=(runc)
[[ -x /usr/lib/cni/bridge && -x /usr/lib/cni/host-local ]] || packages+=(containernetworking-plugins)
[[ -x /bin/busybox ]] || packages+=(busybox-static)
command -v iptables >/dev/null 2>&1 || packages+=(iptables)  # the kubelet's chains, in the node's netns
command -v ip >/dev/null 2>&1 || packages+=(iproute2)        # the veth link between host and node

exec bash "$(dirname "${BASH_SOURCE[0]}")/apt-install-missing.sh" install-node-runtime ${packages[@]+"${packages[@]}"}
