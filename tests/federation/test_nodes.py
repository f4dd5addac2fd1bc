"""Acceptance 1: three real nodes (separate processes, instance folders, SQLite databases and node keys,
on loopback ports). An entry created, changed and deleted on node A appears, changes and disappears on
B and C after each pulls, driven through the `directory` command and the HTTP API as operators would."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from directory.keys import init_node_key
from tests import factories

CLI = [sys.executable, "-c", "from directory.cli import main; main()"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Node:
    def __init__(self, name: str, folder: Path) -> None:
        self.name, self.port = name, _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("DIRECTORY_")}
        self.env.update(DIRECTORY_INSTANCE_PATH=str(folder), DIRECTORY_NODE_ID=self.url,
                        DIRECTORY_SECRET_KEY=f"secret-of-{name}", DIRECTORY_FEDERATION_ALLOW_HTTP="1",
                        DIRECTORY_FEDERATION_PAGE_SIZE="2")
        self.fingerprint = init_node_key(folder, self.url).fingerprint
        self.run("init-db")
        self.server: subprocess.Popen[bytes] | None = None

    def run(self, *args: str) -> str:
        done = subprocess.run([*CLI, *args], env=self.env, capture_output=True, text=True, timeout=120,
                              check=False)
        assert done.returncode == 0, f"{self.name}: directory {' '.join(args)}: {done.stderr}"
        return done.stdout

    def start(self) -> None:
        self.server = subprocess.Popen([*CLI, "serve", "--port", str(self.port), "--workers", "1"],
                                       env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def wait(self) -> None:
        deadline = time.monotonic() + 30
        while self.request("GET", "/.well-known/cpd-node")[0] != 200:
            assert time.monotonic() < deadline, f"node {self.name} did not start"
            time.sleep(0.2)

    def stop(self) -> None:
        if self.server is not None:
            self.server.terminate()
            self.server.wait(timeout=30)

    def request(self, method: str, path: str, body: Any = None, **headers: str) -> tuple[int, Any, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers={"Content-Type": "application/json", **headers})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                raw = response.read()
                return response.status, json.loads(raw) if raw else None, response.headers
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null"), exc.headers
        except OSError:
            return 0, None, None


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[dict[str, Node]]:
    made = {name: Node(name, tmp_path / name) for name in ("a", "b", "c")}
    try:
        for node in made.values():
            node.start()
        for node in made.values():
            node.wait()
        yield made
    finally:
        for node in made.values():
            node.stop()


def _pull(node: Node) -> None:
    out = node.run("federation", "pull", "--peer", "a")
    assert "a: ok" in out, out


@pytest.mark.slow
def test_entry_created_changed_and_deleted_on_a_follows_on_b_and_c(nodes: dict[str, Node]) -> None:
    a, b, c = nodes["a"], nodes["b"], nodes["c"]
    for follower in (b, c):
        follower.run("peers", "add", "a", a.url, "--fingerprint", a.fingerprint, "--countries", "DE,AT")
        a.run("peers", "add", follower.name, follower.url, "--fingerprint", follower.fingerprint)
    assert "a\t" in b.run("peers", "list")
    token = a.run("accounts", "create", "--role", "admin", "--name", "Admin A").strip().splitlines()[-1]
    bearer = {"Authorization": f"Bearer {token}"}

    created = [a.request("POST", "/api/v1/organisations", factories.organisation(name=f"Telecom {n}"),
                         **bearer) for n in range(3)]  # three entries: pages of two, so several pages
    assert [status for status, _, _ in created] == [201, 201, 201], created[0][1]
    entry_id = created[0][1]["id"]
    path = f"/api/v1/organisations/{entry_id}"
    for follower in (b, c):
        assert follower.request("GET", path)[0] == 404
        _pull(follower)
        status, body, _ = follower.request("GET", path)
        assert status == 200 and body["name"] == "Telecom 0" and body["registrar"] == a.url

    _, _, headers = a.request("GET", path)
    status, _, _ = a.request("PATCH", path, {"name": "Telecom Zero"}, **bearer,
                             **{"If-Match": headers["ETag"]})
    assert status == 200
    for follower in (b, c):
        _pull(follower)
        status, body, _ = follower.request("GET", path)
        assert status == 200 and body["name"] == "Telecom Zero"
        refused = follower.request("PATCH", path, {"name": "Edited at a follower"})
        assert refused[0] in {401, 403, 409}  # remote entries are read-only (anonymous here, too)

    _, _, headers = a.request("GET", path)
    assert a.request("DELETE", path, None, **bearer, **{"If-Match": headers["ETag"]})[0] == 204
    for follower in (b, c):
        _pull(follower)
        assert follower.request("GET", path)[0] == 410
        assert follower.request("GET", f"/api/v1/organisations/{created[1][1]['id']}")[0] == 200

    # An unsigned or unknown requester is refused by the federation endpoints of a real node.
    assert a.request("GET", "/federation/v1/checkpoint")[0] == 401


@pytest.mark.slow
def test_a_signature_the_organisation_adds_on_a_reaches_b(nodes: dict[str, Node], tmp_path: Path) -> None:
    """The organisation signs its published version at its registrar after b pulled it: b shows the
    signature, valid and the organisation's, after its next pull (it used to keep the registrar's only)."""
    a, b = nodes["a"], nodes["b"]
    b.run("peers", "add", "a", a.url, "--fingerprint", a.fingerprint)
    a.run("peers", "add", "b", b.url, "--fingerprint", b.fingerprint)
    token = a.run("accounts", "create", "--role", "admin", "--name", "Admin A").strip().splitlines()[-1]
    bearer = {"Authorization": f"Bearer {token}"}
    org = init_node_key(tmp_path / "org", "https://telecom.example")
    keys = [{"public_key": org.public_armored, "use": "organisation"}]
    status, body, _ = a.request("POST", "/api/v1/organisations", factories.organisation(keys=keys), **bearer)
    assert status == 201, body
    path = f"/api/v1/organisations/{body['id']}"
    _pull(b)
    assert [s["role"] for s in b.request("GET", path)[1]["signatures"]] == ["registrar"]

    request = urllib.request.Request(f"{a.url}{path}/versions/1/canonical", headers=bearer)
    with urllib.request.urlopen(request, timeout=10) as response:
        payload = response.read()
    status, body, _ = a.request("POST", f"{path}/versions/1/signatures", {"signature": org.sign(payload)},
                                **bearer)
    assert status == 201, body
    _pull(b)
    shown = b.request("GET", path)[1]["signatures"]
    assert [(s["role"], s["key_fpr"], s["status"]) for s in shown] == [
        ("registrar", a.fingerprint, "valid"), ("organisation", org.fingerprint, "valid")]
