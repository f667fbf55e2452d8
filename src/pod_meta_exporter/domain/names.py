"""File names of the preload directory, and the Kubernetes name rules that keep them safe."""

from __future__ import annotations

import re
from dataclasses import dataclass

POD_SUFFIX = ".meta"
NAMESPACE_SUFFIX = ".namespace_meta"

# Most filesystems (ext4, xfs, overlayfs) refuse a single path component over 255 bytes.
NAME_MAX = 255

_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


class InvalidName(ValueError):
    """A namespace or pod name that Kubernetes would not accept, or that would not make a safe file name."""


@dataclass(frozen=True, slots=True, order=True)
class PodKey:
    """A pod's identity in the directory: namespace and name (the uid may change under it)."""

    namespace: str
    name: str

    @property
    def filename(self) -> str:
        return f"{self.namespace}_{self.name}{POD_SUFFIX}"


def _check(value: object, *, what: str, limit: int, pattern: re.Pattern[str], rule: str) -> str:
    if not isinstance(value, str) or not value:
        msg = f"{what} is missing or not a string: {value!r}"
        raise InvalidName(msg)
    if len(value) > limit:
        msg = f"{what} {value[:80]!r} is {len(value)} characters, over the {limit} allowed"
        raise InvalidName(msg)
    if not pattern.fullmatch(value):
        msg = f"{what} {value!r} is not a {rule}"
        raise InvalidName(msg)
    return value


def check_namespace(value: object) -> str:
    """Return the namespace if it is a valid DNS-1123 label, or raise InvalidName saying why."""
    return _check(value, what="namespace", limit=63, pattern=_DNS_LABEL, rule="DNS-1123 label")


def check_pod_name(value: object) -> str:
    """Return the pod name if it is a valid DNS-1123 subdomain, or raise InvalidName saying why."""
    return _check(value, what="pod name", limit=253, pattern=_DNS_SUBDOMAIN, rule="DNS-1123 subdomain")


def detached(text: str) -> str:
    """An equal string that is a new object rather than a part of a parsed API object.

    The core keeps a pod's names and uid while the pod lives. Were they the strings of the
    parsed list, each would keep its 1 MiB pymalloc arena, and with it most of the list, resident.
    """
    return text.encode().decode()


def pod_key(namespace: object, name: object) -> PodKey:
    """Validate both names and return the key; the file name must also fit in NAME_MAX bytes."""
    key = PodKey(detached(check_namespace(namespace)), detached(check_pod_name(name)))
    size = len(key.filename.encode())
    if size > NAME_MAX:
        msg = (
            f"file name for pod {key.namespace}/{key.name} would be {size} bytes, over the {NAME_MAX} allowed"
        )
        raise InvalidName(msg)
    return key


def namespace_filename(namespace: str) -> str:
    return f"{namespace}{NAMESPACE_SUFFIX}"


def parse_filename(filename: str) -> PodKey | str | None:
    """Read a directory entry back: a PodKey, a namespace name, or None if it is not ours."""
    try:
        if filename.endswith(NAMESPACE_SUFFIX):
            return check_namespace(filename.removesuffix(NAMESPACE_SUFFIX))
        if filename.endswith(POD_SUFFIX):
            namespace, sep, name = filename.removesuffix(POD_SUFFIX).partition("_")
            return pod_key(namespace, name) if sep else None
    except InvalidName:
        return None
    return None


_SUFFIXES = (POD_SUFFIX, NAMESPACE_SUFFIX)


def check_file_name(name: str) -> None:
    """Refuse a name that is not a metadata file right in the directory: a store's last check."""
    if "/" in name or "\0" in name:
        msg = f"metadata file name must be one path component without NUL: {name!r}"
        raise ValueError(msg)
    if name.startswith("."):
        msg = f"metadata file name must not be hidden (nor '.' or '..'): {name!r}"
        raise ValueError(msg)
    if not name.endswith(_SUFFIXES):
        msg = f"metadata file name must end in {' or '.join(_SUFFIXES)}: {name!r}"
        raise ValueError(msg)


def is_metadata_file_name(name: str) -> bool:
    return name.endswith(_SUFFIXES) and not name.startswith(".") and "/" not in name and "\0" not in name
