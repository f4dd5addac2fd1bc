"""The `directory` command end to end, as an administrator runs it: real processes, real gunicorn."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CLI = [sys.executable, "-c", "from directory.cli import main; main()"]


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=120, check=False)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def node_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIRECTORY_")}
    env.update(DIRECTORY_INSTANCE_PATH=str(tmp_path / "instance"), DIRECTORY_NODE_ID="http://127.0.0.1:8080")
    return env


@pytest.mark.slow
def test_set_up_seed_and_serve_a_node(node_env: dict[str, str]) -> None:
    assert _run(node_env, "init-db").returncode == 0
    key = _run(node_env, "keys", "init-node")
    assert key.returncode == 0, key.stderr
    assert (Path(node_env["DIRECTORY_INSTANCE_PATH"]) / "node-key.asc").stat().st_mode & 0o077 == 0
    seeded = _run(node_env, "seed")
    assert seeded.returncode == 0 and "created" in seeded.stdout, seeded.stderr
    again = _run(node_env, "seed")
    assert "0 created" in again.stdout
    account = _run(node_env, "accounts", "create", "--role", "reader", "--name", "Duty officer")
    assert account.returncode == 0, account.stderr
    token = account.stdout.strip().splitlines()[-1]
    assert token.startswith("cpd_")

    port = _free_port()
    server = subprocess.Popen([*CLI, "serve", "--port", str(port), "--workers", "1"], env=node_env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}/api/v1/organisations?per_page=100"
        deadline = time.monotonic() + 30
        while True:
            try:
                public = json.load(urllib.request.urlopen(base, timeout=5))
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        assert public["total"] >= 12
        assert all("contacts" not in item for item in public["items"])
        request = urllib.request.Request(base, headers={"Authorization": f"Bearer {token}"})
        restricted = json.load(urllib.request.urlopen(request, timeout=5))
        assert any(item["contacts"] for item in restricted["items"])
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_accounts_create_refuses_a_publisher_without_organisation(node_env: dict[str, str]) -> None:
    assert _run(node_env, "init-db").returncode == 0
    result = _run(node_env, "accounts", "create", "--role", "publisher", "--name", "P")
    assert result.returncode == 1 and "organisation" in result.stderr


def test_accounts_create_records_the_notification_address(node_env: dict[str, str]) -> None:
    assert _run(node_env, "init-db").returncode == 0
    made = _run(node_env, "accounts", "create", "--role", "reader", "--name", "Desk",
                "--email", "desk@police.example")
    assert made.returncode == 0, made.stderr
    assert made.stdout.strip().splitlines()[-1].startswith("cpd_")  # the token stays on the last line
    listed = _run(node_env, "accounts", "list").stdout.splitlines()
    assert [line.split("\t") for line in listed] == [
        ["1", "reader", "Desk", "", "desk@police.example", "active"]]
    refused = _run(node_env, "accounts", "create", "--role", "reader", "--name", "Bad", "--email", "nowhere")
    assert refused.returncode == 1 and "email" in refused.stderr


def test_an_administrator_disables_and_enables_an_account(node_env: dict[str, str]) -> None:
    assert _run(node_env, "init-db").returncode == 0
    made = _run(node_env, "accounts", "create", "--role", "reader", "--name", "Leaver")
    account_id = made.stdout.split()[1]
    disabled = _run(node_env, "accounts", "disable", account_id)
    assert disabled.returncode == 0 and f"account {account_id} disabled" in disabled.stdout, disabled.stderr
    assert "\tLeaver\t\t\tdisabled" in _run(node_env, "accounts", "list").stdout
    assert _run(node_env, "accounts", "enable", account_id).returncode == 0
    assert "\tLeaver\t\t\tactive" in _run(node_env, "accounts", "list").stdout
    # An id that names no account is an error, not a silent success.
    for args in (("disable", "4242"), ("revoke", "4242")):
        missing = _run(node_env, "accounts", *args)
        assert missing.returncode != 0 and "no account 4242" in missing.stderr, (args, missing.stdout)
