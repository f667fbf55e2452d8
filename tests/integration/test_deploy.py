"""Rules for deploy/: the manifests render with kustomize, and wire Fluent Bit to the exporter as
docs/fluent-bit-contract.md requires."""

from __future__ import annotations

import fnmatch
import ipaddress
import re
import urllib.parse
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from e2e import harness
from pod_meta_exporter.entrypoints import options, settings
from support import manifests
from support.manifests import (
    BASE_DIR,
    CONTAINER_RUNTIME_DIR,
    DEPLOY_DIR,
    E2E_OVERLAY_DIR,
    HELM_CONTAINER_RUNTIME_VALUES,
    HELM_VALUES,
    NAMESPACE_METADATA_DIR,
    REPO,
)

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

pytestmark = pytest.mark.integration

KUSTOMIZATIONS = {
    "base": BASE_DIR,
    "namespace-metadata": NAMESPACE_METADATA_DIR,
    "container-runtime": CONTAINER_RUNTIME_DIR,
    "e2e": E2E_OVERLAY_DIR,
}
EXPORTER = "pod-meta-exporter"
POD_VERBS = ["get", "list", "watch"]

Manifest = dict[str, Any]
Plugin = dict[str, str]  # one input, filter or output; keys lowercased, values as Fluent Bit reads them


# --- The two ways to deploy, reduced to what the rules look at -------------------------------


@dataclass(frozen=True)
class Setup:
    """One Fluent Bit pod: its configuration, its fluent-bit container and its exporter sidecar."""

    service: Plugin
    inputs: list[Plugin]
    filters: list[Plugin]
    outputs: list[Plugin]
    fluent_bit: Manifest
    exporter: Manifest
    volumes: list[Manifest]

    def effective(self, value: str) -> str:
        """The value after Fluent Bit's ${VAR} substitution from the fluent-bit container's env."""
        return re.sub(r"\$\{(\w+)\}", lambda match: env_value(self.fluent_bit, match.group(1)), value)

    @property
    def kubernetes_filter(self) -> Plugin:
        (found,) = (plugin for plugin in self.filters if plugin["name"] == "kubernetes")
        return found


def kustomize_setup(directory: Path, *, fluent_bit_container: str = "fluent-bit") -> Setup:
    objects = manifests.render(directory)
    pod = one(objects, "DaemonSet")["spec"]["template"]["spec"]
    fluent_bit = container(pod["containers"], fluent_bit_container)
    config = yaml.safe_load(config_text(objects, pod, fluent_bit))
    pipeline = config["pipeline"]
    return Setup(
        service=plugin(config["service"]),
        inputs=[plugin(p) for p in pipeline["inputs"]],
        filters=[plugin(p) for p in pipeline["filters"]],
        outputs=[plugin(p) for p in pipeline["outputs"]],
        fluent_bit=fluent_bit,
        exporter=container(pod["containers"], EXPORTER),
        volumes=pod["volumes"],
    )


def helm_setup(*more: Path) -> Setup:
    values: Manifest = {}
    for path in (HELM_VALUES, *more):  # as `helm -f a -f b` merges them: lists are replaced whole
        values |= yaml.safe_load(path.read_text())
    # What the chart renders for its own container that matters here (templates/_pod.tpl).
    fluent_bit = {
        "name": "fluent-bit",
        "env": values.get("env", []),
        "volumeMounts": values["extraVolumeMounts"],
    }
    return Setup(
        service={},  # the chart's own
        inputs=classic_sections(values["config"]["inputs"], "INPUT"),
        filters=classic_sections(values["config"]["filters"], "FILTER"),
        outputs=[],  # the chart's own
        fluent_bit=fluent_bit,
        exporter=container(values["extraContainers"], EXPORTER),
        volumes=values["extraVolumes"],
    )


