"""How each setting's text becomes its value: one reader per kind of value, each raising a
ValueError whose message says what is wrong and how to write it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from pod_meta_exporter.domain import names
from pod_meta_exporter.domain.documents import DocumentProfile
from pod_meta_exporter.entrypoints.durations import parse_duration

if TYPE_CHECKING:
    from collections.abc import Callable

PERMISSION_BITS = 0o777


def node_name(text: str) -> str:
    try:
        return names.check_pod_name(text)  # node names follow the same DNS-1123 subdomain rule
    except names.InvalidName as error:
        raise ValueError(str(error).replace("pod name", "node name")) from None


def retention(text: str) -> float:
    seconds = parse_duration(text)
    if seconds < 0:
        msg = f"negative duration {text!r}"
        raise ValueError(msg)
    return seconds


def positive_duration(text: str) -> float:
    seconds = parse_duration(text)
    if seconds <= 0:
        msg = f"{text!r} is not a positive duration"
        raise ValueError(msg)
    return seconds


def directory(text: str) -> Path:
    if not text:
        msg = "empty path"
        raise ValueError(msg)
    path = Path(text)
    if path.exists() and not path.is_dir():
        msg = f"{text!r} exists and is not a directory"
        raise ValueError(msg)
    return path


def file_mode(text: str) -> int:
    if not re.fullmatch(r"(0o?)?[0-7]{1,4}", text):
        msg = f"invalid file mode {text!r}: use octal such as 0644"
        raise ValueError(msg)
    mode = int(text.removeprefix("0o"), 8)
    if mode & ~PERMISSION_BITS:
        msg = f"file mode {text!r} has bits beyond 0777"
        raise ValueError(msg)
    if not mode & 0o444:
        msg = f"file mode {text!r} lets nobody read the files"
        raise ValueError(msg)
    return mode


def listen(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:  # noqa: PLR2004
        msg = f"invalid address {text!r}: use HOST:PORT or :PORT"
        raise ValueError(msg)
    return host.strip("[]") or "0.0.0.0", int(port)


def boolean(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    msg = f"invalid boolean {text!r}: use true or false"
    raise ValueError(msg)


def choice(choices: tuple[str, ...]) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text.lower() not in choices:
            msg = f"invalid choice {text!r}: use one of {', '.join(choices)}"
            raise ValueError(msg)
        return text.lower()

    return parse


def optional_path(text: str) -> Path | None:
    return Path(text) if text else None


# A label or annotation key: an optional DNS-subdomain prefix and '/', then a name of up to 63
# characters, alphanumerics at both ends and '-', '_' or '.' inside.
_KEY_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
_KEY = re.compile(rf"([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?{_KEY_NAME}")
_MAX_PREFIX = 253


def key(text: str) -> str:
    prefix, _, _ = text.rpartition("/")
    if not _KEY.fullmatch(text) or len(prefix) > _MAX_PREFIX:
        msg = f"{text!r} is not a label or annotation key (such as example.com/team or team)"
        raise ValueError(msg)
    return text


def key_patterns(text: str) -> tuple[str, ...]:
    """Comma-separated glob patterns on keys: '*' any run of characters, '?' one."""
    patterns = tuple(part.strip() for part in text.split(",") if part.strip())
    for pattern in patterns:
        if not re.fullmatch(r"[-A-Za-z0-9_./*?]+", pattern):
            msg = f"{pattern!r} is not a key pattern: use key characters with * and ?"
            raise ValueError(msg)
    return patterns


def optional_key(text: str) -> str | None:
    return key(text) if text else None


def cri_endpoint(text: str) -> str | None:
    """A CRI socket as the kubelet names it: unix:// and an absolute path."""
    if not text:
        return None
    if not text.startswith("unix:///") or "\0" in text:
        msg = f"{text!r} is not a CRI endpoint: use unix:///run/containerd/containerd.sock or the like"
        raise ValueError(msg)
    return text


def content(text: str) -> DocumentProfile:
    return DocumentProfile(choice(("minimal", "full"))(text))
