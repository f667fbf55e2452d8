"""The `pod-meta-exporter` command: settings from flags and EXPORTER_* variables, then run until a signal."""

from __future__ import annotations

import logging
import os
import signal
import sys
from typing import TYPE_CHECKING

import prometheus_client

from pod_meta_exporter.entrypoints import logs, settings
from pod_meta_exporter.entrypoints.container import Container

if TYPE_CHECKING:
    from collections.abc import Callable

log = logging.getLogger("pod_meta_exporter")

EXIT_USAGE = 2


def main(argv: list[str] | None = None) -> int:
    try:
        config = settings.load(sys.argv[1:] if argv is None else argv, os.environ)
    except settings.SettingsError as error:
        print(f"pod-meta-exporter: {error}", file=sys.stderr)  # noqa: T201 - before logging exists
        return EXIT_USAGE
    logs.configure(log_format=config.log_format, level=config.log_level)
    disable_created_metrics: Callable[[], None] = prometheus_client.disable_created_metrics  # untyped there
    disable_created_metrics()
    return run(Container(settings=config))


def run(container: Container) -> int:
    log.info("starting", extra={"config": container.settings().describe()})
    try:
        store = container.store()
        store.prepare()
        stale = store.remove_stale_temporaries()
        if stale:
            log.info("removed %d temporary files left by an earlier run", stale)
    except OSError as error:
        # Without its directory the exporter can do nothing: a configuration error, like a bad flag.
        log.error("cannot use the destination directory %s: %s", error.filename, error.strerror)  # noqa: TRY400
        return EXIT_USAGE
    try:
        service = container.service()
        server = container.http()
    except (ValueError, OSError) as error:  # a kubeconfig that cannot be used, a --listen port in use
        log.error("cannot start: %s", error)  # noqa: TRY400 - the one line is the message
        return EXIT_USAGE if isinstance(error, ValueError) else 1
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: service.stop())
    server.start()
    log.info("serving /healthz, /readyz and /metrics on port %d", server.port, extra={"port": server.port})
    try:
        return service.run()
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
