"""The composition root: one dependency-injector container that builds the exporter from settings."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from dependency_injector import containers, providers

from pod_meta_exporter.adapters.clock import SystemClock
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

    from pod_meta_exporter.domain.ports import Cluster, ContainerRuntime


def _kubernetes_cluster(
    *, settings: Settings, metrics: Metrics, environ: Mapping[str, str], service_account_dir: Path
) -> Cluster:
    # Imported here so that the demo and --help never pay for urllib3 and TLS.
    from pod_meta_exporter.adapters import kubernetes

    endpoint = kubernetes.load_endpoint(
        settings.kubeconfig, environ=environ, service_account_dir=service_account_dir
    )
    return kubernetes.KubernetesCluster(
        transport=kubernetes.HttpTransport(endpoint, user_agent=identity.user_agent()),
        node_name=settings.node_name,
        namespace_metadata=settings.namespace_metadata,
        settings=kubernetes.WatchSettings(inactivity_timeout=settings.inactive_watch_timeout),
        metrics=metrics,
        profile=settings.content,
    )


def _runtime_on(settings: Settings) -> bool:
    return settings.cri_endpoint is not None


def _container_runtime(*, settings: Settings, metrics: Metrics) -> ContainerRuntime | None:
    if settings.cri_endpoint is None:
        return None
    # Imported here so that the default process never pays for grpcio and protobuf: about 20 MiB
    # of RSS (bench/RESULTS.md, section 7).
    from pod_meta_exporter.adapters.cri import runtime

    return runtime.CriRuntime(endpoint=settings.cri_endpoint, metrics=metrics)


def _service_account_dir() -> Path:
    from pod_meta_exporter.adapters.kubernetes import config

    return config.SERVICE_ACCOUNT_DIR


class Container(containers.DeclarativeContainer):
    """Give it the settings, `Container(settings=...)`; everything else it builds when first asked."""

    settings = providers.Dependency(instance_of=Settings)
    # Where the kubernetes cluster looks for its API server: the process's own environment and
    # service account mount, unless a test gives others.
    environ = providers.Object(os.environ)
    service_account_dir = providers.Callable(_service_account_dir)

    metrics = providers.Singleton(Metrics)
    clock = providers.Singleton(SystemClock)
    store = providers.Singleton(
        DirectoryStore,
        settings.provided.destination_dir,
        file_mode=settings.provided.file_mode,
        fsync=settings.provided.fsync,
    )
    cluster: providers.Provider[Cluster] = providers.Selector(
        settings.provided.cluster,
        kubernetes=providers.Singleton(
            _kubernetes_cluster,
            settings=settings,
            metrics=metrics,
            environ=environ,
            service_account_dir=service_account_dir,
        ),
        simulated=providers.Singleton(
            SimulatedCluster,
            node_name=settings.provided.node_name,
            namespace_metadata=settings.provided.namespace_metadata,
        ),
    )
    runtime = providers.Singleton(_container_runtime, settings=settings, metrics=metrics)
    metadata = providers.Singleton(
        MetadataSelection,
        labels=providers.Factory(
            KeyFilter, settings.provided.labels_include, settings.provided.labels_exclude
        ),
        annotations=providers.Factory(
            KeyFilter, settings.provided.annotations_include, settings.provided.annotations_exclude
        ),
        last_applied_configuration=settings.provided.keep_last_applied_configuration,
        workload_annotation=settings.provided.workload_annotation,
    )
    directory = providers.Singleton(
        MetaDirectory,
        retention=settings.provided.retention_period,
        profile=settings.provided.content,
        metadata=metadata,
        namespace_metadata=settings.provided.namespace_metadata,
        container_runtime=providers.Callable(_runtime_on, settings),
    )
    service = providers.Singleton(
        Service,
        directory=directory,
        cluster=cluster,
        store=store,
        clock=clock,
        metrics=metrics,
        runtime=runtime,
    )
    http = providers.Singleton(
        HealthServer,
        listen=settings.provided.listen,
        registry=metrics.provided.registry,
        ready=service.provided.ready,
        alive=service.provided.alive,
    )
