"""gunicorn's server hooks for the production server (`--config python:ops.gunicorn_hooks`,
ops/server.py).

child_exit: a worker that is gone leaves its metrics file behind (prometheus-client's
multiprocess mode). Its counters still count, since what it answered was answered; its
"live" gauges (the open event streams) must not, or a worker killed with streams open would
show them open for ever. `mark_process_dead` removes those.
"""

import os


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
