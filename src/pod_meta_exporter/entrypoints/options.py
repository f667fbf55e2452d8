"""The option table: every setting's flag, EXPORTER_* variable, default, help and reader."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pod_meta_exporter.adapters.kubernetes.watch_settings import INACTIVITY_TIMEOUT
from pod_meta_exporter.domain.metadata import LAST_APPLIED_CONFIGURATION
from pod_meta_exporter.entrypoints import values
from pod_meta_exporter.entrypoints.durations import format_duration

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from pod_meta_exporter.domain.documents import DocumentProfile

Value = TypeVar("Value")

DEFAULT_LISTEN = "0.0.0.0:8080"
LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_FORMATS = ("json", "text")
CLUSTERS = ("kubernetes", "simulated")
PROFILES = ("minimal", "full")


@dataclass(frozen=True, slots=True)
class Option(Generic[Value]):
    """One setting: its flag, its EXPORTER_* variable, its default and how to read it."""

    flag: str
    default: str | None
    help: str
    parse: Callable[[str], Value]
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


NODE_NAME: Option[str] = Option(
    "--node-name",
    None,
    "Node whose pods are exported.",
    values.node_name,
    "NAME",
    shown_default="the hostname",
)
DESTINATION_DIR: Option[Path] = Option(
    "--destination-dir",
    "/var/kube_meta",
    "Fluent Bit's Kube_meta_preload_cache_dir.",
    values.directory,
    "DIR",
)
RETENTION_PERIOD: Option[float] = Option(
    "--retention-period",
    "1m",
    "How long a deleted pod's file is kept, in Go syntax: 90s, 5m, 1h30m.",
    values.retention,
    "DURATION",
)
KUBECONFIG: Option[Path | None] = Option(
    "--kubeconfig",
    "",
    "Kubeconfig file; else in-cluster config, else KUBECONFIG.",
    values.optional_path,
    "FILE",
)
CONTENT: Option[DocumentProfile] = Option(
    "--content",
    "minimal",
    "minimal: only the fields Fluent Bit reads (no env values reach the disk); full: the whole object.",
    values.content,
    choices=PROFILES,
)
NAMESPACE_METADATA: Option[bool] = Option(
    "--namespace-metadata",
    "false",
    "Also write <namespace>.namespace_meta (needs list/watch on namespaces).",
    values.boolean,
    boolean=True,
)
FSYNC: Option[bool] = Option(
    "--fsync", "false", "fsync each file and the directory after a write.", values.boolean, boolean=True
)
FILE_MODE: Option[int] = Option(
    "--file-mode", "0644", "Mode of the files written, in octal.", values.file_mode, "MODE"
)
LISTEN: Option[tuple[str, int]] = Option(
    "--listen", DEFAULT_LISTEN, "Address for /healthz, /readyz and /metrics.", values.listen, "HOST:PORT"
)
LOG_FORMAT: Option[str] = Option(
    "--log-format", "json", "Log lines as JSON or text.", values.choice(LOG_FORMATS), choices=LOG_FORMATS
)
LOG_LEVEL: Option[str] = Option(
    "--log-level", "info", "Lowest level logged.", values.choice(LOG_LEVELS), choices=LOG_LEVELS
)
CLUSTER: Option[str] = Option(
    "--cluster",
    "kubernetes",
    "kubernetes: the real API; simulated: a built-in busy node, for the demo.",
    values.choice(CLUSTERS),
    choices=CLUSTERS,
)
INACTIVE_WATCH_TIMEOUT: Option[float] = Option(
    "--inactive-watch-timeout",
    format_duration(INACTIVITY_TIMEOUT),
    "A watch silent this long (no event, no bookmark) is dead: watch again.",
    values.positive_duration,
    "DURATION",
)
LABELS_INCLUDE: Option[tuple[str, ...]] = Option(
    "--labels-include",
    "",
    "Keep only labels whose key matches one of these globs (* and ?); repeatable or comma-separated.",
    values.key_patterns,
    "GLOB",
    repeatable=True,
    shown_default="all",
)
LABELS_EXCLUDE: Option[tuple[str, ...]] = Option(
    "--labels-exclude",
    "",
    "Then drop labels whose key matches one of these globs.",
    values.key_patterns,
    "GLOB",
    repeatable=True,
)
ANNOTATIONS_INCLUDE: Option[tuple[str, ...]] = Option(
    "--annotations-include",
    "",
    "Keep only annotations whose key matches one of these globs; fluentbit.io/parser* and "
    "fluentbit.io/exclude* are always kept.",
    values.key_patterns,
    "GLOB",
    repeatable=True,
    shown_default="all",
)
ANNOTATIONS_EXCLUDE: Option[tuple[str, ...]] = Option(
    "--annotations-exclude",
    "",
    "Then drop annotations whose key matches one of these globs.",
    values.key_patterns,
    "GLOB",
    repeatable=True,
)
KEEP_LAST_APPLIED_CONFIGURATION: Option[bool] = Option(
    "--keep-last-applied-configuration",
    "false",
    f"Keep the {LAST_APPLIED_CONFIGURATION} annotation, which can hold a whole pod spec with env values.",
    values.boolean,
    boolean=True,
)
WORKLOAD_ANNOTATION: Option[str | None] = Option(
    "--workload-annotation",
    "",
    "Add the annotation KEY: <Kind>/<name> of each pod's workload (Deployment, CronJob, ...).",
    values.optional_key,
    "KEY",
)
CRI_ENDPOINT: Option[str | None] = Option(
    "--cri-endpoint",
    "",
    "The node's container runtime socket, as a second source: each new container's ID and image "
    "are written before the kubelet reports them. Needs the socket mounted (see the README).",
    values.cri_endpoint,
    "unix:///PATH",
    shown_default="off",
)

# In --help's order.
OPTIONS: tuple[Option[Any], ...] = (
    NODE_NAME,
    DESTINATION_DIR,
    RETENTION_PERIOD,
    KUBECONFIG,
    CONTENT,
    NAMESPACE_METADATA,
    FSYNC,
    FILE_MODE,
    LISTEN,
    LOG_FORMAT,
    LOG_LEVEL,
    CLUSTER,
    INACTIVE_WATCH_TIMEOUT,
    LABELS_INCLUDE,
    LABELS_EXCLUDE,
    ANNOTATIONS_INCLUDE,
    ANNOTATIONS_EXCLUDE,
    KEEP_LAST_APPLIED_CONFIGURATION,
    WORKLOAD_ANNOTATION,
    CRI_ENDPOINT,
)
