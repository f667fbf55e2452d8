"""A Fluent Bit reader: what the kubernetes filter would attach to each new container log, and when.

It follows docs/fluent-bit-contract.md and nothing else. Fluent Bit's `tail` finds a new file
in /var/log/containers at its next scan (`Refresh_Interval`, 1 s in our deployment) and the filter
reads the pod's `.meta` once, at the container's first record. So for each log link that appears
the reader reads the `.meta` at once and again 0.25, 0.5 and 1 s later: the earliest and the latest
moment a scan can find it. It also notes each write and removal of a `.meta`, and the container
entries each write carried. Every link and write gets its place in the one inotify queue of both
directories, so whether a `.meta` was complete before its link appeared does not hang on timestamps.
"""

from __future__ import annotations

import heapq
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from inotify_simple import INotify, flags

from support.fluent_bit import LOG_FILE, STATUS_LISTS, Enrichment, container_ids, read_pod_file
from support.waiting import wait_for

if TYPE_CHECKING:
    from pathlib import Path

READ_AFTER = (0.0, 0.25, 0.5, 1.0)  # seconds after a log link appears


@dataclass(frozen=True)
class LogLink:
    file: str
    namespace: str
    pod: str
    container: str
    container_id: str  # the 64 hex digits of the file name: the filter's docker_id
    appeared: float  # time.monotonic()
    order: int  # its place in the inotify queue

    @property
    def meta_file(self) -> str:
        return f"{self.namespace}_{self.pod}.meta"


@dataclass(frozen=True)
class Reading:
    after: float  # the scheduled offset from the link's appearance
    at: float  # when it was read (time.monotonic())
    enrichment: Enrichment | None  # None: no usable file, the filter would ask the API server

    def has_pod_metadata(self) -> bool:
        """pod_id, labels and annotations: what a record needs from the first line on."""
        found = self.enrichment
        return (
            found is not None
            and bool(found.pod_id)
            and found.labels is not None
            and found.annotations is not None
        )

    def is_complete(self, link: LogLink) -> bool:
        """The pod's metadata and this very container's ID and image: nothing left to arrive."""
        found = self.enrichment
        return (
            self.has_pod_metadata()
            and found is not None
            and found.status_container_id == link.container_id
            and bool(found.container_hash)
            and bool(found.container_image)
        )


@dataclass(frozen=True)
class Entry:
    """A status entry as a write carried it: what Fluent Bit takes of one container."""

    container_id: str
    image: str | None
    image_id: str | None

    @property
    def complete(self) -> bool:
        return bool(self.container_id and self.image and self.image_id)


@dataclass(frozen=True)
class MetaEvent:
    file: str
    at: float
    removed: bool
    order: int  # its place in the inotify queue
    container_ids: frozenset[str] = frozenset()
    entries: tuple[Entry, ...] = ()


def _entries(document: dict[str, object]) -> tuple[Entry, ...]:
    status = document.get("status")
    found: list[Entry] = []
    for key in STATUS_LISTS:
        listed = status.get(key) if isinstance(status, dict) else None
        found.extend(
            Entry(entry["containerID"], entry.get("image"), entry.get("imageID"))
            for entry in (listed if isinstance(listed, list) else [])
            if isinstance(entry, dict) and entry.get("containerID")
        )
    return tuple(found)


@dataclass
class Observed:
    link: LogLink
    readings: list[Reading] = field(default_factory=list)


