"""The exporter's settings: flags over EXPORTER_* variables over defaults, validated once, frozen.

The options themselves, with their defaults and help, are the table in options.py; how each
text becomes a value is values.py.
"""

from __future__ import annotations

import argparse
import socket
import typing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from pod_meta_exporter.entrypoints import identity, options
from pod_meta_exporter.entrypoints.durations import format_duration

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from pod_meta_exporter.domain.documents import DocumentProfile

Value = TypeVar("Value")


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
    for option in options.OPTIONS:
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
    read = _Reader(build_parser().parse_args(argv), environ, hostname=hostname)
    return Settings(
        node_name=read(options.NODE_NAME),
        destination_dir=read(options.DESTINATION_DIR),
        retention_period=read(options.RETENTION_PERIOD),
        kubeconfig=read(options.KUBECONFIG),
        content=read(options.CONTENT),
        namespace_metadata=read(options.NAMESPACE_METADATA),
        fsync=read(options.FSYNC),
        file_mode=read(options.FILE_MODE),
        listen=read(options.LISTEN),
        log_format=read(options.LOG_FORMAT),
        log_level=read(options.LOG_LEVEL),
        cluster=read(options.CLUSTER),
        inactive_watch_timeout=read(options.INACTIVE_WATCH_TIMEOUT),
        labels_include=read(options.LABELS_INCLUDE),
        labels_exclude=read(options.LABELS_EXCLUDE),
        annotations_include=read(options.ANNOTATIONS_INCLUDE),
        annotations_exclude=read(options.ANNOTATIONS_EXCLUDE),
        keep_last_applied_configuration=read(options.KEEP_LAST_APPLIED_CONFIGURATION),
        workload_annotation=read(options.WORKLOAD_ANNOTATION),
        cri_endpoint=read(options.CRI_ENDPOINT),
    )


class _Reader:
    """Reads one option's value: its flag if given, else its variable, else its default."""

    def __init__(self, args: argparse.Namespace, environ: Mapping[str, str], *, hostname: str | None) -> None:
        self._args = args
        self._environ = environ
        self._hostname = hostname

    def __call__(self, option: options.Option[Value]) -> Value:
        raw, source = self._raw(option)
        try:
            return option.parse(raw)
        except ValueError as error:
            where = "default" if source == "default" else f"{source} {raw!r}"
            msg = f"invalid {where}: {error}"
            raise SettingsError(msg) from None

    def _raw(self, option: options.Option[Any]) -> tuple[str, str]:
        """The text to read, and where it came from: the flag, the variable, or "default"."""
        given = getattr(self._args, option.dest)
        if isinstance(given, list):  # a repeatable flag, once or more
            return ",".join(given), option.flag
        if isinstance(given, bool):
            return ("true" if given else "false"), option.flag
        if given is not None:
            return given, option.flag
        if option.env in self._environ:
            return self._environ[option.env], option.env
        if option.default is not None:
            return option.default, "default"
        # Only --node-name has no default: the host's name, as the kubelet's own default.
        return (self._hostname if self._hostname is not None else socket.gethostname()), "default"
