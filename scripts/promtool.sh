#!/usr/bin/env bash
# promtool of Prometheus 3.16.0 (the Go module's v0.316.0), for the alerts' checks and tests.
set -euo pipefail
exec bash "$(dirname "$0")/go-tool.sh" promtool github.com/prometheus/prometheus/cmd/promtool v0.316.0 "$@"