SETUPS: dict[str, Callable[[], Setup]] = {
    "kustomize-base": lambda: kustomize_setup(BASE_DIR),
    "kustomize-namespace-metadata": lambda: kustomize_setup(NAMESPACE_METADATA_DIR),
    "kustomize-container-runtime": lambda: kustomize_setup(CONTAINER_RUNTIME_DIR),
    "kustomize-e2e": lambda: kustomize_setup(E2E_OVERLAY_DIR),
    "helm-values": helm_setup,
    "helm-values-container-runtime": lambda: helm_setup(HELM_CONTAINER_RUNTIME_VALUES),
}


@pytest.fixture(params=sorted(SETUPS))
def setup(request: pytest.FixtureRequest) -> Setup:
    return SETUPS[request.param]()


# --- Files -----------------------------------------------------------------------------------


def test_every_yaml_file_under_deploy_parses() -> None:
    files = [*DEPLOY_DIR.rglob("*.yaml"), *E2E_OVERLAY_DIR.rglob("*.yaml")]
    assert len(files) >= 10
    for path in files:
        assert list(yaml.safe_load_all(path.read_text())), path


def test_a_guarded_patch_that_no_longer_fits_stops_the_render(tmp_path: Path) -> None:
    # The overlays guard their JSON 6902 patches with `test` operations, so that a change to the
    # base fails the render instead of patching the wrong container.
    (tmp_path / "kustomization.yaml").write_text(
        "resources: [pod.yaml]\n"
        "patches:\n"
        "  - target: {kind: Pod, name: p}\n"
        "    patch: |\n"
        "      - {op: test, path: /spec/containers/0/name, value: exporter}\n"
    )
    (tmp_path / "pod.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: other}]}\n"
    )
    with pytest.raises(manifests.KustomizeError, match="test failed"):
        manifests.render(tmp_path)


# --- Fluent Bit ------------------------------------------------------------------------------


def test_fluent_bit_tails_the_container_logs_with_the_cri_parser(setup: Setup) -> None:
    (tail,) = (p for p in setup.inputs if p["name"] == "tail" and p["path"] == "/var/log/containers/*.log")
    assert "cri" in [parser.strip() for parser in tail["multiline.parser"].split(",")]
    assert tail["tag"] == "kube.*"


def test_the_kubernetes_filter_reads_the_directory_the_exporter_writes(setup: Setup) -> None:
    directory = setup.kubernetes_filter["kube_meta_preload_cache_dir"]
    assert env_value(setup.exporter, "EXPORTER_DESTINATION_DIR") == directory
    shared = mount_at(setup.exporter, directory)
    assert shared.get("readOnly") is not True
    read_by_fluent_bit = mount_at(setup.fluent_bit, directory)
    assert read_by_fluent_bit["name"] == shared["name"]
    assert read_by_fluent_bit["readOnly"] is True
    (volume,) = (v for v in setup.volumes if v["name"] == shared["name"])
    assert "emptyDir" in volume


def test_the_kubernetes_filter_rereads_the_files_after_a_ttl(setup: Setup) -> None:
    assert fluent_bit_seconds(setup.kubernetes_filter["kube_meta_cache_ttl"]) > 0


def test_the_kubernetes_filter_adds_pod_labels_and_annotations(setup: Setup) -> None:
    assert is_on(setup.effective(setup.kubernetes_filter.get("labels", "on")))
    assert is_on(setup.effective(setup.kubernetes_filter.get("annotations", "on")))


def test_the_kubernetes_filter_reads_namespace_files_exactly_when_the_exporter_writes_them(
    setup: Setup,
) -> None:
    writes = settings_of(setup.exporter).namespace_metadata
    for key in ("namespace_labels", "namespace_annotations"):
        assert is_on(setup.effective(setup.kubernetes_filter.get(key, "off"))) is writes, key


def test_namespace_metadata_is_off_in_the_base_and_on_with_the_component() -> None:
    assert settings_of(kustomize_setup(BASE_DIR).exporter).namespace_metadata is False
    assert settings_of(kustomize_setup(NAMESPACE_METADATA_DIR).exporter).namespace_metadata is True


