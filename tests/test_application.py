"""The Flask class: what it keeps between requests must never outlive a key or mix up callers."""

from __future__ import annotations

import pytest
from flask import Flask

from directory.application import Application


def _cookie(app: Flask, data: dict[str, str]) -> str:
    serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    return str(serializer.dumps(data))


def _opened(app: Flask, cookie: str) -> dict[str, str]:
    name = app.config["SESSION_COOKIE_NAME"]
    with app.test_request_context("/", headers={"Cookie": f"{name}={cookie}"}):
        from flask import request

        return dict(app.session_interface.open_session(app, request) or {})


def test_the_session_serializer_follows_the_keys() -> None:
    app = Application(__name__)
    app.secret_key = "first-key-for-the-test"
    signed = _cookie(app, {"account_id": "1"})
    assert _opened(app, signed) == {"account_id": "1"}
    kept = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    assert app.session_interface.get_signing_serializer(app) is kept  # type: ignore[attr-defined]

    app.secret_key = "second-key-for-the-test"
    assert _opened(app, signed) == {}  # a rotated key refuses the old cookie at once

    app.config["SECRET_KEY_FALLBACKS"] = ["first-key-for-the-test"]
    assert _opened(app, signed) == {"account_id": "1"}  # unless the old key is a declared fallback


def test_ensure_sync_hands_back_the_callers_own_bound_method() -> None:
    app = Application(__name__)

    class View:
        def __init__(self, name: str) -> None:
            self.name = name

        def get(self) -> str:
            return self.name

    first, second = View("first"), View("second")
    assert app.ensure_sync(first.get)() == "first"
    assert app.ensure_sync(second.get)() == "second"  # cached by function, never by instance


def test_ensure_sync_still_runs_coroutine_functions() -> None:
    app = Application(__name__)

    async def view() -> str:
        return "awaited"

    try:
        import asgiref  # noqa: F401
    except ImportError:
        # Without Flask's async extra the wrapper refuses; what matters is that it was asked for.
        with pytest.raises(RuntimeError, match="async"):
            app.ensure_sync(view)
        return
    assert app.ensure_sync(view)() == "awaited"
