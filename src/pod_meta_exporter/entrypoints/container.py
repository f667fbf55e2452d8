"""The composition root: one dependency-injector container that builds the exporter from settings.

Each provider calls a small typed factory below, so mypy checks every setting it reads; the
container keeps dependency-injector's overrides for tests and embedders
(`with container.cluster.override(FakeCluster()):`).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from dependency_injector import containers, providers

from pod_meta_exporter.adapters.clock import SystemClock
from pod_meta_exporter.adapters.kubernetes import config
from pod_meta_exporter.adapters.metrics import Metrics
from pod_meta_exporter.adapters.simulated import SimulatedCluster
from pod_meta_exporter.adapters.store import DirectoryStore
from pod_meta_exporter.domain.directory import MetaDirectory
from pod_meta_exporter.domain.metadata import KeyFilter, MetadataSelection
from pod_meta_exporter.entrypoints import identity
from pod_meta_exporter.entrypoints.http import HealthServer
from pod_meta_exporter.entrypoints.settings import Settings
from pod_meta_exporter.service.service import Service

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from pod_meta_exporter.domain.ports import Clock, Cluster, ContainerRuntime, MetaStore


def make_store(settings: Settings) -> DirectoryStore:
    return DirectoryStore(settings.destination_dir, file_mode=settings.file_mode, fsync=settings.fsync)


def cluster_kind(settings: Settings) -> str:
    """The Selector's key: which cluster provider builds the cluster."""
    return settings.cluster


def make_kubernetes_cluster(
    *, settings: Settings, metrics: Metrics, environ: Mapping[str, str], service_account_dir: Path
) -> Cluster:
    # Imported here so that the demo and --help never pay for urllib3 and TLS.
    from pod_meta_exporter.adapters.kubernetes import cluster, transport, watch_settings

    endpoint = config.load_endpoint(
        settings.kubeconfig, environ=environ, service_account_dir=service_account_dir
    )
    return cluster.KubernetesCluster(
        transport=transport.HttpTransport(endpoint, user_agent=identity.user_agent()),
        node_name=settings.node_name,
        namespace_metadata=settings.namespace_metadata,
        settings=watch_settings.WatchSettings(inactivity_timeout=settings.inactive_watch_timeout),
        metrics=metrics,
        profile=settings.content,
    )


def make_simulated_cluster(settings: Settings) -> SimulatedCluster:
    return SimulatedCluster(node_name=settings.node_name, namespace_metadata=settings.namespace_metadata)


def make_runtime(*, settings: Settings, metrics: Metrics) -> ContainerRuntime | None:
    if settings.cri_endpoint is None:
        return None
    # Imported here so that the default process never pays for grpcio and protobuf: about 20 MiB
    # of RSS (bench/RESULTS.md, section 7).
    from pod_meta_exporter.adapters.cri import runtime

    return runtime.CriRuntime(endpoint=settings.cri_endpoint, metrics=metrics)


def make_metadata(settings: Settings) -> MetadataSelection:
    return MetadataSelection(
        labels=KeyFilter(settings.labels_include, settings.labels_exclude),
        annotations=KeyFilter(settings.annotations_include, settings.annotations_exclude),
        last_applied_configuration=settings.keep_last_applied_configuration,
        workload_annotation=settings.workload_annotation,
    )


def make_directory(settings: Settings, metadata: MetadataSelection) -> MetaDirectory:
    return MetaDirectory(
        retention=settings.retention_period,
        profile=settings.content,
        metadata=metadata,
        namespace_metadata=settings.namespace_metadata,
        container_runtime=settings.cri_endpoint is not None,
    )


def make_service(
    *,
    directory: MetaDirectory,
    cluster: Cluster,
    store: MetaStore,
    clock: Clock,
    metrics: Metrics,
    runtime: ContainerRuntime | None,
) -> Service:
    return Service(
        directory=directory, cluster=cluster, store=store, clock=clock, metrics=metrics, runtime=runtime
    )


def make_http(*, settings: Settings, metrics: Metrics, service: Service) -> HealthServer:
    return HealthServer(
        listen=settings.listen, registry=metrics.registry, ready=service.ready, alive=service.alive
    )


class Container(containers.DeclarativeContainer):
    """Give it the settings, `Container(settings=...)`; everything else it builds when first asked."""

    settings = providers.Dependency(instance_of=Settings)
    # Where the kubernetes cluster looks for its API server: the process's own environment and
    # service account mount, unless a test gives others.
    environ = providers.Object(os.environ)
    service_account_dir = providers.Object(config.SERVICE_ACCOUNT_DIR)

    metrics = providers.Singleton(Metrics)
    clock = providers.Singleton(SystemClock)
    store = providers.Singleton(make_store, settings)
    cluster: providers.Provider[Cluster] = providers.Selector(
        providers.Callable(cluster_kind, settings),
        kubernetes=providers.Singleton(
            make_kubernetes_cluster,
            settings=settings,
            metrics=metrics,
            environ=environ,
            service_account_dir=service_account_dir,
        ),
        simulated=providers.Singleton(make_simulated_cluster, settings),
    )
    runtime = providers.Singleton(make_runtime, settings=settings, metrics=metrics)
    metadata = providers.Singleton(make_metadata, settings)
    directory = providers.Singleton(make_directory, settings, metadata)
    service = providers.Singleton(
        make_service,
        directory=directory,
        cluster=cluster,
        store=store,
        clock=clock,
        metrics=metrics,
        runtime=runtime,
    )
    http = providers.Singleton(make_http, settings=settings, metrics=metrics, service=service)
