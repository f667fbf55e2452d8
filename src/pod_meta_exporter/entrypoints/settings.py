"""The exporter's settings: flags over EXPORTER_* variables over defaults, validated once, frozen."""

from __future__ import annotations

import argparse
import re
import socket
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pod_meta_exporter.domain import names
from pod_meta_exporter.domain.documents import DocumentProfile
from pod_meta_exporter.domain.metadata import LAST_APPLIED_CONFIGURATION
from pod_meta_exporter.entrypoints import identity
from pod_meta_exporter.entrypoints.durations import format_duration, parse_duration

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

DEFAULT_LISTEN = "0.0.0.0:8080"
# adapters/kubernetes/settings.py's INACTIVITY_TIMEOUT, where its reason is; repeated here so that
# --help needs no import of the adapter (urllib3, TLS), and checked equal by a unit test.
INACTIVITY_TIMEOUT = 150.0
LOG_LEVELS = ("debug", "info", "warning", "error")
_PERMISSION_BITS = 0o777


class SettingsError(ValueError):
    """A bad flag or variable; the message is the one line an operator sees."""


@dataclass(frozen=True, slots=True)
class Settings:
    node_name: str
    destination_dir: Path
    retention_period: float
    kubeconfig: Path | None
    content: DocumentProfile
    namespace_metadata: bool
    fsync: bool
    file_mode: int
    listen: tuple[str, int]
    log_format: str
    log_level: str
    cluster: str
    inactive_watch_timeout: float
    labels_include: tuple[str, ...]
    labels_exclude: tuple[str, ...]
    annotations_include: tuple[str, ...]
    annotations_exclude: tuple[str, ...]
    keep_last_applied_configuration: bool
    workload_annotation: str | None
    cri_endpoint: str | None

    def describe(self) -> dict[str, object]:
        """The effective configuration, as logged once at start."""
        return {
            "node_name": self.node_name,
            "destination_dir": str(self.destination_dir),
            "retention_period": format_duration(self.retention_period),
            "kubeconfig": str(self.kubeconfig) if self.kubeconfig else "in-cluster or KUBECONFIG",
            "content": self.content.value,
            "namespace_metadata": self.namespace_metadata,
            "fsync": self.fsync,
            "file_mode": f"{self.file_mode:04o}",
            "listen": f"{self.listen[0]}:{self.listen[1]}",
            "log_format": self.log_format,
            "log_level": self.log_level,
            "cluster": self.cluster,
            "inactive_watch_timeout": format_duration(self.inactive_watch_timeout),
            "labels_include": list(self.labels_include),
            "labels_exclude": list(self.labels_exclude),
            "annotations_include": list(self.annotations_include),
            "annotations_exclude": list(self.annotations_exclude),
            "keep_last_applied_configuration": self.keep_last_applied_configuration,
            "workload_annotation": self.workload_annotation,
            "cri_endpoint": self.cri_endpoint or "off",
        }


@dataclass(frozen=True, slots=True)
class Option:
    """One setting: its flag, its EXPORTER_* variable, its default and how to read it."""

    flag: str
    default: str | None
    help: str
    parse: Callable[[str], object]
    metavar: str | None = None
    choices: tuple[str, ...] | None = None
    boolean: bool = False
    repeatable: bool = False  # the flag may be given again; each value may hold several, comma-separated
    shown_default: str | None = None  # in --help, where the default is not a value

    @property
    def dest(self) -> str:
        return self.flag.removeprefix("--").replace("-", "_")

    @property
    def env(self) -> str:
        return f"EXPORTER_{self.dest.upper()}"


def _node_name(text: str) -> str:
    try:
        return names.check_pod_name(text)  # node names follow the same DNS-1123 subdomain rule
    except names.InvalidName as error:
        raise ValueError(str(error).replace("pod name", "node name")) from None


def _retention(text: str) -> float:
    seconds = parse_duration(text)
    if seconds < 0:
        msg = f"negative duration {text!r}"
        raise ValueError(msg)
    return seconds


def _positive_duration(text: str) -> float:
    seconds = parse_duration(text)
    if seconds <= 0:
        msg = f"{text!r} is not a positive duration"
        raise ValueError(msg)
    return seconds


def _directory(text: str) -> Path:
    if not text:
        msg = "empty path"
        raise ValueError(msg)
    path = Path(text)
    if path.exists() and not path.is_dir():
        msg = f"{text!r} exists and is not a directory"
        raise ValueError(msg)
    return path


