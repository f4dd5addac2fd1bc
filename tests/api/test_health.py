"""/healthz, /readyz and /metrics over HTTP, the request id and the request log line.

The readiness tests take a database away for real and give it back: on SQLite the file is moved, on
PostgreSQL connections to a database of the test's own are refused and the live ones terminated.
"""

from __future__ import annotations

import io
import json
import logging
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from flask import Flask, request

from directory import create_app, db, logs, migrations
from tests.conftest import REQUIRE_ALL, auth

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"


def _app(settings: dict[str, Any], url: str) -> Flask:
    app = create_app({**settings, "DATABASE_URL": url})
    with app.app_context():
        db.connect()
        migrations.migrate()
        db.release()
    return app


def _assert_not_ready(response: Any, failed: str) -> None:
    assert response.status_code == 503
    body = response.get_json()
    assert set(body) == {"code", "status", "message", "errors"}
    assert body["code"] == 503 and body["status"] == "Service Unavailable"
    assert failed in body["errors"] and failed in body["message"]


def test_liveness_answers_without_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_ready_when_database_migrations_and_key_are_there(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ready", "checks": {
        "database": "ok", "migrations": "ok", "node_key": "ok"}}


def test_sqlite_file_taken_away_fails_readiness_and_recovers(settings, tmp_path):
    path = tmp_path / "ready.db"
    app = _app(settings, f"sqlite:///{path}")
    client = app.test_client()
    assert client.get("/readyz").status_code == 200
    path.rename(tmp_path / "elsewhere.db")
    try:
        _assert_not_ready(client.get("/readyz"), "database")
        assert client.get("/healthz").status_code == 200
        assert not path.exists(), "the probe must not create an empty database where the file was"
    finally:
        (tmp_path / "elsewhere.db").rename(path)
    assert client.get("/readyz").status_code == 200


def test_pending_migrations_fail_readiness(settings, tmp_path):
    app = create_app({**settings, "DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}"})
    (tmp_path / "empty.db").touch()
    response = app.test_client().get("/readyz")
    _assert_not_ready(response, "migrations")
    assert response.get_json()["errors"] == {"migrations": ["pending: run `directory init-db`"]}


def test_missing_node_key_fails_readiness_without_revealing_paths(settings, tmp_path):
    app = _app({**settings, "INSTANCE_PATH": str(tmp_path)}, f"sqlite:///{tmp_path / 'k.db'}")
    response = app.test_client().get("/readyz")
    _assert_not_ready(response, "node_key")
    assert str(tmp_path) not in response.get_data(as_text=True)


@pytest.fixture
def postgres_database() -> Iterator[tuple[str, str]]:
    """(server URL, URL of a database of this test's own), dropped afterwards."""
    server = os.environ.get("DIRECTORY_TEST_DATABASE_URL") or DEFAULT_SERVER
    try:
        admin = psycopg.connect(server, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        if REQUIRE_ALL:
            pytest.fail(f"PostgreSQL at {server} is not reachable: {exc}")
        pytest.skip(f"PostgreSQL at {server} is not reachable (set DIRECTORY_TEST_DATABASE_URL): {exc}")
    name = f"cpd_ready_{uuid.uuid4().hex[:10]}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        base, _, _ = server.rpartition("/")
        try:
            yield server, f"{base}/{name}"
        finally:
            db.close_database()
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _set_reachable(server: str, name: str, reachable: bool) -> None:
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {"true" if reachable else "false"}')
        if not reachable:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                          [name])


def test_postgresql_unreachable_fails_readiness_and_recovers(settings, postgres_database):
    server, url = postgres_database
    name = url.rpartition("/")[2]
    app = _app(settings, url)
    client = app.test_client()
    assert client.get("/readyz").status_code == 200
    _set_reachable(server, name, False)
    _assert_not_ready(client.get("/readyz"), "database")
    assert client.get("/readyz").get_json()["errors"]["migrations"] == [
        "not checked: the database is unreachable"]
    assert client.get("/healthz").status_code == 200
    _set_reachable(server, name, True)
    # The pooled connection killed while the database was away must not keep the node "not ready".
    assert client.get("/readyz").status_code == 200


def test_metrics_need_an_administrator(client, token_for):
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers=auth(token_for("reader"))).status_code == 403


