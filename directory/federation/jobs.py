"""Scheduled pulls: one job per configured peer, registered with the scheduler (`directory.scheduler`).

Peers are read when the scheduler process starts; restart it after `peers add` / `peers remove`. A failed
or refused pull is already recorded on the peer's state and in the audit trail; raising `JobFailed` also
marks the run as failed in the job history.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from directory import db, runtime
from directory.federation.pull import pull_peer
from directory.jobs import JobFailed
from directory.models.federation import Peer


def register_jobs(register: Callable[..., Any]) -> None:
    interval = int(runtime.settings()["FEDERATION_PULL_MINUTES"]) * 60
    db.connect()
    for peer in Peer.select(Peer.name).order_by(Peer.name):
        register(f"federation:{peer.name}", pull_job(peer.name), interval)


def pull_job(name: str) -> Callable[[], str]:
    def run() -> str:
        result = pull_peer(name)
        if not result.ok:
            raise JobFailed(f"{'refused' if result.attack else 'failed'}: {result.reason}")
        return f"{result.applied} applied, journal size {result.size}"

    return run
