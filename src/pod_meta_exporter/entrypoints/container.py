"""The composition root: one dependency-injector container that builds the exporter from settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dependency_injector import containers, providers

from pod_meta_exporter.adapters.clock import SystemClock
from pod_meta_exporter.adapters.cluster import SimulatedCluster
from pod_meta_exporter.adapters.metrics import Metrics
from pod_meta_exporter.adapters.store import DirectoryStore
from pod_meta_exporter.domain.directory import MetaDirectory
from pod_meta_exporter.domain.metadata import KeyFilter, MetadataSelection
from pod_meta_exporter.entrypoints import identity
from pod_meta_exporter.entrypoints.http import HealthServer
from pod_meta_exporter.service.runner import Service

if TYPE_CHECKING:
    from pod_meta_exporter.domain.documents import DocumentProfile


def _kubernetes_cluster(
    *,
    kubeconfig: object,
    node_name: str,
    namespace_metadata: bool,
    profile: DocumentProfile,
    inactivity_timeout: float,
    metrics: Metrics,
) -> object:
    # Imported here so that the demo and --help never pay for urllib3 and TLS.
    from pod_meta_exporter.adapters import kubernetes

    endpoint = kubernetes.load_endpoint(kubeconfig)  # type: ignore[arg-type]
    return kubernetes.KubernetesCluster(
        transport=kubernetes.HttpTransport(endpoint, user_agent=identity.user_agent()),
        node_name=node_name,
        namespace_metadata=namespace_metadata,
        settings=kubernetes.WatchSettings(inactivity_timeout=inactivity_timeout),
        metrics=metrics,
        profile=profile,
    )


class Container(containers.DeclarativeContainer):
    config = providers.Configuration(strict=True)

    metrics = providers.Singleton(Metrics)
    clock = providers.Singleton(SystemClock)
    store = providers.Singleton(
        DirectoryStore, config.destination_dir, file_mode=config.file_mode, fsync=config.fsync
    )
    cluster = providers.Selector(
        config.cluster,
        kubernetes=providers.Singleton(
            _kubernetes_cluster,
            kubeconfig=config.kubeconfig,
            node_name=config.node_name,
            namespace_metadata=config.namespace_metadata,
            profile=config.content,
            inactivity_timeout=config.inactive_watch_timeout,
            metrics=metrics,
        ),
        simulated=providers.Singleton(
            SimulatedCluster, node_name=config.node_name, namespace_metadata=config.namespace_metadata
        ),
    )
    metadata = providers.Singleton(
        MetadataSelection,
        labels=providers.Factory(KeyFilter, config.labels_include, config.labels_exclude),
        annotations=providers.Factory(KeyFilter, config.annotations_include, config.annotations_exclude),
        last_applied_configuration=config.keep_last_applied_configuration,
        workload_annotation=config.workload_annotation,
    )
    directory = providers.Singleton(
        MetaDirectory,
        retention=config.retention_period,
        profile=config.content,
        metadata=metadata,
        namespace_metadata=config.namespace_metadata,
    )
    service = providers.Singleton(
        Service, directory=directory, cluster=cluster, store=store, clock=clock, metrics=metrics
    )
    http = providers.Singleton(
        HealthServer,
        listen=config.listen,
        registry=metrics.provided.registry,
        ready=service.provided.ready,
        alive=service.provided.alive,
    )