def test_the_kubernetes_filter_does_not_use_the_kubelet(setup: Setup) -> None:
    # docs/fluent-bit-contract.md: with Use_Kubelet On the filter expects a PodList in the file, and crashes.
    assert not is_on(setup.kubernetes_filter.get("use_kubelet", "off"))


def test_fluent_bit_does_not_read_back_its_own_stdout() -> None:
    objects = manifests.render(BASE_DIR)
    daemonset = one(objects, "DaemonSet")
    setup = kustomize_setup(BASE_DIR)
    assert [output["name"] for output in setup.outputs] == ["stdout"]
    own_log = "/var/log/containers/{}-x7k2p_{}_fluent-bit-{}.log".format(
        daemonset["metadata"]["name"], daemonset["metadata"]["namespace"], "0" * 64
    )
    (tail,) = (p for p in setup.inputs if p["name"] == "tail")
    assert fnmatch.fnmatch(own_log, tail["exclude_path"])


@pytest.mark.parametrize("directory", KUSTOMIZATIONS.values(), ids=KUSTOMIZATIONS.keys())
def test_fluent_bit_waits_out_a_cold_clusters_dns_before_its_liveness_probe_counts(directory: Path) -> None:
    fluent_bit = container(pod_spec(directory)["containers"], "fluent-bit")
    liveness, startup = fluent_bit["livenessProbe"], fluent_bit["startupProbe"]
    assert startup["httpGet"] == liveness["httpGet"]
    # The kubernetes filter waits DNS_Wait_Time (30 s) after each of DNS_Retries (6) failed
    # lookups of the API server before Fluent Bit serves HTTP.
    allowed = startup.get("periodSeconds", 10) * startup.get("failureThreshold", 3)
    assert allowed >= 6 * 30 + 30, startup


def test_fluent_bit_runs_a_pinned_release() -> None:
    (fluent_bit,) = (c for c in pod_spec(BASE_DIR)["containers"] if c["name"] == "fluent-bit")
    name, tag, _ = split_image(fluent_bit["image"])
    assert name == "cr.fluentbit.io/fluent/fluent-bit"
    assert re.fullmatch(r"\d+\.\d+\.\d+", tag), tag


# --- RBAC ------------------------------------------------------------------------------------


def test_the_cluster_role_allows_only_reading_pods() -> None:
    rules = one(manifests.render(BASE_DIR), "ClusterRole")["rules"]
    assert rules == [{"apiGroups": [""], "resources": ["pods"], "verbs": POD_VERBS}]


def test_the_namespace_metadata_component_adds_only_reading_namespaces() -> None:
    rules = one(manifests.render(NAMESPACE_METADATA_DIR), "ClusterRole")["rules"]
    assert rules == [
        {"apiGroups": [""], "resources": ["pods"], "verbs": POD_VERBS},
        {"apiGroups": [""], "resources": ["namespaces"], "verbs": POD_VERBS},
    ]


def test_the_cluster_role_is_bound_to_the_daemonsets_service_account() -> None:
    objects = manifests.render(BASE_DIR)
    daemonset = one(objects, "DaemonSet")
    binding = one(objects, "ClusterRoleBinding")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": one(objects, "ClusterRole")["metadata"]["name"],
    }
    account = daemonset["spec"]["template"]["spec"]["serviceAccountName"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": account, "namespace": daemonset["metadata"]["namespace"]}
    ]
    assert one(objects, "ServiceAccount")["metadata"]["name"] == account


# --- The exporter sidecar --------------------------------------------------------------------


def test_the_exporter_is_hardened(setup: Setup) -> None:
    context = setup.exporter["securityContext"]
    assert context["runAsNonRoot"] is True
    assert context["runAsUser"] == 65532
    # Group 0 only to reach the runtime's root:root 0660 socket, with the runtime source on.
    runtime = env_value(setup.exporter, "EXPORTER_CRI_ENDPOINT", default="")
    assert context["runAsGroup"] == (0 if runtime else 65532)
    assert context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert context["seccompProfile"] == {"type": "RuntimeDefault"}


