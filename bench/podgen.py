"""Realistic pod documents for the benchmarks: 5-20 KB each, with managedFields, several containers,
labels, annotations and container statuses, as a busy cluster's API server serves them."""

from __future__ import annotations

import json
import random
from typing import Any


def pod(index: int, *, node: str = "bench-node", rng: random.Random) -> dict[str, Any]:
    containers = rng.randint(2, 5)
    name = f"worker-{index:05d}-{rng.randrange(16**5):05x}"
    uid = f"{rng.getrandbits(128):032x}"
    uid = f"{uid[:8]}-{uid[8:12]}-{uid[12:16]}-{uid[16:20]}-{uid[20:]}"
    labels = {f"app.kubernetes.io/{key}": f"{key}-{index % 17}" for key in ("name", "instance", "part-of")}
    labels |= {"pod-template-hash": f"{rng.randrange(16**10):010x}", "tier": rng.choice(["web", "batch"])}
    annotations = {
        "fluentbit.io/parser": "json",
        "prometheus.io/scrape": "true",
        "prometheus.io/port": "9102",
        "kubectl.kubernetes.io/restartedAt": "2026-11-27T10:00:00Z",
        "checksum/config": f"{rng.getrandbits(256):064x}",
    }
    specs, statuses = [], []
    for c in range(containers):
        image = f"registry.example.com/team-{c}/service-{index % 9}:v1.{c}.{index % 23}"
        specs.append(
            {
                "name": f"c{c}",
                "image": image,
                "command": ["/bin/server"],
                "args": ["--port=8080", f"--shard={c}", "--log-format=json"],
                "ports": [{"name": "http", "containerPort": 8080 + c, "protocol": "TCP"}],
                "env": [
                    {"name": f"VAR_{e}", "value": f"value-{rng.getrandbits(64):016x}"} for e in range(12)
                ],
                "resources": {
                    "limits": {"cpu": "500m", "memory": "256Mi"},
                    "requests": {"cpu": "100m", "memory": "128Mi"},
                },
                "volumeMounts": [
                    {
                        "name": "kube-api-access",
                        "readOnly": True,
                        "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
                    }
                ],
                "livenessProbe": {
                    "httpGet": {"path": "/healthz", "port": 8080 + c, "scheme": "HTTP"},
                    "timeoutSeconds": 1,
                    "periodSeconds": 10,
                    "successThreshold": 1,
                    "failureThreshold": 3,
                },
                "terminationMessagePath": "/dev/termination-log",
                "terminationMessagePolicy": "File",
                "imagePullPolicy": "IfNotPresent",
            }
        )
        statuses.append(
            {
                "name": f"c{c}",
                "state": {"running": {"startedAt": "2026-11-27T10:00:05Z"}},
                "lastState": {},
                "ready": True,
                "restartCount": 0,
                "image": image,
                "imageID": f"{image.split(':', maxsplit=1)[0]}@sha256:{rng.getrandbits(256):064x}",
                "containerID": f"containerd://{rng.getrandbits(256):064x}",
                "started": True,
            }
        )
    managed: list[dict[str, Any]] = [
        {
            "manager": manager,
            "operation": "Update",
            "apiVersion": "v1",
            "time": "2026-11-27T10:00:05Z",
            "fieldsType": "FieldsV1",
            "fieldsV1": {
                "f:metadata": {"f:labels": {f"f:{k}": {} for k in labels}},
                "f:spec": {
                    f'k:{{"name":"c{c}"}}': {".": {}, "f:image": {}, "f:env": {}} for c in range(containers)
                },
            },
        }
        for manager in ("kube-controller-manager", "kubelet")
    ]
    return {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {
            "name": name,
            "generateName": name[:-5],
            "namespace": f"team-{index % 7}",
            "uid": uid,
            "resourceVersion": str(1000 + index),
            "creationTimestamp": "2026-11-27T10:00:00Z",
            "labels": labels,
            "annotations": annotations,
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": name[:-6],
                    "uid": f"{rng.getrandbits(128):032x}",
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
            "managedFields": managed,
        },
        "spec": {
            "volumes": [
                {
                    "name": "kube-api-access",
                    "projected": {
                        "sources": [{"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}}],
                        "defaultMode": 420,
                    },
                }
            ],
            "containers": specs,
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30,
            "dnsPolicy": "ClusterFirst",
            "serviceAccountName": "default",
            "nodeName": node,
            "securityContext": {},
            "schedulerName": "default-scheduler",
            "tolerations": [
                {
                    "key": "node.kubernetes.io/not-ready",
                    "operator": "Exists",
                    "effect": "NoExecute",
                    "tolerationSeconds": 300,
                }
            ],
            "priority": 0,
            "enableServiceLinks": True,
            "preemptionPolicy": "PreemptLowerPriority",
        },
        "status": {
            "phase": "Running",
            "conditions": [
                {
                    "type": t,
                    "status": "True",
                    "lastProbeTime": None,
                    "lastTransitionTime": "2026-11-27T10:00:05Z",
                }
                for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")
            ],
            "hostIP": "10.0.3.17",
            "hostIPs": [{"ip": "10.0.3.17"}],
            "podIP": f"10.244.{index % 250}.{index % 200 + 2}",
            "podIPs": [{"ip": "10.244.0.2"}],
            "startTime": "2026-11-27T10:00:00Z",
            "containerStatuses": statuses,
            "qosClass": "Burstable",
        },
    }


def watch_lines(count: int, *, seed: int = 1, pods: int = 200) -> list[bytes]:
    """`count` MODIFIED watch lines over `pods` pods; each changes a label, so every one is a write."""
    rng = random.Random(seed)
    objects = [pod(i, rng=rng) for i in range(pods)]
    lines = []
    for n in range(count):
        obj = objects[n % pods]
        obj["metadata"]["resourceVersion"] = str(100000 + n)
        obj["metadata"]["labels"]["revision"] = str(n)
        lines.append(json.dumps({"type": "MODIFIED", "object": obj}, separators=(",", ":")).encode())
    return lines
