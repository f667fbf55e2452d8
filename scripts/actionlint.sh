#!/usr/bin/env bash
# actionlint on .github/workflows, built once with Go from its module into the project's tool
# cache (its PyPI wrapper downloads a binary from GitHub at install time, which not every machine
# can reach).
set -euo pipefail
version=v1.7.12
bin_dir="${XDG_CACHE_HOME:-$HOME/.cache}/pod-meta-exporter/tools/actionlint-$version"
if [[ ! -x "$bin_dir/actionlint" ]]; then
    if ! command -v go >/dev/null 2>&1; then
        echo "actionlint: needs Go to build github.com/rhysd/actionlint/cmd/actionlint@$version" >&2
        exit 127
    fi
    GOBIN="$bin_dir" go install "github.com/rhysd/actionlint/cmd/actionlint@$version"
fi
cd "$(dirname "$0")/.."
exec "$bin_dir/actionlint" "$@"
