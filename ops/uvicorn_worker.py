"""The gunicorn worker class of the production server: uvicorn's event loop in each
worker process, with its fast parts (uvloop, httptools) named rather than left to
'auto' so a missing one fails at start instead of silently serving slower."""

from uvicorn_worker import UvicornWorker


class Worker(UvicornWorker):
    CONFIG_KWARGS = {
        "loop": "uvloop",
        "http": "httptools",
        "ws": "none",
        "lifespan": "off",  # Django's ASGI handler has no lifespan events
        "server_header": False,
    }
