"""The e2e tier's cluster and images where no registry is reachable: `run -- COMMAND` builds the
images on this machine (cached), starts Debian's dockerd if none answers, runs COMMAND against it
and stops it, leaving nothing behind; `build` only builds. See tests/e2e/offline/run.py.

    .venv/bin/python scripts/offline-kind.py run -- .venv/bin/pytest tests/e2e   # make e2e
"""

import sys

from e2e.offline.run import main

if __name__ == "__main__":
    sys.exit(main())
