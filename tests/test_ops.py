"""Operations without HTTP: readiness checks, log formatting and redaction, metrics across processes."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from directory import logs, metrics, ops


def test_readiness_lists_every_check(app):
    assert ops.readiness() == {"status": "ready",
                               "checks": {"database": "ok", "migrations": "ok", "node_key": "ok"}}


def test_readiness_names_the_failed_check(app, monkeypatch):
    monkeypatch.setattr(ops.migrations, "is_current", lambda: False)
    with pytest.raises(ops.NotReady) as raised:
        ops.readiness()
    assert raised.value.status == 503
    assert raised.value.errors == {"migrations": ["pending: run `directory init-db`"]}


@pytest.mark.parametrize("header", ["abc", "0123456789abcdef0123456789abcdef", "a:b.c-d_e"])
def test_plain_request_ids_are_kept(header):
    assert logs.accept_request_id(header) == header


@pytest.mark.parametrize("header", [None, "", "-leading", "a b", "a\r\nSet-Cookie: x=1", "é", "a" * 65])
def test_other_request_ids_are_replaced(header):
    replaced = logs.accept_request_id(header)
    assert replaced != header and len(replaced) == 32


def test_redaction_masks_emails_and_bearer_tokens():
    text = 'duplicate key (email)=(erika.m+x@telecom.example) for "Authorization: Bearer abc.DEF-123"'
    assert logs.redact(text) == 'duplicate key (email)=(<email>) for "Authorization: Bearer <redacted>"'


def _format(record: logging.LogRecord) -> dict[str, object]:
    line = logs.JsonFormatter().format(record)
    assert "\n" not in line
    return dict(json.loads(line))


def test_log_lines_are_one_json_object_with_only_known_fields():
    record = logging.LogRecord("directory.x", logging.WARNING, __file__, 1, "seen %s", ("ann@x.example",),
                               None)
    record.status = 503
    record.password = "secret"  # not a field we log, whatever a caller attaches
    token = logs.request_id_var.set("rid-1")
    try:
        line = _format(record)
    finally:
        logs.request_id_var.reset(token)
    assert line["message"] == "seen <email>"
    assert line["request_id"] == "rid-1" and line["status"] == 503 and line["level"] == "warning"
    assert "password" not in line and "secret" not in json.dumps(line)


def test_exceptions_are_logged_redacted():
    try:
        raise ValueError("no account for bob@agency.example")
    except ValueError:
        record = logging.LogRecord("directory", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    line = _format(record)
    assert "ValueError: no account for <email>" in str(line["exc"])
    assert "bob@" not in json.dumps(line)


_WORKER = textwrap.dedent("""
    import sys
    from directory import metrics
    for _ in range(int(sys.argv[1])):
        metrics.observe_request("organisations.OrganisationItem", "GET", 200, 0.003)
""")


def test_request_metrics_of_several_worker_processes_add_up(tmp_path: Path):
    """What `directory serve` sets up: each worker writes its own file, any worker's scrape sums them."""
    folder = metrics.prepare_multiprocess(str(tmp_path))
    env = {**os.environ, metrics.MULTIPROC_ENV: str(folder)}
    os.environ.pop(metrics.MULTIPROC_ENV)  # this test process keeps its in-memory metrics
    for count in ("3", "4"):
        subprocess.run([sys.executable, "-c", _WORKER, count], env=env, check=True, timeout=60)
    scrape = textwrap.dedent("""
        from prometheus_client import CollectorRegistry, generate_latest, multiprocess
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        print(generate_latest(registry).decode())
    """)
    out = subprocess.run([sys.executable, "-c", scrape], env=env, check=True, timeout=60,
                         capture_output=True, text=True).stdout
    assert ('directory_http_request_duration_seconds_count{endpoint="organisations.OrganisationItem",'
            'method="GET",status="200"} 7.0') in out
    assert len(list(folder.glob("*.db"))) == 2
