#!/usr/bin/env bash
# Install what the e2e tier's offline kind needs where no registry is reachable, from Debian:
# Docker (dockerd and its client, 20.10 in bookworm), containerd's ctr (to preload the node image),
# mmdebstrap (every image's root filesystem), busybox-static (the test pods' image), and the
# libraries of ../shared's Fluent Bit. Only as root, only what is missing, and Docker only where
# no dockerd is installed (a GitHub runner has its own). scripts/offline-kind.py runs this when it
# builds the cluster here; elsewhere it says why not and the tier skips (it fails under CI=true).
set -euo pipefail

packages=()
command -v dockerd >/dev/null 2>&1 || packages+=(docker.io)
command -v containerd >/dev/null 2>&1 || packages+=(containerd)
command -v ctr >/dev/null 2>&1 || packages+=(containerd)
command -v runc >/dev/null 2>&1 || packages+=(runc)
command -v mmdebstrap >/dev/null 2>&1 || packages+=(mmdebstrap)
command -v unshare >/dev/null 2>&1 || packages+=(util-linux)
[[ -x /bin/busybox ]] || packages+=(busybox-static)
# Fluent Bit's own libraries (../shared/fluent-bit/bin/README.md), copied into its image.
for library in libssl.so.3 libyaml-0.so.2 libsqlite3.so.0; do
    if ! ldconfig -p | grep -q "$library"; then
        case "$library" in
            libssl.so.3) packages+=(libssl3) ;;
            libyaml-0.so.2) packages+=(libyaml-0-2) ;;
            libsqlite3.so.0) packages+=(libsqlite3-0) ;;
        esac
    fi
done

exec bash "$(dirname "${BASH_SOURCE[0]}")/apt-install-missing.sh" install-e2e-runtime ${packages[@]+"${packages[@]}"}
