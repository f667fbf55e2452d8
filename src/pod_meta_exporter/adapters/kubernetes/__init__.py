"""The Cluster port over the Kubernetes API: list+watch of a node's pods (and namespaces)."""

from pod_meta_exporter.adapters.kubernetes.cluster import KubernetesCluster
from pod_meta_exporter.adapters.kubernetes.config import ConfigError, load_api_client
from pod_meta_exporter.adapters.kubernetes.settings import WatchSettings

__all__ = ["ConfigError", "KubernetesCluster", "WatchSettings", "load_api_client"]