class FluentBitReader:
    """Watches the node's /var/log/containers and the exporter's directory from a thread of its own."""

    def __init__(self, *, log_dir: Path, meta_dir: Path) -> None:
        self.log_dir = log_dir
        self.meta_dir = meta_dir
        self._lock = threading.Lock()
        self._links: list[Observed] = []
        self._meta_events: list[MetaEvent] = []
        self._due: list[tuple[float, int, float]] = []  # (when, index into _links, offset)
        self._order = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fluent-bit-reader", daemon=True)
        self._inotify = INotify()

    def __enter__(self) -> FluentBitReader:
        self._log_watch = self._inotify.add_watch(self.log_dir, flags.CREATE | flags.MOVED_TO)
        self._inotify.add_watch(self.meta_dir, flags.MOVED_TO | flags.CREATE | flags.DELETE)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._inotify.close()

    # -- what was seen --------------------------------------------------------------------------

    def observed(self, *, namespace: str | None = None) -> list[Observed]:
        with self._lock:
            return [
                Observed(o.link, list(o.readings))
                for o in self._links
                if namespace is None or o.link.namespace == namespace
            ]

    def meta_events(self, file: str | None = None) -> list[MetaEvent]:
        with self._lock:
            return [e for e in self._meta_events if file is None or e.file == file]

    def id_arrival(self, link: LogLink) -> float | None:
        """Seconds from the link's appearance to the first write of its `.meta` that carried its
        container ID (negative: the ID was there first); None if none has yet."""
        for event in self.meta_events(link.meta_file):
            if link.container_id in event.container_ids:
                return event.at - link.appeared
        return None

    def complete_arrival(self, link: LogLink) -> tuple[float, bool] | None:
        """The first write of the link's `.meta` with its container's ID, image and image ID: the
        seconds from the link's appearance, and whether it came before the link in the inotify
        queue; None if none has yet."""
        for event in self.meta_events(link.meta_file):
            if any(e.container_id.endswith(link.container_id) and e.complete for e in event.entries):
                return event.at - link.appeared, event.order < link.order
        return None

    def links(self, namespace: str, count: int, *, timeout: float) -> list[Observed]:
        """The namespace's first `count` log links, once each has all its readings."""
        wait_for(
            lambda: len(self.observed(namespace=namespace)) >= count and self.settled(namespace=namespace),
            timeout=timeout,
            what=f"{count} log links in {namespace}, each read {len(READ_AFTER)} times",
            seen=lambda: len(self.observed(namespace=namespace)),
        )
        return self.observed(namespace=namespace)

    def settled(self, *, namespace: str) -> bool:
        """Every link of the namespace has all its readings."""
        return all(len(o.readings) == len(READ_AFTER) for o in self.observed(namespace=namespace))

    # -- the thread -----------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                wait = self._due[0][0] - time.monotonic() if self._due else 0.05
            for event in self._inotify.read(timeout=max(0, min(int(wait * 1000), 50))):
                now = time.monotonic()
                self._order += 1
                if event.wd == self._log_watch:
                    self._link_appeared(event.name, now)
                elif event.name.endswith(".meta") and not event.name.startswith("."):
                    self._meta_changed(event.name, now, removed=bool(event.mask & flags.DELETE))
            self._read_due()

    def _link_appeared(self, name: str, now: float) -> None:
        match = LOG_FILE.search(name)
        if match is None:
            return
        link = LogLink(
            file=name,
            namespace=match["namespace_name"],
            pod=match["pod_name"],
            container=match["container_name"],
            container_id=match["docker_id"],
            appeared=now,
            order=self._order,
        )
        with self._lock:
            self._links.append(Observed(link))
            index = len(self._links) - 1
            for offset in READ_AFTER:
                heapq.heappush(self._due, (now + offset, index, offset))
        self._read_due()

    def _read_due(self) -> None:
        while True:
            with self._lock:
                if not self._due or self._due[0][0] > time.monotonic():
                    return
                _, index, offset = heapq.heappop(self._due)
                link = self._links[index].link
            document = read_pod_file(self.meta_dir / link.meta_file)
            enrichment = None if document is None else Enrichment.of(document, link.container)
            with self._lock:
                self._links[index].readings.append(Reading(offset, time.monotonic(), enrichment))

    def _meta_changed(self, name: str, now: float, *, removed: bool) -> None:
        document = {} if removed else read_pod_file(self.meta_dir / name) or {}
        event = MetaEvent(name, now, removed, self._order, container_ids(document), _entries(document))
        with self._lock:
            self._meta_events.append(event)
