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

if [[ ${#packages[@]} -eq 0 ]]; then
    exit 0
fi
if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
    echo "install-node-runtime: not root with apt-get, so not installing ${packages[*]}: the node tier will skip" >&2
    exit 0
fi
echo "install-node-runtime: installing ${packages[*]} from Debian" >&2
export DEBIAN_FRONTEND=noninteractive
install() { apt-get install --yes --quiet --no-install-recommends "${packages[@]}" >/dev/null; }
# Package lists may be missing or stale on a fresh machine: refresh them once, then retry.
install || { apt-get update --quiet >/dev/null && install; }
