"""The README cannot drift: its tables are checked against the CLI, the metrics and the endpoints."""

from __future__ import annotations

import re
from pathlib import Path

from pod_meta_exporter.adapters.metrics import Metrics
from pod_meta_exporter.entrypoints import options, settings
from pod_meta_exporter.entrypoints.http import _Handler

README = (Path(__file__).parents[2] / "README.md").read_text()


def table_rows(heading: str) -> list[list[str]]:
    """The rows of the first table under the heading."""
    section = README.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    first_table = section[section.index("\n| ") :].split("\n\n", 1)[0]
    rows = [line for line in first_table.splitlines() if line.startswith("| ")][2:]
    return [[cell.strip().strip("`") for cell in row.strip("|").split(" | ")] for row in rows]


def test_the_configuration_table_lists_every_flag_variable_and_default() -> None:
    rows = {row[0]: row for row in table_rows("Configuration")}
    assert set(rows) == {option.flag for option in options.OPTIONS}
    for option in options.OPTIONS:
        _, env, default, _ = rows[option.flag]
        assert env == option.env
        assert default == (option.shown_default or option.default or "none")


def test_the_configuration_table_matches_the_flags_and_variables_that_help_shows() -> None:
    shown = settings.build_parser().format_help()
    flags = set(re.findall(r"(?<![\w-])--(?!no-|help|version)[a-z][a-z-]+", shown))
    variables = set(re.findall(r"EXPORTER_[A-Z_]+", shown.replace("-\n", "").replace("\n", " ")))
    rows = table_rows("Configuration")
    assert flags == {row[0] for row in rows}
    assert variables >= {row[1] for row in rows}


def test_the_metrics_table_lists_every_exported_metric() -> None:
    documented = {row[0]: row[1] for row in table_rows("Metrics")}
    exported = {
        (f"{family.name}_total" if family.type == "counter" else family.name): family.type
        for family in Metrics().registry.collect()
    }
    assert documented == exported


def test_the_endpoints_table_lists_every_route() -> None:
    assert [row[0] for row in table_rows("Endpoints")] == list(_Handler.routes)


def test_the_embedding_example_runs() -> None:
    section = README.split("\n## Embedding the core\n", 1)[1]
    (example,) = re.findall(r"```python\n(.*?)```", section.split("\n## ", 1)[0], flags=re.DOTALL)
    assert len(example.strip().splitlines()) <= 20
    exec(compile(example, "README.md#embedding-the-core", "exec"), {})


def test_the_readme_starts_with_the_two_commands() -> None:
    first_block = README.split("```sh\n", 1)[1].split("```", 1)[0]
    assert [line.split("#")[0].strip() for line in first_block.strip().splitlines()] == [
        "make demo",
        "make test",
    ]


def test_the_ci_script_runs_the_readmes_test_command() -> None:
    ci = (Path(__file__).parents[2] / ".ci" / "run").read_text()
    assert [line for line in ci.splitlines() if line and not line.startswith(("#", "set ", "cd "))] == [
        "make test"
    ]


ROOT = Path(__file__).parents[2]


def test_the_product_and_its_docs_point_only_inside_the_repository() -> None:
    """The Fluent Bit contract is docs/fluent-bit-contract.md: nothing the product ships, nor the
    README, may send a reader to a file beside the checkout that a user's clone does not have."""
    shipped = [*(ROOT / "src").rglob("*.py"), *(ROOT / "deploy").rglob("*.yaml"), ROOT / "README.md"]
    assert len(shipped) >= 40
    for path in shipped:
        text = path.read_text()
        assert "CONTRACT.md" not in text, path.name
        if path.suffix != ".md":  # the README may say where the tiers find the Fluent Bit binary
            assert "shared/" not in text, path.name
    for document in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]:
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", document.read_text()):
            assert (document.parent / target).exists(), f"{document.name} links to a missing {target}"


def test_the_architecture_section_names_every_file_of_the_package_and_no_other() -> None:
    section = README.split("\n## Architecture\n", 1)[1].split("\n## ", 1)[0]
    package = ROOT / "src" / "pod_meta_exporter"
    files = {
        path.relative_to(package).as_posix()
        for path in package.rglob("*")
        if path.suffix in {".py", ".pyi", ".proto"} and path.name != "__init__.py"
    }
    named: set[str] = set()
    folder = ""
    for row in section.splitlines()[1:]:
        if not row.startswith("| ") or row.startswith("| ---"):
            continue
        cells = row.strip("|").split(" | ")
        first = cells[0].strip()
        if first.startswith("**`"):  # a folder's heading, or a file at the package's root
            folder = first.strip("*`") if first.endswith("/`**") else ""
        subfolder = ""  # "kubernetes/versions.py, `backoff.py`": the names after it are in kubernetes/
        for cell in cells:
            for name in re.findall(r"`([\w/.]+\.(?:py|pyi|proto))`", cell):
                if "/" in name:
                    subfolder = name.rsplit("/", 1)[0] + "/"
                    named.add(folder + name)
                else:
                    named.add(folder + subfolder + name)
    assert files - named == set(), "files the README's architecture does not name"
    assert named - files == set(), "names in the README's architecture that are no file"
