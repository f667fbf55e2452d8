#!/usr/bin/env bash
# promtool (Prometheus 3.16.0: the Go module's v0.316.0), built once with Go from its module into
# the project's tool cache, as actionlint is: no release binary is downloaded. The first build
# takes a few minutes.
set -euo pipefail
version=v0.316.0
bin_dir="${XDG_CACHE_HOME:-$HOME/.cache}/pod-meta-exporter/tools/promtool-$version"
if [[ ! -x "$bin_dir/promtool" ]]; then
    if ! command -v go >/dev/null 2>&1; then
        echo "promtool: needs Go to build github.com/prometheus/prometheus/cmd/promtool@$version" >&2
        exit 127
    fi
    echo "promtool: building github.com/prometheus/prometheus/cmd/promtool@$version once, into $bin_dir" >&2
    GOBIN="$bin_dir" go install "github.com/prometheus/prometheus/cmd/promtool@$version"
fi
exec "$bin_dir/promtool" "$@"
