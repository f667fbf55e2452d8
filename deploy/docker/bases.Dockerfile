# The default bases of the project's Dockerfile (its BUILDER_IMAGE and RUNTIME_IMAGE arguments),
# named here in FROM lines because Dependabot does not read a FROM that takes an ARG
# (dependabot-core#2057). Dependabot proposes their updates in this file; tests/unit/test_dockerfile.py
# fails until the Dockerfile's defaults match, so that an update is never half made. Not built.
FROM python:3.13-slim-trixie
FROM gcr.io/distroless/python3-debian13:nonroot
