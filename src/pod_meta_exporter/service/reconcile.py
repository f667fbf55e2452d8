"""One reconciliation pass: apply what the core says is due, and tell it how each action went."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pod_meta_exporter.domain.actions import Action, WriteFile

if TYPE_CHECKING:
    from pod_meta_exporter.domain.directory import MetaDirectory
    from pod_meta_exporter.domain.ports import MetaStore


@dataclass(frozen=True, slots=True)
class FailedAction:
    """An action the store refused, with its error; it stays pending, and is tried again."""

    action: Action
    error: OSError


@dataclass(frozen=True, slots=True)
class Applied:
    written: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    failures: tuple[FailedAction, ...] = field(default=())


def apply_due(directory: MetaDirectory, store: MetaStore, *, now: float) -> Applied:
    """End the retentions that are over, then apply every due action once. A failed one stays
    pending and is retried after a delay."""
    directory.expire(now=now)
    written: list[str] = []
    removed: list[str] = []
    failures: list[FailedAction] = []
    for action in directory.due(now=now):
        try:
            if isinstance(action, WriteFile):
                store.write(action.name, action.content)
            else:
                store.remove(action.name)
        except OSError as error:
            directory.failed(action, now=now)
            failures.append(FailedAction(action, error))
        else:
            directory.applied(action)
            (written if isinstance(action, WriteFile) else removed).append(action.name)
    return Applied(tuple(written), tuple(removed), tuple(failures))
