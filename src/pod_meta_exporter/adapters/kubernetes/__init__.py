"""The Cluster port over the Kubernetes API: list+watch of a node's pods (and namespaces)."""

from pod_meta_exporter.adapters.kubernetes.cluster import KubernetesCluster
from pod_meta_exporter.adapters.kubernetes.config import load_endpoint
from pod_meta_exporter.adapters.kubernetes.endpoint import ConfigError, Endpoint
from pod_meta_exporter.adapters.kubernetes.settings import WatchSettings
from pod_meta_exporter.adapters.kubernetes.transport import ApiError, HttpTransport

__all__ = [
    "ApiError",
    "ConfigError",
    "Endpoint",
    "HttpTransport",
    "KubernetesCluster",
    "WatchSettings",
    "load_endpoint",
]
