#!/usr/bin/env bash
# Run a Go tool built once from its module into the project's tool cache:
#   scripts/go-tool.sh NAME MODULE/cmd/PATH VERSION [ARGS...]
# A release binary would be downloaded from GitHub at install time, which not every machine can
# reach; the Go module proxy is. The first build of a tool can take minutes (promtool: about 4).
set -euo pipefail
name=$1 package=$2 version=$3
shift 3
bin_dir="${XDG_CACHE_HOME:-$HOME/.cache}/pod-meta-exporter/tools/$name-$version"
if [[ ! -x "$bin_dir/$name" ]]; then
    if ! command -v go >/dev/null 2>&1; then
        echo "$name: needs Go to build $package@$version" >&2
        exit 127
    fi
    echo "$name: building $package@$version once, into $bin_dir" >&2
    GOBIN="$bin_dir" go install "$package@$version"
fi
exec "$bin_dir/$name" "$@"
