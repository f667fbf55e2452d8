"""The domain does no I/O: it imports no framework, adapter or I/O module, whatever import-linter says."""

from __future__ import annotations

import ast
from pathlib import Path

import pod_meta_exporter.domain

DOMAIN = Path(pod_meta_exporter.domain.__file__).parent
FORBIDDEN = {
    "kubernetes", "dependency_injector", "prometheus_client", "urllib3", "os", "time", "threading",
    "socket", "io", "pathlib", "shutil", "subprocess", "asyncio", "logging",
}  # fmt: skip
ALLOWED_OWN = "pod_meta_exporter.domain"


def imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_the_domain_imports_no_io_and_no_outer_layer() -> None:
    modules = sorted(DOMAIN.glob("*.py"))
    assert len(modules) >= 6
    for path in modules:
        for module in imported_modules(path):
            top = module.split(".")[0]
            assert top not in FORBIDDEN, f"{path.name} imports {module}"
            if top == "pod_meta_exporter":
                assert module.startswith(ALLOWED_OWN), f"{path.name} imports {module}"