def test_the_image_runs_as_the_user_the_manifests_expect() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    (user,) = re.findall(r"^USER (\S+)$", dockerfile, flags=re.MULTILINE)
    context = kustomize_setup(BASE_DIR).exporter["securityContext"]
    assert user == f"{context['runAsUser']}:{context['runAsGroup']}"


def test_the_exporter_is_configured_only_with_variables_the_cli_knows(setup: Setup) -> None:
    known = {
        f"EXPORTER_{action.dest.upper()}"
        for action in settings.build_parser()._actions
        if action.dest != "help"
    }
    assert {variable["name"] for variable in setup.exporter["env"]} <= known


def test_the_exporters_settings_are_valid(setup: Setup) -> None:
    config = settings_of(setup.exporter)
    assert config.cluster == "kubernetes"
    assert config.kubeconfig is None  # in-cluster


def test_the_exporter_learns_its_node_from_the_downward_api(setup: Setup) -> None:
    (node_name,) = (v for v in setup.exporter["env"] if v["name"] == "EXPORTER_NODE_NAME")
    assert node_name["valueFrom"] == {"fieldRef": {"fieldPath": "spec.nodeName"}}


def test_the_exporters_files_are_readable_by_any_uid(setup: Setup) -> None:
    assert settings_of(setup.exporter).file_mode & 0o444 == 0o444


def test_the_exporters_probes_target_its_listen_port(setup: Setup) -> None:
    listen = env_value(setup.exporter, "EXPORTER_LISTEN", default=options.DEFAULT_LISTEN)
    port = int(listen.rpartition(":")[2])
    ports = {p.get("name"): p["containerPort"] for p in setup.exporter["ports"]}
    assert port in ports.values()
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        http = setup.exporter[probe]["httpGet"]
        assert http["path"] == path
        assert ports.get(http["port"], http["port"]) == port, probe


@pytest.mark.parametrize(
    ("base", "variant"),
    [
        (lambda: kustomize_setup(BASE_DIR), lambda: kustomize_setup(CONTAINER_RUNTIME_DIR)),
        (helm_setup, lambda: helm_setup(HELM_CONTAINER_RUNTIME_VALUES)),
    ],
    ids=["kustomize", "helm"],
)
def test_the_container_runtime_variants_add_the_socket_read_only_and_nothing_else(
    base: Callable[[], Setup], variant: Callable[[], Setup]
) -> None:
    plain, runtime = base(), variant()
    socket = "/run/containerd/containerd.sock"
    (volume,) = (v for v in runtime.volumes if v not in plain.volumes)
    assert volume["hostPath"] == {"path": socket, "type": "Socket"}
    (mount,) = (m for m in runtime.exporter["volumeMounts"] if m not in plain.exporter["volumeMounts"])
    assert mount == {"name": volume["name"], "mountPath": socket, "readOnly": True}
    (variable,) = (e for e in runtime.exporter["env"] if e not in plain.exporter["env"])
    assert variable == {"name": "EXPORTER_CRI_ENDPOINT", "value": f"unix://{socket}"}
    assert settings_of(runtime.exporter).cri_endpoint == f"unix://{socket}"
    changed = {
        key
        for key in set(plain.exporter) | set(runtime.exporter)
        if plain.exporter.get(key) != runtime.exporter.get(key)
    }
    assert changed == {"env", "volumeMounts", "securityContext", "resources"}
    assert without(runtime.exporter["securityContext"], {"runAsGroup"}) == without(
        plain.exporter["securityContext"], {"runAsGroup"}
    )
    assert runtime.exporter["resources"]["limits"] == plain.exporter["resources"]["limits"]
    assert runtime.fluent_bit == plain.fluent_bit
    assert runtime.filters == plain.filters


