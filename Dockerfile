# syntax=docker/dockerfile:1
# pod-meta-exporter: built on python:3.13-slim-trixie, run on distroless Python 3.13 (Debian 13),
# as uid/gid 65532 (distroless "nonroot"; the deploy manifests' runAsUser/runAsGroup).
# For releases, pin both bases by digest too (docker buildx imagetools inspect IMAGE).
#   docker build -t pod-meta-exporter:dev .
# The bases are build arguments, so that a machine without a registry can stand in its own
# (tests/e2e/offline builds them from Debian packages): BUILDER_IMAGE needs Python 3.13 and pip,
# RUNTIME_IMAGE /usr/bin/python3.13. Docker's legacy builder and BuildKit both build this file.
ARG BUILDER_IMAGE=python:3.13-slim-trixie
ARG RUNTIME_IMAGE=gcr.io/distroless/python3-debian13:nonroot

FROM ${BUILDER_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /build
# Dependencies first, so that editing the source does not invalidate this layer. Wheels only,
# checked against the hashes: no compiler in the image, and what runs is what was locked.
COPY deploy/docker/requirements.txt ./
RUN pip install --require-hashes --only-binary=:all: --target /app -r requirements.txt
COPY pyproject.toml README.md ./
COPY src/ src/
# Not a venv: a venv's interpreter link would point at this stage's /usr/local/bin/python3.13,
# which the distroless image does not have. A plain directory on PYTHONPATH works with its
# /usr/bin/python3.13 (same minor version, so the same ABI for the compiled wheels).
RUN pip wheel --no-deps --wheel-dir /wheels . \
    && rm -rf /app/bin \
    && pip install --no-deps --target /app /wheels/*.whl \
    && rm -rf /app/bin

# python3-debian12 is no longer built (distroless#2084, May 2026): Debian 13, with Python 3.13.
FROM ${RUNTIME_IMAGE}
COPY --from=builder /app /app
ENV PYTHONPATH=/app PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
USER 65532:65532
# Distroless has no shell, so exec form only. Fail the build here, not in the cluster, if the
# package does not import on this interpreter or the CLI module no longer runs as a script.
RUN ["/usr/bin/python3.13", "-c", "import subprocess, sys; out = subprocess.run([sys.executable, '-m', 'pod_meta_exporter.entrypoints.cli', '--help'], capture_output=True, text=True, check=True).stdout; assert out.startswith('usage: pod-meta-exporter'), out"]
ENTRYPOINT ["/usr/bin/python3.13", "-m", "pod_meta_exporter.entrypoints.cli"]
