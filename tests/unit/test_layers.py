"""The layering and the pure domain, read from the import-linter contracts in pyproject.toml and
checked again here from each module's own imports."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path
from typing import Any

import pod_meta_exporter

PACKAGE = Path(pod_meta_exporter.__file__).parent
CONTRACTS: list[dict[str, Any]] = tomllib.loads((PACKAGE.parents[1] / "pyproject.toml").read_text())["tool"][
    "importlinter"
]["contracts"]


def contract(kind: str, *, about: str = "") -> dict[str, Any]:
    (found,) = (c for c in CONTRACTS if c["type"] == kind and about in c["name"])
    return found


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(source: str, module: str) -> set[str]:
    """The absolute names of what `module` (a package's name for its __init__) imports, its relative
    imports resolved."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.rsplit(".", node.level)[0]
                found.add(f"{base}.{node.module}" if node.module else base)
            elif node.module:
                found.add(node.module)
    return found


def imports_of(path: Path) -> set[str]:
    name = module_name(path)
    return imported_modules(path.read_text(), f"{name}.__init__" if path.name == "__init__.py" else name)


def modules_under(package: str) -> list[Path]:
    return sorted((PACKAGE.parent / package.replace(".", "/")).rglob("*.py"))


def test_the_domain_imports_no_io_no_framework_and_no_outer_layer() -> None:
    forbidden = contract("forbidden", about="domain")
    (domain,) = forbidden["source_modules"]
    modules = modules_under(domain)
    assert len(modules) >= 6
    for path in modules:
        for module in imports_of(path):
            top = module.split(".")[0]
            assert top not in forbidden["forbidden_modules"], f"{path.name} imports {module}"
            if top == PACKAGE.name:
                assert module.startswith(domain), f"{path.name} imports {module}"


def test_each_layer_imports_only_itself_and_the_layers_below() -> None:
    # import-linter's syntax: "a | b" are layers side by side that may not import each other.
    layers = [[name.strip() for name in layer.split("|")] for layer in contract("layers")["layers"]]
    assert sum(map(len, layers)) == 4
    for index, siblings in enumerate(layers):
        for layer in siblings:
            above = [name for outer in layers[:index] for name in outer]
            barred = above + [sibling for sibling in siblings if sibling != layer]
            for path in modules_under(layer):
                for module in imports_of(path):
                    assert not any(module == other or module.startswith(f"{other}.") for other in barred), (
                        f"{module_name(path)} imports {module}, from a layer above or beside {layer}"
                    )


def test_relative_imports_are_read_as_the_modules_they_name() -> None:
    source = "from ..adapters import store\nfrom . import names\nimport os\n"
    found = imported_modules(source, "pod_meta_exporter.domain.relative")
    assert found == {"pod_meta_exporter.adapters", "pod_meta_exporter.domain", "os"}


def test_the_product_imports_its_test_doubles_only_through_the_deprecated_aliases() -> None:
    rule = contract("forbidden", about="test doubles")
    (testing,) = rule["forbidden_modules"]
    allowed = {tuple(part.strip() for part in line.split("->")) for line in rule["ignore_imports"]}
    checked = 0
    for layer in rule["source_modules"]:
        for path in modules_under(layer):
            checked += 1
            for module in imports_of(path):
                if module == testing or module.startswith(f"{testing}."):
                    assert (module_name(path), testing) in allowed, f"{module_name(path)} imports {module}"
    assert checked >= 30


def test_no_two_files_of_the_package_share_a_name() -> None:
    """A reader finds a room by its name: two cluster.py, or two settings.py, send them to the wrong one."""
    seen: dict[str, Path] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "__init__.py":  # a package's face, named by its folder
            continue
        assert path.name not in seen, (
            f"{path.relative_to(PACKAGE)} and {seen[path.name].relative_to(PACKAGE)}"
        )
        seen[path.name] = path
    assert len(seen) >= 30


def test_the_tests_take_doubles_of_the_package_only_from_its_documented_testing_module() -> None:
    from pod_meta_exporter import testing

    documented = set(testing.__all__)
    assert documented <= set((testing.__doc__ or "").replace(":", " ").split())
    tests = PACKAGE.parents[1] / "tests"
    for path in sorted(tests.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.ImportFrom) and (node.module or "").startswith(PACKAGE.name)):
                continue
            for alias in node.names:
                if alias.name.startswith(("Fake", "Memory", "Stub", "Mock")):
                    assert node.module == testing.__name__, (
                        f"{path.name} imports {alias.name} from {node.module}"
                    )
                    assert alias.name in documented, f"{path.name} imports an undocumented {alias.name}"