def test_the_exporter_has_requests_and_limits(setup: Setup) -> None:
    resources = setup.exporter["resources"]
    for kind in ("requests", "limits"):
        assert set(resources[kind]) == {"cpu", "memory"}, kind


def test_the_exporter_image_can_be_overridden_with_kustomize_images() -> None:
    kustomization = yaml.safe_load((BASE_DIR / "kustomization.yaml").read_text())
    (entry,) = (image for image in kustomization["images"] if image["name"] == EXPORTER)
    exporter = container(pod_spec(BASE_DIR)["containers"], EXPORTER)
    assert exporter["image"] == f"{entry['newName']}:{entry['newTag']}"
    assert split_image(exporter["image"])[0] == entry["name"]


# --- The e2e overlay -------------------------------------------------------------------------


HTTP_SERVER_KEYS = {"http_server", "http_listen", "http_port", "health_check"}


def test_the_e2e_baseline_differs_from_the_base_only_by_the_preload_dir_and_http_server() -> None:
    base = kustomize_setup(E2E_OVERLAY_DIR)
    baseline = kustomize_setup(E2E_OVERLAY_DIR, fluent_bit_container="fluent-bit-baseline")
    assert baseline.service == without(base.service, HTTP_SERVER_KEYS)
    assert base.inputs == baseline.inputs
    assert base.outputs == baseline.outputs
    assert baseline.kubernetes_filter == without(base.kubernetes_filter, {"kube_meta_preload_cache_dir"})
    assert base.outputs == [{"name": "stdout", "match": "*", "format": "json_lines"}]


def test_the_e2e_offline_fluent_bit_differs_from_the_base_only_by_an_api_server_that_cannot_answer() -> None:
    base = kustomize_setup(E2E_OVERLAY_DIR)
    offline = kustomize_setup(E2E_OVERLAY_DIR, fluent_bit_container="fluent-bit-offline")
    assert offline.service == without(base.service, HTTP_SERVER_KEYS)
    assert base.inputs == offline.inputs
    assert base.outputs == offline.outputs
    kube_url = offline.kubernetes_filter["kube_url"]
    assert without(offline.kubernetes_filter, {"kube_url"}) == base.kubernetes_filter
    # Refused at once on the pod's own loopback, and an IP: the filter's start waits on DNS otherwise.
    host = urllib.parse.urlsplit(kube_url).hostname or ""
    assert ipaddress.ip_address(host).is_loopback, kube_url
    directory = offline.kubernetes_filter["kube_meta_preload_cache_dir"]
    assert mount_at(offline.fluent_bit, directory)["name"] == mount_at(base.fluent_bit, directory)["name"]


@pytest.mark.parametrize("variant", ["fluent-bit-baseline", "fluent-bit-offline"])
def test_the_e2e_variants_run_the_same_fluent_bit(variant: str) -> None:
    containers = pod_spec(E2E_OVERLAY_DIR)["containers"]
    fluent_bit = container(containers, "fluent-bit")
    other = container(containers, variant)
    assert other["image"] == fluent_bit["image"]
    assert other["env"] == fluent_bit["env"]


def test_the_e2e_overlay_takes_fluent_bit_from_ghcr_at_the_base_release() -> None:
    base = container(pod_spec(BASE_DIR)["containers"], "fluent-bit")
    e2e = container(pod_spec(E2E_OVERLAY_DIR)["containers"], "fluent-bit")
    name, tag, _ = split_image(e2e["image"])
    assert name == "ghcr.io/fluent/fluent-bit"
    assert tag == split_image(base["image"])[1]


def test_the_e2e_pause_of_fluent_bit_stays_within_its_liveness_budget() -> None:
    liveness = container(pod_spec(E2E_OVERLAY_DIR)["containers"], "fluent-bit")["livenessProbe"]
    # The kubelet restarts after failureThreshold consecutive failures; the first may come just
    # after the pause starts.
    budget = (liveness.get("failureThreshold", 3) - 1) * liveness.get("periodSeconds", 10)
    assert budget > harness.MAX_PAUSE


