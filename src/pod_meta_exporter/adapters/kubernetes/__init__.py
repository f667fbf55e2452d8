"""The Cluster port over the Kubernetes API: list+watch of a node's pods (and namespaces).

Read it from cluster.py (KubernetesCluster, one reflector thread per resource) down to
reflector.py (the list/watch protocol, top-down). This face imports nothing, so a caller that needs
one light module, such as watch_settings.py, pays for no urllib3 or TLS.
"""
