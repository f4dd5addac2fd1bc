"""The process's settings and node key, for domain code that must not import Flask.

Entry points (`create_app`, the CLI, the scheduler) call `configure(settings)` once; domain modules call
`settings()` and `node_key()`. The node key is loaded lazily, on first use, so `create_app` does no I/O.
Tests may pin the clock with `set_clock` instead of sleeping.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from directory.errors import ConfigurationError

if TYPE_CHECKING:
    from directory.keys.node import NodeKey

_settings: dict[str, Any] | None = None
_node_key: NodeKey | None = None
_lock = threading.Lock()
_clock: Callable[[], float] = time.time


def configure(values: dict[str, Any]) -> None:
    global _settings, _node_key
    with _lock:
        _settings = dict(values)
        _node_key = None


def settings() -> dict[str, Any]:
    if _settings is None:
        raise ConfigurationError("the directory is not configured (call runtime.configure first)")
    return _settings


def node_key() -> NodeKey:
    """The node's signing key; writing entries without it is refused (every version is node-signed)."""
    global _node_key
    if _node_key is None:
        from directory.keys import load_node_key

        with _lock:
            if _node_key is None:
                _node_key = load_node_key(settings()["INSTANCE_PATH"])
        if _node_key is None:
            raise ConfigurationError("this node has no key yet: run `directory keys init-node`")
    return _node_key


def now() -> int:
    """Current time in integer epoch seconds (the unit of every signed time field)."""
    return int(_clock())


def set_clock(clock: Callable[[], float] | None) -> None:
    """Pin the clock (tests, dry runs); None restores the system clock."""
    global _clock
    _clock = clock or time.time
