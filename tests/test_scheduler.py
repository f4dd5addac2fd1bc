"""The scheduler: leases, run records, deliberate APScheduler settings, and two real scheduler processes
against one PostgreSQL database running each job exactly once per interval."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from directory import jobs, notifications, scheduler
from directory.cli.jobs import jobs_group
from directory.models.jobs import JobLease, JobRun
from directory.models.outbox import Outbox
from tests.conftest import REQUIRE_ALL

T0 = 1_780_000_000


def _job(name: str = "demo", func=lambda: "did it", interval: int = 60) -> jobs.Job:
    return jobs.Job(name=name, func=func, interval=interval, lease_seconds=300, misfire_grace=30)


def test_a_held_lease_cannot_be_taken_until_released_or_expired(app, monkeypatch):
    assert jobs.take_lease("demo", 300, now=T0)
    assert not jobs.take_lease("demo", 300, now=T0 + 1)
    monkeypatch.setattr(jobs, "_holder", "other-host:1:x")
    assert not jobs.take_lease("demo", 300, now=T0 + 299)
    assert jobs.take_lease("demo", 300, now=T0 + 301)  # the first holder died: its lease ran out
    assert JobLease.get_by_id("demo").holder == "other-host:1:x"
    jobs.release("demo")
    assert jobs.take_lease("demo", 300, now=T0 + 302)


def test_a_slot_runs_once_even_after_the_lease_is_released(app, clock):
    clock(T0)
    job = _job()
    first = jobs.run(job, scheduled=True)
    assert first is not None and (first.outcome, first.summary) == ("ok", "did it")
    assert jobs.run(job, scheduled=True) is None  # a second scheduler firing a moment later
    assert jobs.run(job, scheduled=False) is not None  # by hand: not bound to the slot
    clock(T0 + 60)
    assert jobs.run(job, scheduled=True) is not None
    assert [r.slot for r in JobRun.select().order_by(JobRun.id)] == [
        jobs.slot_of(T0, 60), None, jobs.slot_of(T0 + 60, 60)]


def test_a_failing_job_is_recorded_and_frees_its_lease(app, clock):
    clock(T0)

    def broken() -> str:
        raise RuntimeError("the disk is full")

    run = jobs.run(_job(func=broken), scheduled=False)
    assert run is not None and run.outcome == "failed" and run.summary == "RuntimeError: the disk is full"
    assert run.finished_at == T0 and JobLease.get_by_id("demo").expires_at == 0


def test_apscheduler_settings_are_deliberate(app):
    job = scheduler.register_job("every-ten-minutes", lambda: None, 600)
    built = scheduler.build([job]).get_jobs()
    # Set explicitly (TRAPS.md 17): APScheduler's default grace of 1 s silently skips a late run.
    assert [(j.coalesce, j.max_instances, j.misfire_grace_time) for j in built] == [(True, 1, 300)]
    assert {"freshness", "outbox"} <= set(scheduler.registered())
    assert scheduler.registered()["freshness"].interval == 3600
    assert scheduler.registered()["outbox"].interval == 60


def test_a_failed_sync_fails_its_run_and_tells_admins(app, clock, monkeypatch):
    from directory import runtime, sync
    from directory.sync.apply import SyncResult

    clock(T0)
    runtime.configure({**runtime.settings(), "ADMIN_EMAIL": "ops@node-a.example"})
    monkeypatch.setattr(sync, "run_source", lambda name, **_: SyncResult(name, "ldap_error", "refused",
                                                                         run_id=7))
    job = _job("sync:corp", scheduler._sync_job("corp"))
    run = jobs.run(job, scheduled=True)
    assert run is not None and (run.outcome, run.summary) == ("failed", "JobFailed: ldap_error: refused")
    mail = Outbox.get(Outbox.dedupe_key == "sync-failed:corp:7")
    assert mail.subject == "LDAP sync 'corp' failed: ldap_error" and "ops@node-a.example" in mail.recipients
    assert notifications.notify_admins("again", "same failure", "sync-failed:corp:7") is False


def test_jobs_cli_lists_and_runs(app, settings, monkeypatch):
    for name, value in settings.items():
        monkeypatch.setenv(f"DIRECTORY_{name}", str(value))
    ran = CliRunner().invoke(jobs_group, ["run", "outbox"])
    assert ran.exit_code == 0, ran.output
    assert ran.output.strip() == "outbox: ok: sent 0, deferred 0, failed 0"
    listed = CliRunner().invoke(jobs_group, ["list"])
    assert listed.exit_code == 0, listed.output
    lines = {line.split()[0]: line for line in listed.output.splitlines()}
    assert "ok: sent 0" in lines["outbox"] and "never run" in lines["freshness"]
    assert CliRunner().invoke(jobs_group, ["run", "nope"]).exit_code == 2


# --- two real scheduler processes --------------------------------------------------------------------

HARNESS = """
import sys
from directory import config, db, runtime, scheduler
settings = config.resolve()
runtime.configure(settings)
db.open_database(settings["DATABASE_URL"])
# A whole interval of grace: a loaded test machine may start a run late, which must not skip it.
scheduler.register_job("tick", lambda: "tick", 2, misfire_grace=2)
scheduler.register_job("tock", lambda: "tock", 3, misfire_grace=3)
import logging, time
logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(name)s %(message)s")
# The second process fires late (a host whose clock is behind): the first has finished and released the
# lease by then, so only the interval slot stops a second run.
delay, on_time = float(sys.argv[2]), scheduler.run_job
scheduler.run_job = lambda job, scheduled: (time.sleep(delay), on_time(job, scheduled=scheduled))[1]
scheduler.run(["tick", "tock"], run_for=float(sys.argv[1]))
"""


@pytest.fixture
def postgres_url() -> Iterator[str]:
    server = os.environ.get("DIRECTORY_TEST_DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/test"
    if not server.startswith("postgres"):
        pytest.skip("needs PostgreSQL")
    name = f"cpd_sched_{uuid.uuid4().hex[:12]}"
    try:
        with psycopg.connect(server, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        message = f"PostgreSQL at {server} is not reachable: {exc}"
        if REQUIRE_ALL:
            pytest.fail(message)
        pytest.skip(message)
    base, _, _ = server.rpartition("/")
    yield f"{base}/{name}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_two_scheduler_processes_run_each_job_once_per_interval(postgres_url, tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIRECTORY_")}
    env.update(DIRECTORY_DATABASE_URL=postgres_url, DIRECTORY_INSTANCE_PATH=str(tmp_path),
               DIRECTORY_SECRET_KEY="test", DIRECTORY_NODE_ID="https://node-a.example")
    directory_cli = Path(sys.executable).with_name("directory")
    subprocess.run([str(directory_cli), "init-db"], env=env, check=True, timeout=60, capture_output=True)
    processes = [subprocess.Popen([sys.executable, "-c", HARNESS, "10", delay], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                 for delay in ("0", "0.7")]
    outputs = [p.communicate(timeout=60)[0] for p in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs

    with psycopg.connect(postgres_url) as conn:
        rows = conn.execute("SELECT name, slot, outcome, holder FROM job_run ORDER BY id").fetchall()
    for name, interval in (("tick", 2), ("tock", 3)):
        slots = [slot for job, slot, _, _ in rows if job == name]
        assert len(slots) == len(set(slots)), f"{name} ran twice in one interval: {rows}"
        assert len(slots) >= 10 // interval - 1, rows
        assert sorted(slots) == list(range(min(slots), max(slots) + 1)), f"{name} missed an interval"
    assert {outcome for _, _, outcome, _ in rows} == {"ok"}
    # Both processes really competed: each fired, and the late one lost (most of) the slots.
    assert all(output.count("Running job") >= 3 for output in outputs), outputs
    assert outputs[1].count("lease held elsewhere") >= len(rows) // 2, outputs[1]
