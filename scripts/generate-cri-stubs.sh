#!/usr/bin/env bash
# Generates the CRI client's message stubs from the vendored k8s.io/cri-api api.proto:
#   src/pod_meta_exporter/adapters/cri/api_pb2.py (messages) and api_pb2.pyi (types, for mypy).
# protoc comes with grpcio-tools and the .pyi with mypy-protobuf, both pinned in pyproject.toml's
# test extra, so the output is reproducible; tests/unit/test_cri_stubs.py regenerates and compares.
# To move to another cri-api version: copy its pkg/apis/runtime/v1/api.proto over the vendored one,
# set CRI_API_VERSION and CRI_API_PROTO_SHA256 in adapters/cri/__init__.py, and run this script.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-src}"
bin="$(dirname "$(command -v python)")"
PATH="$bin:$PATH" python -m grpc_tools.protoc -I src --python_out="$out" --mypy_out="$out" \
  src/pod_meta_exporter/adapters/cri/api.proto