def without(mapping: dict[str, Any], keys: set[str]) -> dict[str, Any]:
    return {key: value for key, value in mapping.items() if key not in keys}


# --- Helpers ---------------------------------------------------------------------------------


def one(objects: list[Manifest], kind: str) -> Manifest:
    (found,) = (obj for obj in objects if obj["kind"] == kind)
    return found


def pod_spec(directory: Path) -> Manifest:
    spec: Manifest = one(manifests.render(directory), "DaemonSet")["spec"]["template"]["spec"]
    return spec


def container(containers: list[Manifest], name: str) -> Manifest:
    (found,) = (c for c in containers if c["name"] == name)
    return found


def env_value(spec: Manifest, name: str, *, default: str | None = None) -> str:
    for variable in spec.get("env", []):
        if variable["name"] == name:
            value: str = variable["value"]
            return value
    if default is None:
        msg = f"{spec['name']} has no {name}"
        raise KeyError(msg)
    return default


def mount_at(spec: Manifest, path: str) -> Manifest:
    (found,) = (m for m in spec["volumeMounts"] if m["mountPath"] == path)
    mount: Manifest = found
    return mount


def config_text(objects: list[Manifest], pod: Manifest, fluent_bit: Manifest) -> str:
    """The ConfigMap entry that the container's --config= names, through its volume mount."""
    (config,) = (arg.removeprefix("--config=") for arg in fluent_bit["args"] if arg.startswith("--config="))
    directory, _, file_name = config.rpartition("/")
    (volume,) = (v for v in pod["volumes"] if v["name"] == mount_at(fluent_bit, directory)["name"])
    (config_map,) = (
        obj
        for obj in objects
        if obj["kind"] == "ConfigMap" and obj["metadata"]["name"] == volume["configMap"]["name"]
    )
    text: str = config_map["data"][file_name]
    return text


def settings_of(exporter: Manifest) -> settings.Settings:
    """The exporter's own reading of its env, as it would start with it."""
    environ = {v["name"]: v["value"] for v in exporter["env"] if "value" in v}
    return settings.load([], environ, hostname="node-1")


def plugin(entry: dict[str, Any]) -> Plugin:
    """A YAML-format plugin entry as Fluent Bit reads it: YAML's on/off booleans are strings to it."""
    return {
        key.lower(): ("on" if value else "off") if isinstance(value, bool) else str(value)
        for key, value in entry.items()
    }


def classic_sections(text: str, section: str) -> list[Plugin]:
    """The [SECTION] blocks of a classic-format Fluent Bit configuration, keys lowercased."""
    found: list[Plugin] = []
    current: Plugin | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            current = {} if line.upper() == f"[{section}]" else None
            if current is not None:
                found.append(current)
            continue
        if current is not None:
            key, _, value = line.partition(" ")
            current[key.lower()] = value.strip()
    return found


def is_on(value: str) -> bool:
    lowered = value.strip().lower()
    assert lowered in {"on", "off", "true", "false"}, f"not a Fluent Bit boolean: {value!r}"
    return lowered in {"on", "true"}


def split_image(reference: str) -> tuple[str, str, str]:
    """`registry:5000/name:tag@sha256:...` -> ("registry:5000/name", "tag", "sha256:...")."""
    rest, _, digest = reference.partition("@")
    slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon > slash:
        return rest[:colon], rest[colon + 1 :], digest
    return rest, "", digest


def fluent_bit_seconds(value: str) -> float:
    """Fluent Bit's time values: a number of seconds, or with an s, m, h or d suffix."""
    match = re.fullmatch(r"(\d+)([smhd]?)", value.strip().lower())
    assert match, f"not a Fluent Bit time: {value!r}"
    return int(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
