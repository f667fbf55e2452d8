#!/usr/bin/env bash
# apt-install-missing.sh NAME PACKAGE...: install PACKAGEs from Debian for NAME (a tier's install
# script, which lists only what is missing): only as root with apt-get, otherwise say why not.
set -euo pipefail

name="$1"
shift
if [[ $# -eq 0 ]]; then
    exit 0
fi
if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
    echo "$name: not root with apt-get, so not installing $*: the tier will skip" >&2
    exit 0
fi
echo "$name: installing $* from Debian" >&2
export DEBIAN_FRONTEND=noninteractive
install() { apt-get install --yes --quiet --no-install-recommends "$@" >/dev/null; }
# Package lists may be missing or stale on a fresh machine: refresh them once, then retry.
install "$@" || { apt-get update --quiet >/dev/null && install "$@"; }
