"""`directory serve`: gunicorn embedded, so one command runs the node with production-grade workers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gunicorn.app.base import BaseApplication

from directory import config, create_app, logs, metrics


class Gunicorn(BaseApplication):  # type: ignore[misc]
    """gunicorn with its options given as data and the WSGI app built by `load` in each worker."""

    def __init__(self, options: dict[str, Any], load: Callable[[], Any]) -> None:
        self.options = options
        self._load = load
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return self._load()


def directory_app() -> Any:
    settings = config.resolve()
    logs.configure(settings["LOG_LEVEL"])
    return create_app({"SECRET_KEY": config.secret_key(settings)})


def options(host: str, port: int, workers: int) -> dict[str, Any]:
    """The gunicorn configuration (bench/bare_app.py serves its baseline with the same one)."""
    return {"bind": f"{host}:{port}", "workers": workers, "threads": 4, "worker_class": "gthread",
            "accesslog": None, "timeout": 60, "graceful_timeout": 20,
            # gunicorn's control socket defaults to one path per user ($HOME/.gunicorn/gunicorn.ctl):
            # a second instance on the host (another node, a benchmark, the tests) would take it over.
            "control_socket_disable": True}


def run(host: str, port: int, workers: int) -> None:
    # Before the fork: the workers' request metrics go to files a scrape of any worker adds up.
    metrics.prepare_multiprocess(config.resolve()["INSTANCE_PATH"])
    Gunicorn({**options(host, port, workers), "child_exit": metrics.worker_exited}, directory_app).run()
