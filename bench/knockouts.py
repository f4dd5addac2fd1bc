"""Parts of a request a benchmark can take away, to measure what each one costs.

Each part is replaced by nothing, in this process only (and in the workers it forks): never in a served
node. bench/lookup_cost.py takes them away in-process one after the other; `bench/ab.py --without`
serves this checkout without some of them, beside the full code and bare Flask.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask


def _charge(_app: Flask) -> None:
    from directory import reads

    reads.charge = lambda *_a, **_k: None  # type: ignore[assignment]


def _log(_app: Flask) -> None:
    logging.getLogger("directory.request").setLevel(logging.WARNING)


def _metric(_app: Flask) -> None:
    from directory import metrics

    metrics.observe_request = lambda *_a: None  # type: ignore[assignment]


def _web(app: Flask) -> None:
    for hooks in (app.before_request_funcs, app.after_request_funcs, app.teardown_request_funcs):
        hooks[None] = [f for f in hooks[None] if not f.__module__.startswith("directory.web")]


def _timely(_app: Flask) -> None:
    from directory import organisations

    # A constant in place of the signature statuses and freshness, so the answer stays valid JSON.
    organisations._timely = lambda _row, _version: {"signatures": []}  # type: ignore[assignment]
    organisations._timely_json = lambda _current: '{"signatures":[]}'  # type: ignore[assignment]


PARTS: dict[str, tuple[str, Callable[[Flask], None]]] = {
    "charge": ("the read charge (quota + audit row)", _charge),
    "log": ("the request log line", _log),
    "metric": ("the request metric", _metric),
    "web": ("the web UI's hooks", _web),
    "timely": ("the time-dependent fields", _timely),
}


def take_away(app: Flask, names: Iterable[str]) -> None:
    for name in names:
        PARTS[name][1](app)


def serve_without(names: list[str]) -> None:
    """Make `directory serve` (started after this call, in this process) build its app without `names`."""
    unknown = set(names) - set(PARTS)
    if unknown:
        raise SystemExit(f"unknown parts {sorted(unknown)}; known: {', '.join(PARTS)}")
    from directory import server

    build = server.directory_app

    def without() -> Any:
        app = build()
        take_away(app, names)
        return app

    server.directory_app = without  # type: ignore[assignment]