def _file_mode(text: str) -> int:
    if not re.fullmatch(r"(0o?)?[0-7]{1,4}", text):
        msg = f"invalid file mode {text!r}: use octal such as 0644"
        raise ValueError(msg)
    mode = int(text.removeprefix("0o"), 8)
    if mode & ~_PERMISSION_BITS:
        msg = f"file mode {text!r} has bits beyond 0777"
        raise ValueError(msg)
    if not mode & 0o444:
        msg = f"file mode {text!r} lets nobody read the files"
        raise ValueError(msg)
    return mode


def _listen(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:  # noqa: PLR2004
        msg = f"invalid address {text!r}: use HOST:PORT or :PORT"
        raise ValueError(msg)
    return host.strip("[]") or "0.0.0.0", int(port)


def _boolean(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    msg = f"invalid boolean {text!r}: use true or false"
    raise ValueError(msg)


def _choice(choices: tuple[str, ...]) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text.lower() not in choices:
            msg = f"invalid choice {text!r}: use one of {', '.join(choices)}"
            raise ValueError(msg)
        return text.lower()

    return parse


def _optional_path(text: str) -> Path | None:
    return Path(text) if text else None


# A label or annotation key: an optional DNS-subdomain prefix and '/', then a name of up to 63
# characters, alphanumerics at both ends and '-', '_' or '.' inside.
_KEY_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
_KEY = re.compile(rf"([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?{_KEY_NAME}")
_MAX_PREFIX = 253


def _key(text: str) -> str:
    prefix, _, _ = text.rpartition("/")
    if not _KEY.fullmatch(text) or len(prefix) > _MAX_PREFIX:
        msg = f"{text!r} is not a label or annotation key (such as example.com/team or team)"
        raise ValueError(msg)
    return text


def _key_patterns(text: str) -> tuple[str, ...]:
    """Comma-separated glob patterns on keys: '*' any run of characters, '?' one."""
    patterns = tuple(part.strip() for part in text.split(",") if part.strip())
    for pattern in patterns:
        if not re.fullmatch(r"[-A-Za-z0-9_./*?]+", pattern):
            msg = f"{pattern!r} is not a key pattern: use key characters with * and ?"
            raise ValueError(msg)
    return patterns


def _optional_key(text: str) -> str | None:
    return _key(text) if text else None


def _cri_endpoint(text: str) -> str | None:
    """A CRI socket as the kubelet names it: unix:// and an absolute path."""
    if not text:
        return None
    if not text.startswith("unix:///") or "\0" in text:
        msg = f"{text!r} is not a CRI endpoint: use unix:///run/containerd/containerd.sock or the like"
        raise ValueError(msg)
    return text


OPTIONS: tuple[Option, ...] = (
    Option(
        "--node-name", None, "Node whose pods are exported.", _node_name, "NAME", shown_default="the hostname"
    ),
    Option(
        "--destination-dir", "/var/kube_meta", "Fluent Bit's Kube_meta_preload_cache_dir.", _directory, "DIR"
    ),
    Option(
        "--retention-period",
        "1m",
        "How long a deleted pod's file is kept, in Go syntax: 90s, 5m, 1h30m.",
        _retention,
        "DURATION",
    ),
    Option(
        "--kubeconfig",
        "",
        "Kubeconfig file; else in-cluster config, else KUBECONFIG.",
        _optional_path,
        "FILE",
    ),
    Option(
        "--content",
        "minimal",
        "minimal: only the fields Fluent Bit reads (no env values reach the disk); full: the whole object.",
        lambda text: DocumentProfile(_choice(("minimal", "full"))(text)),
        choices=("minimal", "full"),
    ),
    Option(
        "--namespace-metadata",
        "false",
        "Also write <namespace>.namespace_meta (needs list/watch on namespaces).",
        _boolean,
        boolean=True,
    ),
    Option("--fsync", "false", "fsync each file and the directory after a write.", _boolean, boolean=True),
    Option("--file-mode", "0644", "Mode of the files written, in octal.", _file_mode, "MODE"),
    Option("--listen", DEFAULT_LISTEN, "Address for /healthz, /readyz and /metrics.", _listen, "HOST:PORT"),
    Option(
        "--log-format",
        "json",
        "Log lines as JSON or text.",
        _choice(("json", "text")),
        choices=("json", "text"),
    ),
    Option("--log-level", "info", "Lowest level logged.", _choice(LOG_LEVELS), choices=LOG_LEVELS),
    Option(
        "--cluster",
        "kubernetes",
        "kubernetes: the real API; simulated: a built-in busy node, for the demo.",
        _choice(("kubernetes", "simulated")),
        choices=("kubernetes", "simulated"),
    ),
    Option(
        "--inactive-watch-timeout",
        format_duration(INACTIVITY_TIMEOUT),
        "A watch silent this long (no event, no bookmark) is dead: watch again.",
        _positive_duration,
        "DURATION",
    ),
    Option(
        "--labels-include",
        "",
        "Keep only labels whose key matches one of these globs (* and ?); repeatable or comma-separated.",
        _key_patterns,
        "GLOB",
        repeatable=True,
        shown_default="all",
    ),
    Option(
        "--labels-exclude",
        "",
        "Then drop labels whose key matches one of these globs.",
        _key_patterns,
        "GLOB",
        repeatable=True,
    ),
    Option(
        "--annotations-include",
        "",
        "Keep only annotations whose key matches one of these globs; fluentbit.io/parser* and "
        "fluentbit.io/exclude* are always kept.",
        _key_patterns,
        "GLOB",
        repeatable=True,
        shown_default="all",
    ),
    Option(
        "--annotations-exclude",
        "",
        "Then drop annotations whose key matches one of these globs.",
        _key_patterns,
        "GLOB",
        repeatable=True,
    ),
    Option(
        "--keep-last-applied-configuration",
        "false",
        f"Keep the {LAST_APPLIED_CONFIGURATION} annotation, which can hold a whole pod spec with env values.",
        _boolean,
        boolean=True,
    ),
    Option(
        "--workload-annotation",
        "",
        "Add the annotation KEY: <Kind>/<name> of each pod's workload (Deployment, CronJob, ...).",
        _optional_key,
        "KEY",
    ),
    Option(
        "--cri-endpoint",
        "",
        "The node's container runtime socket, as a second source: each new container's ID and image "
        "are written before the kubelet reports them. Needs the socket mounted (see the README).",
        _cri_endpoint,
        "unix:///PATH",
        shown_default="off",
    ),
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> typing.NoReturn:
        """One line, no usage block: the operator reads it in `kubectl logs`."""
        self.exit(2, f"{self.prog}: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="pod-meta-exporter",
        description="Keeps Fluent Bit's metadata preload directory exact for the pods of one node.",
        epilog="Every flag can also be set with its EXPORTER_* variable; a flag wins over its variable.",
    )
    parser.add_argument("--version", action="version", version=identity.user_agent())
    for option in OPTIONS:
        shown = option.shown_default or option.default or "none"
        help_text = f"{option.help} [{option.env}; default: {shown}]"
        if option.boolean:
            parser.add_argument(
                option.flag,
                dest=option.dest,
                action=argparse.BooleanOptionalAction,
                default=None,
                help=help_text,
            )
        elif option.repeatable:
            parser.add_argument(
                option.flag,
                dest=option.dest,
                action="append",
                default=None,
                metavar=option.metavar,
                help=help_text,
            )
        else:
            parser.add_argument(
                option.flag,
                dest=option.dest,
                default=None,
                metavar=option.metavar,
                choices=None,
                help=help_text + (f" ({'|'.join(option.choices)})" if option.choices else ""),
            )
    return parser


def load(argv: list[str], environ: Mapping[str, str], *, hostname: str | None = None) -> Settings:
    """Read flags, then EXPORTER_* variables, then defaults; raise SettingsError naming the culprit."""
    args = build_parser().parse_args(argv)
    values: dict[str, object] = {}
    for option in OPTIONS:
        given = getattr(args, option.dest)
        raw: str | None
        if isinstance(given, list):  # a repeatable flag, once or more
            raw, source = ",".join(given), option.flag
        elif given is not None:
            raw, source = ("true" if given is True else "false" if given is False else given), option.flag
        elif option.env in environ:
            raw, source = environ[option.env], option.env
        else:
            raw, source = option.default, "default"
            if raw is None:  # only --node-name
                raw = hostname if hostname is not None else socket.gethostname()
        try:
            values[option.dest] = option.parse(raw or "")
        except ValueError as error:
            where = option.flag if source == "default" else source
            msg = f"invalid {where} {raw!r}: {error}" if source != "default" else f"invalid default: {error}"
            raise SettingsError(msg) from None
    return Settings(**values)  # type: ignore[arg-type]
