"""Renders this repository's kustomizations into objects, with or without kustomize.

`deploy_manifests()` needs nothing but PyYAML: it implements the part of kustomize that our
kustomizations use (resources, components, JSON 6902 patches, images) and refuses anything else,
so a new feature cannot be rendered wrongly in silence. tests/unit/test_deploy.py checks it
against `kubectl kustomize` wherever kubectl is installed.
"""

from __future__ import annotations

import copy
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
DEPLOY_DIR = REPO / "deploy"
BASE_DIR = DEPLOY_DIR / "fluent-bit"
NAMESPACE_METADATA_DIR = DEPLOY_DIR / "overlays" / "namespace-metadata"
E2E_OVERLAY_DIR = REPO / "tests" / "e2e" / "overlay"

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
_SUPPORTED_FIELDS = frozenset({"apiVersion", "kind", "resources", "components", "patches", "images"})
_SUPPORTED_TARGET_FIELDS = frozenset({"group", "version", "kind", "name", "namespace"})

Manifest = dict[str, Any]


class UnsupportedKustomizationError(ValueError):
    """The kustomization uses a feature this renderer does not implement."""


def deploy_manifests(directory: Path = BASE_DIR) -> list[Manifest]:
    """The objects `kubectl kustomize DIRECTORY` would print, in the order of their sources."""
    if _kustomization(directory)["kind"] != "Kustomization":
        msg = f"{directory} is not a Kustomization"
        raise UnsupportedKustomizationError(msg)
    return _build(directory, [])


