"""Flags, EXPORTER_* variables and defaults, as compatible with the Go original, and bad values."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

import pod_meta_exporter
from pod_meta_exporter.domain.documents import DocumentProfile
from pod_meta_exporter.entrypoints import cli, identity, options, settings
from pod_meta_exporter.entrypoints.durations import format_duration, parse_duration


def load(*argv: str, **environ: str) -> settings.Settings:
    return settings.load(list(argv), environ, hostname="host-1")


def test_defaults_match_the_go_original() -> None:
    config = load()
    assert config.node_name == "host-1"
    assert config.destination_dir == Path("/var/kube_meta")
    assert config.retention_period == 60.0
    assert config.content is DocumentProfile.MINIMAL
    assert (config.namespace_metadata, config.fsync) == (False, False)
    assert config.file_mode == 0o644
    assert config.listen == ("0.0.0.0", 8080)
    assert (config.log_format, config.log_level, config.cluster) == ("json", "info", "kubernetes")
    assert config.kubeconfig is None
    assert config.cri_endpoint is None, "the container runtime is a source only when asked"


FLAGS = {
    "--node-name": ("node-7", "node_name", "node-7"),
    "--destination-dir": ("/tmp/meta", "destination_dir", Path("/tmp/meta")),
    "--retention-period": ("1h30m", "retention_period", 5400.0),
    "--kubeconfig": ("/etc/kube.conf", "kubeconfig", Path("/etc/kube.conf")),
    "--content": ("full", "content", DocumentProfile.FULL),
    "--file-mode": ("0640", "file_mode", 0o640),
    "--listen": ("127.0.0.1:9000", "listen", ("127.0.0.1", 9000)),
    "--log-format": ("text", "log_format", "text"),
    "--log-level": ("DEBUG", "log_level", "debug"),
    "--cluster": ("simulated", "cluster", "simulated"),
    "--inactive-watch-timeout": ("45s", "inactive_watch_timeout", 45.0),
    "--labels-include": ("app.kubernetes.io/*,team", "labels_include", ("app.kubernetes.io/*", "team")),
    "--labels-exclude": ("*hash*", "labels_exclude", ("*hash*",)),
    "--annotations-include": ("example.com/?d", "annotations_include", ("example.com/?d",)),
    "--annotations-exclude": (" a , b ,", "annotations_exclude", ("a", "b")),
    "--workload-annotation": ("example.com/workload", "workload_annotation", "example.com/workload"),
    "--cri-endpoint": (
        "unix:///run/containerd/containerd.sock",
        "cri_endpoint",
        "unix:///run/containerd/containerd.sock",
    ),
}


@pytest.mark.parametrize("flag", sorted(FLAGS))
def test_every_flag_and_its_variable_set_the_same_setting(flag: str) -> None:
    value, attribute, expected = FLAGS[flag]
    env = "EXPORTER_" + flag.removeprefix("--").replace("-", "_").upper()
    assert getattr(load(flag, value), attribute) == expected
    assert getattr(load(**{env: value}), attribute) == expected


@pytest.mark.parametrize("flag", ["--namespace-metadata", "--fsync", "--keep-last-applied-configuration"])
def test_boolean_flags_have_a_negative_form_and_a_variable(flag: str) -> None:
    attribute = flag.removeprefix("--").replace("-", "_")
    env = f"EXPORTER_{attribute.upper()}"
    assert getattr(load(flag), attribute) is True
    assert getattr(load(**{env: "true"}), attribute) is True
    assert getattr(load(**{env: "0"}), attribute) is False
    assert getattr(load(flag.replace("--", "--no-"), **{env: "true"}), attribute) is False


def test_a_flag_wins_over_its_variable_which_wins_over_the_default() -> None:
    assert load("--retention-period", "5m", EXPORTER_RETENTION_PERIOD="90s").retention_period == 300
    assert load(EXPORTER_RETENTION_PERIOD="90s").retention_period == 90


def test_selection_flags_can_be_repeated_and_each_value_can_hold_several_patterns() -> None:
    config = load("--labels-include", "a,b", "--labels-include", "c", EXPORTER_LABELS_INCLUDE="ignored")
    assert config.labels_include == ("a", "b", "c")


def test_the_selection_defaults_keep_every_key_but_last_applied_configuration_and_add_no_workload() -> None:
    config = load()
    assert (config.labels_include, config.labels_exclude) == ((), ())
    assert (config.annotations_include, config.annotations_exclude) == ((), ())
    assert config.keep_last_applied_configuration is False
    assert config.workload_annotation is None
    assert load(EXPORTER_WORKLOAD_ANNOTATION="").workload_annotation is None


def test_every_option_is_covered_here() -> None:
    booleans = {option.flag for option in options.OPTIONS if option.boolean}
    assert set(FLAGS) | booleans == {option.flag for option in options.OPTIONS}


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("300ms", 0.3),
        ("90s", 90),
        ("5m", 300),
        ("1h30m", 5400),
        ("1.5h", 5400),
        ("0", 0),
        ("2h0m0s", 7200),
        ("1m30.5s", 90.5),
        ("+5s", 5),
        ("100us", 1e-4),
        ("1µs", 1e-6),
        (".5s", 0.5),
    ],
)
def test_durations_use_go_syntax(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "5", "5x", "m", "1h 30m", "1d", "s5"])
def test_a_malformed_duration_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("seconds", "text"), [(60, "1m"), (5400, "1h30m"), (0, "0s"), (3601, "1h1s"), (0.5, "0.5s")]
)
def test_durations_are_shown_the_go_way(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize(
    ("argv", "environ", "message"),
    [
        (["--retention-period", "5x"], {}, "invalid --retention-period '5x'"),
        ([], {"EXPORTER_RETENTION_PERIOD": "soon"}, "invalid EXPORTER_RETENTION_PERIOD 'soon'"),
        (["--retention-period=-5s"], {}, "negative duration"),
        (["--file-mode", "0999"], {}, "invalid --file-mode '0999'"),
        (["--file-mode", "7777"], {}, "bits beyond 0777"),
        (["--file-mode", "0200"], {}, "lets nobody read the files"),
        ([], {"EXPORTER_LISTEN": "localhost"}, "invalid EXPORTER_LISTEN 'localhost'"),
        (["--listen", ":70000"], {}, "invalid --listen ':70000'"),
        (["--content", "everything"], {}, "invalid --content 'everything': invalid choice"),
        ([], {"EXPORTER_FSYNC": "maybe"}, "invalid EXPORTER_FSYNC 'maybe'"),
        (["--node-name", "Node_1"], {}, "invalid --node-name 'Node_1': node name"),
        (["--destination-dir", ""], {}, "invalid --destination-dir '': empty path"),
        (["--log-level", "loud"], {}, "invalid --log-level 'loud'"),
        (
            ["--labels-include", "app name"],
            {},
            "invalid --labels-include 'app name': 'app name' is not a key",
        ),
        ([], {"EXPORTER_ANNOTATIONS_EXCLUDE": "a,{b}"}, "invalid EXPORTER_ANNOTATIONS_EXCLUDE 'a,{b}'"),
        (["--workload-annotation=-bad"], {}, "invalid --workload-annotation '-bad': '-bad' is not a label"),
        (["--workload-annotation", "Example.com/w"], {}, "invalid --workload-annotation 'Example.com/w'"),
        (["--workload-annotation", "a/b/c"], {}, "invalid --workload-annotation 'a/b/c'"),
        (["--workload-annotation", "x" * 64], {}, "invalid --workload-annotation"),
        (["--cri-endpoint", "/run/containerd/containerd.sock"], {}, "is not a CRI endpoint: use unix:///"),
        ([], {"EXPORTER_CRI_ENDPOINT": "tcp://10.0.0.1:1234"}, "invalid EXPORTER_CRI_ENDPOINT"),
    ],
)
def test_a_bad_value_names_the_flag_or_variable_and_the_value(
    argv: list[str], environ: dict[str, str], message: str
) -> None:
    with pytest.raises(settings.SettingsError, match=message.replace("(", r"\(")):
        load(*argv, **environ)


def test_a_destination_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(settings.SettingsError, match="is not a directory"):
        load("--destination-dir", str(tmp_path / "file"))


def test_the_command_exits_2_with_one_line_and_no_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--retention-period", "forever"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("pod-meta-exporter: invalid --retention-period 'forever'")


def test_an_unknown_flag_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--no-such-flag"])
    assert exit_info.value.code == 2
    assert (
        capsys.readouterr().err == "pod-meta-exporter: unrecognized arguments: --no-such-flag (see --help)\n"
    )


def test_help_shows_every_flag_and_variable(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = capsys.readouterr().out
    for option in options.OPTIONS:
        assert option.flag in out
        assert option.env in out


def test_help_gives_the_node_names_default_once_and_the_same_way(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    shown = " ".join(capsys.readouterr().out.split())

    assert "[EXPORTER_NODE_NAME; default: the hostname]" in shown
    assert shown.count("hostname") == 1


def test_version_prints_the_user_agent_that_requests_carry(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["--version"])

    assert exited.value.code == 0
    printed = capsys.readouterr().out.strip()
    assert printed == identity.user_agent()
    assert re.fullmatch(
        rf"pod-meta-exporter/{re.escape(pod_meta_exporter.__version__)} \(linux/\w+\)", printed
    )


def test_the_effective_configuration_is_described_for_the_start_up_line() -> None:
    described = load("--retention-period", "90s", "--file-mode", "600").describe()
    assert described["retention_period"] == "1m30s"
    assert described["file_mode"] == "0600"
    assert described["kubeconfig"] == "in-cluster or KUBECONFIG"


def test_the_inactive_watch_timeout_defaults_to_the_adapters_derived_figure() -> None:
    from pod_meta_exporter.adapters.kubernetes import watch_settings

    assert watch_settings.INACTIVITY_TIMEOUT == 2.5 * watch_settings.BOOKMARK_PERIOD
    assert load().inactive_watch_timeout == watch_settings.INACTIVITY_TIMEOUT == 150.0
    assert load("--inactive-watch-timeout", "5s").inactive_watch_timeout == 5.0
    with pytest.raises(settings.SettingsError, match="--inactive-watch-timeout"):
        load("--inactive-watch-timeout", "0s")


def test_every_option_of_the_table_is_one_field_of_the_settings_in_the_same_order() -> None:
    """load() names each field by hand, so mypy checks its type; this holds the table and the
    fields together, so an option cannot be added without its field, nor a field without its flag."""
    fields = [field.name for field in dataclasses.fields(settings.Settings)]
    assert [option.dest for option in options.OPTIONS] == fields


def test_the_package_silences_no_type_error() -> None:
    """mypy --strict checks all of src/ (make typecheck); a `type: ignore` would hide what it found."""
    package = Path(pod_meta_exporter.__file__).parent
    marker = "type: " + "ignore"
    sources = [path for path in package.rglob("*.py*") if path.suffix in {".py", ".pyi"}]
    assert len(sources) >= 40
    assert [path.name for path in sources if marker in path.read_text()] == []
