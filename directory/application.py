"""The Flask class of the directory: Flask, less two costs it pays again on every request.

Measured in-process on a /healthz request (bench/throughput.py, issue 9): Flask builds a new session
serializer for every request, also for API calls that carry no cookie. That means key lists, signer
arguments and a trial `dumps({})` in itsdangerous. It also asks `inspect` whether each hook and view is
a coroutine function, 10 to 14 times per request, though the answer never changes. Each answer is
computed once here. Nothing else differs from Flask.
"""

from __future__ import annotations

from collections.abc import Callable
from inspect import iscoroutinefunction
from typing import Any

from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with the serializer kept while the keys stay the same."""

    def __init__(self) -> None:
        self._serializer: tuple[tuple[Any, ...], URLSafeTimedSerializer | None] | None = None

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:  # type: ignore[override]
        keys = (app.secret_key, *(app.config["SECRET_KEY_FALLBACKS"] or ()))
        kept = self._serializer
        if kept is None or kept[0] != keys:
            # Keys changed (a test, a rotation): build afresh. The serializer holds no per-request state.
            kept = self._serializer = (keys, super().get_signing_serializer(app))
        return kept[1]


class Application(Flask):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.session_interface = SessionInterface()
        self._coroutine: dict[Any, bool] = {}

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        # Keyed by the function, not the bound method: MethodView binds a new instance per request.
        # Only registered hooks and views come here, so the table stays as small as the app.
        key = getattr(func, "__func__", func)
        is_coroutine = self._coroutine.get(key)
        if is_coroutine is None:
            is_coroutine = self._coroutine[key] = iscoroutinefunction(func)
        return self.async_to_sync(func) if is_coroutine else func