def kubectl_kustomize(directory: Path = BASE_DIR) -> list[Manifest] | None:
    """The output of the real `kubectl kustomize`, or None where kubectl is not installed."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        return None
    rendered = subprocess.run(
        [kubectl, "kustomize", str(directory)], check=True, capture_output=True, text=True
    ).stdout
    return [doc for doc in yaml.safe_load_all(rendered) if doc is not None]


def kustomization_path(directory: Path) -> Path:
    for name in KUSTOMIZATION_FILES:
        if (directory / name).is_file():
            return directory / name
    msg = f"no kustomization file in {directory}"
    raise FileNotFoundError(msg)


def object_id(obj: Manifest) -> tuple[str, str, str, str]:
    metadata = obj.get("metadata", {})
    return (obj["apiVersion"], obj["kind"], metadata.get("namespace", ""), metadata["name"])


def _kustomization(directory: Path) -> Manifest:
    loaded: Manifest = yaml.safe_load(kustomization_path(directory).read_text())
    unsupported = set(loaded) - _SUPPORTED_FIELDS
    if unsupported:
        msg = f"{directory}: {sorted(unsupported)} not implemented here; use kubectl kustomize"
        raise UnsupportedKustomizationError(msg)
    loaded.setdefault("kind", "Kustomization")
    return loaded


def _build(directory: Path, accumulated: list[Manifest]) -> list[Manifest]:
    # kustomize's order: resources, then each component over everything so far, then this
    # kustomization's own transformers (patches before images).
    kustomization = _kustomization(directory)
    objects = [*accumulated]
    for entry in kustomization.get("resources", []):
        objects.extend(_resource(directory / entry))
    _reject_duplicates(directory, objects)
    for entry in kustomization.get("components", []):
        component = directory / entry
        if _kustomization(component)["kind"] != "Component":
            msg = f"{component} is listed as a component but is not one"
            raise UnsupportedKustomizationError(msg)
        objects = _build(component, objects)
    for patch in kustomization.get("patches", []):
        objects = _apply_patch(directory, patch, objects)
    for image in kustomization.get("images", []):
        for obj in objects:
            _set_image(obj, image)
    return objects


def _resource(path: Path) -> list[Manifest]:
    if path.is_dir():
        return deploy_manifests(path)
    return [copy.deepcopy(doc) for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def _reject_duplicates(directory: Path, objects: list[Manifest]) -> None:
    ids = [object_id(obj) for obj in objects]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        msg = f"{directory}: duplicate objects {duplicates}"
        raise UnsupportedKustomizationError(msg)


def _apply_patch(directory: Path, patch: Manifest, objects: list[Manifest]) -> list[Manifest]:
    target = patch.get("target", {})
    unsupported = set(target) - _SUPPORTED_TARGET_FIELDS
    if unsupported or not target:
        msg = f"{directory}: patch target {target} not implemented here"
        raise UnsupportedKustomizationError(msg)
    text = patch["patch"] if "patch" in patch else (directory / patch["path"]).read_text()
    operations = yaml.safe_load(text)
    if not isinstance(operations, list):
        msg = f"{directory}: only JSON 6902 patches are implemented here, not strategic merge"
        raise UnsupportedKustomizationError(msg)
    matched = [obj for obj in objects if _matches(obj, target)]
    if not matched:
        msg = f"{directory}: patch target {target} matches nothing"
        raise UnsupportedKustomizationError(msg)
    return [_json_patch(obj, operations) if obj in matched else obj for obj in objects]


def _matches(obj: Manifest, target: Manifest) -> bool:
    group, _, version = obj["apiVersion"].rpartition("/")
    actual = {
        "group": group,
        "version": version,
        "kind": obj["kind"],
        "name": obj["metadata"]["name"],
        "namespace": obj["metadata"].get("namespace", ""),
    }
    return all(actual[key] == value for key, value in target.items())


def _json_patch(obj: Manifest, operations: list[Manifest]) -> Manifest:
    patched = copy.deepcopy(obj)
    for operation in operations:
        *parents, last = _pointer(operation["path"])
        container: Any = patched
        for token in parents:
            container = container[int(token)] if isinstance(container, list) else container[token]
        op = operation["op"]
        if op == "test":
            actual = container[int(last)] if isinstance(container, list) else container.get(last)
            if actual != operation["value"]:
                msg = f"JSON patch test failed at {operation['path']}: {actual!r}"
                raise ValueError(msg)
        elif op in {"add", "replace"} and isinstance(container, list):
            value = copy.deepcopy(operation["value"])
            if last == "-":
                container.append(value)
            elif op == "add":
                container.insert(int(last), value)
            else:
                container[int(last)] = value
        elif op in {"add", "replace"}:
            if op == "replace" and last not in container:
                msg = f"JSON patch replace of a missing member {operation['path']}"
                raise ValueError(msg)
            container[last] = copy.deepcopy(operation["value"])
        elif op == "remove":
            del container[int(last) if isinstance(container, list) else last]
        else:
            msg = f"JSON patch op {op!r} not implemented here"
            raise UnsupportedKustomizationError(msg)
    return patched


def _pointer(path: str) -> list[str]:
    if not path.startswith("/"):
        msg = f"not a JSON pointer: {path!r}"
        raise ValueError(msg)
    return [token.replace("~1", "/").replace("~0", "~") for token in path[1:].split("/")]


def _set_image(node: Any, image: Manifest) -> None:
    # Like kustomize's image transformer: every containers[]/initContainers[] image, wherever it is.
    if isinstance(node, list):
        for item in node:
            _set_image(item, image)
        return
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        if key in {"containers", "initContainers"} and isinstance(value, list):
            for container in value:
                container["image"] = _renamed(container["image"], image)
        _set_image(value, image)


def _renamed(reference: str, image: Manifest) -> str:
    name, tag, digest = split_image(reference)
    if name != image["name"]:
        return reference
    name = str(image.get("newName", name))
    if "digest" in image:
        return f"{name}@{image['digest']}"
    if "newTag" in image:
        return f"{name}:{image['newTag']}"
    return name + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")


def split_image(reference: str) -> tuple[str, str, str]:
    """`registry:5000/name:tag@sha256:...` -> ("registry:5000/name", "tag", "sha256:...")."""
    rest, _, digest = reference.partition("@")
    slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon > slash:
        return rest[:colon], rest[colon + 1 :], digest
    return rest, "", digest
