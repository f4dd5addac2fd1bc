"""Crash safety: SIGKILL a real gunicorn server at random points of a write loop, many times, then check
that the database is intact and holds every write that was acknowledged with a 2xx.

The server is the project's gunicorn configuration (`directory.server.options`) with the app preloaded
in the master, so a killed worker is replaced in milliseconds and 100 kills fit in well under a minute;
every twentieth kill takes the whole server (master and worker) down and starts it again from nothing.
The database is the session's: SQLite in one CI run, PostgreSQL in the other (DIRECTORY_TEST_DATABASE_URL),
so the two runs together kill the server 200 times.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from directory import audit, db, organisations
from directory.actors import Actor
from directory.models.entries import EntryVersion, Organisation

KILLS = int(os.environ.get("CRASH_KILLS", "100"))
FULL_RESTART_EVERY = 20
ORGS = 5
SERVER = ("import sys; from directory import server; "
          "server.Gunicorn({**server.options('127.0.0.1', int(sys.argv[1]), 1), 'preload_app': True,"
          " 'threads': 2}, server.directory_app).run()")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    def __init__(self, env: dict[str, str]) -> None:
        self.env, self.port = env, _free_port()
        self.master: subprocess.Popen[bytes] | None = None
        self.killed: set[int] = set()  # a killed worker may still look alive for a moment

    def start(self) -> None:
        self.master = subprocess.Popen([sys.executable, "-c", SERVER, str(self.port)], env=self.env,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                       start_new_session=True)

    def worker(self) -> int | None:
        assert self.master is not None
        try:
            children = Path(f"/proc/{self.master.pid}/task/{self.master.pid}/children").read_text().split()
        except OSError:
            return None
        for child in children:
            if int(child) in self.killed:
                continue
            try:
                state = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if state != "Z":  # a killed worker lingers as a zombie until the master reaps it
                return int(child)
        return None

    def wait_ready(self, timeout: float = 60) -> int:
        """Until a worker answers; returns its pid."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid = self.worker()
            if pid is not None:
                try:
                    status, _, _ = self.request("GET", "/healthz", timeout=2)
                    if status == 200:
                        return pid
                except OSError:
                    pass
            time.sleep(0.005)
        raise AssertionError("the server did not come up")

    def kill_worker(self) -> None:
        pid = self.worker()
        if pid is not None:
            self.killed.add(pid)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def kill_all(self) -> None:
        if self.master is not None:
            os.killpg(self.master.pid, signal.SIGKILL)
            self.master.wait()
            self.master = None

    def request(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
                timeout: float = 10) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            data = json.dumps(body).encode() if body is not None else None
            conn.request(method, path, body=data,
                         headers={"Content-Type": "application/json", **(headers or {})})
            response = conn.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            conn.close()


@pytest.fixture
def server(settings: dict[str, Any], app: Any) -> Iterator[Server]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIRECTORY_")}
    env.update({f"DIRECTORY_{k}": str(v) for k, v in settings.items()})
    env.update(DIRECTORY_READ_QUOTA="1000000", DIRECTORY_LOG_LEVEL="ERROR",
               DIRECTORY_CALLBACK_APPROVAL="false")
    running = Server(env)
    try:
        yield running
    finally:
        running.kill_all()


def _write_until_killed(server: Server, orgs: list[str], token: str, acknowledged: list[tuple[str, str]],
                        counter: list[int], killed: threading.Event, arm: threading.Timer) -> None:
    """Add contacts one after another until the connection fails (the kill) or the kill has happened
    between two writes (the next worker would otherwise serve the loop for ever)."""
    headers = {"Authorization": f"Bearer {token}"}
    while not killed.is_set():
        entry_id = orgs[counter[0] % len(orgs)]
        counter[0] += 1
        try:
            status, head, _ = server.request("GET", f"/api/v1/organisations/{entry_id}", headers=headers)
            assert status == 200, status
            n = counter[0]
            status, _, body = server.request(
                "POST", f"/api/v1/organisations/{entry_id}/contacts",
                {"display_name": f"Desk {n}", "email": f"desk{n}@telecom.example", "kind": "role"},
                {**headers, "If-Match": head["ETag"]})
        except (OSError, http.client.HTTPException):
            return
        assert status == 201, (status, body[:300])
        acknowledged.append((entry_id, json.loads(body)["contact_id"]))
        if arm.ident is None:
            arm.start()  # after a first write: a fresh worker's first request loads keys and connections


@pytest.mark.slow
def test_acknowledged_writes_survive_sigkill(server: Server, make_org: Any, token_for: Any,
                                             database_url: str) -> None:
    orgs = [make_org(name=f"Crash Test ISP {i}", contacts=[]) for i in range(ORGS)]
    token = token_for("admin")
    db.release()
    rng = random.Random(20261129)  # a fixed seed: the same kill points on every run
    acknowledged: list[tuple[str, str]] = []
    counter = [0]
    for kill in range(KILLS):
        if server.master is None:
            server.start()
        server.wait_ready()
        full = kill % FULL_RESTART_EVERY == FULL_RESTART_EVERY - 1
        delay = rng.uniform(0.0, 0.25)
        killed = threading.Event()

        def kill_now(full: bool = full, killed: threading.Event = killed) -> None:
            server.kill_all() if full else server.kill_worker()
            killed.set()

        timer = threading.Timer(delay, kill_now)
        _write_until_killed(server, orgs, token, acknowledged, counter, killed, timer)
        if timer.ident is not None:
            timer.join()
    server.kill_all()

    assert len(acknowledged) > KILLS  # the loop wrote between the kills, it did not only die
    db.connect()
    if db.is_sqlite():
        path = database_url[len("sqlite:///"):]
        with sqlite3.connect(path) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    admin = Actor.system("test")
    for entry_id in orgs:
        stored = {c["contact_id"] for c in organisations.read(entry_id, admin)[0]["contacts"]}
        wanted = {contact for org, contact in acknowledged if org == entry_id}
        assert wanted <= stored, f"{len(wanted - stored)} acknowledged contacts of {entry_id} are missing"
        row = Organisation.get_by_id(entry_id)
        versions = [v.version for v in EntryVersion.select().where(EntryVersion.entry_id == entry_id)
                    .order_by(EntryVersion.version)]
        assert versions == list(range(1, row.version + 1))  # no gap, no version lost or doubled
    assert audit.verify().ok
