#!/usr/bin/env bash
# actionlint on .github/workflows (its PyPI wrapper downloads a binary from GitHub at install time).
set -euo pipefail
cd "$(dirname "$0")/.."
exec bash scripts/go-tool.sh actionlint github.com/rhysd/actionlint/cmd/actionlint v1.7.12 "$@"