def test_metrics_count_requests_by_endpoint_and_status_and_report_organisations(client, make_org, token_for):
    make_org()
    reader = auth(token_for("reader"))
    for _ in range(3):
        assert client.get("/api/v1/organisations", headers=reader).status_code == 200
    client.get("/api/v1/organisations/urn:cpd:nowhere:1", headers=reader)
    response = client.get("/metrics", headers=auth(token_for("admin")))
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    text = response.get_data(as_text=True)
    lines = {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
             for line in text.splitlines() if line and not line.startswith("#")}
    count = 'directory_http_request_duration_seconds_count{endpoint="%s",method="GET",status="%s"}'
    assert lines[count % ("organisations.OrganisationList", "200")] >= 3
    assert lines[count % ("organisations.OrganisationItem", "404")] >= 1
    assert lines['directory_organisations{origin="local"}'] == 1


def test_metrics_report_job_outcomes(client, token_for):
    jobs = pytest.importorskip("directory.models.jobs")
    jobs.JobRun.create(name="freshness", holder="h", started_at=1000, finished_at=1001, outcome="ok")
    jobs.JobRun.create(name="freshness", holder="h", started_at=2000, finished_at=2001, outcome="failed")
    jobs.JobRun.create(name="freshness", holder="h", started_at=3000, finished_at=3001, outcome="ok")
    text = client.get("/metrics", headers=auth(token_for("admin"))).get_data(as_text=True)
    assert 'directory_job_runs_total{job="freshness",outcome="ok"} 2.0' in text
    assert 'directory_job_last_run_timestamp_seconds{job="freshness",outcome="failed"} 2000.0' in text


@pytest.mark.parametrize(("sent", "kept"), [
    ("4bf92f3577b34da6a3ce929d0e0e4736", True),
    ("req-2026.11.29:7", True),
    ("a" * 65, False),
    ("x\" injected=\"1", False),
    ("<script>", False),
    ("", False),
])
def test_request_id_is_echoed_only_when_it_is_a_plain_token(client, sent, kept):
    response = client.get("/healthz", headers={"X-Request-Id": sent})
    echoed = response.headers["X-Request-Id"]
    if kept:
        assert echoed == sent
    else:
        assert echoed != sent and len(echoed) == 32 and echoed.isalnum()


def test_errors_carry_a_request_id_too(client):
    response = client.get("/api/v1/me", headers={"Authorization": "Bearer wrong", "X-Request-Id": "r-401"})
    assert response.status_code == 401
    assert response.headers["X-Request-Id"] == "r-401"


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    logger = logging.getLogger(logs.LOGGER)
    saved = (logger.level, logger.propagate)
    handler = logs.configure("INFO", stream)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]


def test_request_log_line_is_json_with_request_id_and_nothing_personal(client, make_org, token_for,
                                                                       log_lines):
    entry_id = make_org()
    token = token_for("reader")
    client.get(f"/api/v1/organisations/{entry_id}?name=erika.mustermann@telecom.example",
               headers=auth(token, **{"X-Request-Id": "trace-1"}))
    client.get("/api/v1/organisations?name=erika.mustermann@telecom.example", headers=auth(token))
    text = log_lines.getvalue()
    assert "erika" not in text and token not in text and entry_id not in text
    records = [json.loads(line) for line in text.splitlines()]
    request = next(r for r in records if r.get("request_id") == "trace-1")
    assert request["route"] == "/api/v1/organisations/<entry_id>"
    assert request["method"] == "GET" and isinstance(request["duration_ms"], float)
    assert request["actor"].startswith("account:")


def test_committed_readme_documents_production(pytestconfig):
    readme = (Path(pytestconfig.rootpath) / "README.md").read_text()
    section = readme.split("## Running in production", 1)[1]
    for needle in ("gunicorn", "DIRECTORY_TRUSTED_PROXIES", "pg_dump", ".backup", "node-key.asc",
                   "scheduler", "/readyz", "/metrics"):
        assert needle in section


@pytest.mark.parametrize(("proxies", "seen"), [(0, "127.0.0.1"), (1, "203.0.113.7"), (2, "198.51.100.9")])
def test_client_address_comes_from_trusted_proxies_only(settings, proxies, seen):
    app = create_app({**settings, "TRUSTED_PROXIES": proxies})
    app.add_url_rule("/whoami", "whoami", lambda: f"{request.remote_addr} {request.scheme}")
    response = app.test_client().get("/whoami", headers={
        "X-Forwarded-For": "198.51.100.9, 203.0.113.7", "X-Forwarded-Proto": "https, https"})
    scheme = "https" if proxies else "http"
    assert response.get_data(as_text=True) == f"{seen} {scheme}"
