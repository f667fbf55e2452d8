"""A kubeconfig for one identity: what the tests and the benchmarks hand the exporter and kubectl."""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path


def write_kubeconfig(
    path: Path,
    *,
    server: str,
    token: str = "kubeconfig-token",
    user: str = "test",
    ca_file: Path | None = None,
    cluster: Mapping[str, Any] | None = None,
) -> Path:
    """One cluster, user and context, readable by its owner only: a bearer token, trusting only
    `ca_file` where one is given; `cluster` adds fields to the cluster's entry. JSON is YAML."""
    entry: dict[str, Any] = {"server": server}
    if ca_file is not None:
        entry["certificate-authority"] = str(ca_file)
    entry |= cluster or {}
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "test", "cluster": entry}],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": "test", "context": {"cluster": "test", "user": user}}],
        "current-context": "test",
    }
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        json.dump(config, file, indent=2)
    return path
