"""Prometheus metrics: request counts and latencies per process, job/federation/freshness state from the
database.

Two kinds, because gunicorn runs several worker processes and a scrape reaches only one of them:
- request latencies (a histogram whose `_count` is the request count) are kept per process; under
  `directory serve` each worker writes them to `<instance>/metrics/` (prometheus_client's multiprocess
  mode, `PROMETHEUS_MULTIPROC_DIR`) and a scrape sums every worker's files;
- job outcomes, federation lag and freshness counts are read from the database at scrape time, so every
  worker and every API host answers the same.

prometheus_client picks its storage when it is first imported (from the environment variable), so it is
imported lazily here: `prepare_multiprocess` must run before any metric exists.
"""

from __future__ import annotations

import importlib
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from directory import db, runtime

if TYPE_CHECKING:
    from prometheus_client import Histogram
    from prometheus_client.metrics_core import Metric

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Lookups are milliseconds; the top buckets catch a locked database or a slow peer.
BUCKETS = (0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_lock = threading.Lock()
_state: dict[str, Any] = {}


def prepare_multiprocess(instance_path: str) -> Path:
    """Before gunicorn forks: an empty per-run folder for the workers' metric files, named in the env."""
    folder = Path(instance_path) / "metrics"
    shutil.rmtree(folder, ignore_errors=True)  # counters of a previous run would be added to this one's
    folder.mkdir(parents=True, mode=0o700)
    os.environ[MULTIPROC_ENV] = str(folder)
    return folder


def worker_exited(_server: Any, worker: Any) -> None:
    """gunicorn `child_exit` hook: a dead worker's gauges must not be summed any more."""
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


def _histogram() -> Histogram:
    if "requests" not in _state:
        with _lock:
            if "requests" not in _state:
                from prometheus_client import CollectorRegistry, Histogram

                registry = CollectorRegistry(auto_describe=True)
                _state["registry"] = registry
                _state["requests"] = Histogram(
                    "directory_http_request_duration_seconds",
                    "HTTP requests by route endpoint, method and status (_count is the number of requests)",
                    ("endpoint", "method", "status"), buckets=BUCKETS, registry=registry)
    histogram: Histogram = _state["requests"]
    return histogram


_children: dict[tuple[str, str, int], Any] = {}


def observe_request(endpoint: str, method: str, status: int, seconds: float) -> None:
    # The labelled child is kept: `labels()` costs as much as the observation itself, on every request.
    # Endpoints are route names (a fixed set), so the cache stays small.
    key = (endpoint, method, status)
    child = _children.get(key)
    if child is None:
        child = _children[key] = _histogram().labels(endpoint, method, str(status))
    child.observe(seconds)


def render() -> tuple[bytes, str]:
    """The exposition text of every metric, and its content type."""
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

    _histogram()
    registry = CollectorRegistry(auto_describe=True)
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry.register(_state["registry"])
    registry.register(_DatabaseCollector())
    return generate_latest(registry), CONTENT_TYPE_LATEST


def _model(module: str, name: str) -> Any:
    """A model of a feature that may not be installed in this build ("if present"), else None."""
    try:
        model = getattr(importlib.import_module(f"directory.models.{module}"), name)
    except (ModuleNotFoundError, AttributeError):
        return None
    return model if db.database.table_exists(model._meta.table_name) else None


class _DatabaseCollector:
    """State that lives in the database, read at scrape time (a few grouped queries)."""

    def collect(self) -> Iterator[Metric]:
        yield from self._organisations()
        yield from self._jobs()
        yield from self._federation()

    def _organisations(self) -> Iterator[Metric]:
        from prometheus_client.core import GaugeMetricFamily

        from directory.models.entries import Organisation

        live = GaugeMetricFamily("directory_organisations", "Organisations by registrar kind (live entries)",
                                 labels=("origin",))
        node = runtime.settings()["NODE_ID"]
        local = Organisation.select().where(~Organisation.deleted & (Organisation.registrar == node)).count()
        total = Organisation.select().where(~Organisation.deleted).count()
        live.add_metric(("local",), local)
        live.add_metric(("federated",), total - local)
        yield live
        finding = _model("jobs", "FreshnessFinding")
        if finding is None:
            return
        from peewee import fn

        fresh = GaugeMetricFamily("directory_freshness_entries",
                                  "Entries by freshness status as of the last freshness check",
                                  labels=("status",))
        for status, count in (finding.select(finding.status, fn.COUNT(finding.entry_id))
                              .group_by(finding.status).tuples()):
            fresh.add_metric((status,), count)
        yield fresh

    def _jobs(self) -> Iterator[Metric]:
        run = _model("jobs", "JobRun")
        if run is None:
            return
        from peewee import fn
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        runs = CounterMetricFamily("directory_job_runs", "Scheduled job runs by outcome",
                                   labels=("job", "outcome"))
        last = GaugeMetricFamily("directory_job_last_run_timestamp_seconds",
                                 "Start of the last run of each job with each outcome",
                                 labels=("job", "outcome"))
        rows = (run.select(run.name, run.outcome, fn.COUNT(run.id), fn.MAX(run.started_at))
                .group_by(run.name, run.outcome).tuples())
        for name, outcome, count, started in rows:
            runs.add_metric((name, outcome), count)
            last.add_metric((name, outcome), started)
        yield runs
        yield last

    def _federation(self) -> Iterator[Metric]:
        peer, state = _model("federation", "Peer"), _model("federation", "PeerState")
        if peer is None or state is None:
            return
        from peewee import JOIN
        from prometheus_client.core import GaugeMetricFamily

        lag = GaugeMetricFamily("directory_federation_lag_seconds",
                                "Seconds since the last successful pull from each peer (-1: never)",
                                labels=("peer",))
        failing = GaugeMetricFamily("directory_federation_failing",
                                    "1 when a peer's last pull failed after its last success",
                                    labels=("peer",))
        size = GaugeMetricFamily("directory_federation_peer_journal_size",
                                 "Journal size of each peer's last accepted checkpoint", labels=("peer",))
        now = runtime.now()
        rows = (peer.select(peer.name, state.last_success_at, state.last_error_at, state.size)
                .join(state, on=(state.peer == peer.id), join_type=JOIN.LEFT_OUTER).tuples())
        for name, success, error, journal in rows:
            lag.add_metric((name,), now - success if success else -1)
            failing.add_metric((name,), 1 if error and (not success or error > success) else 0)
            size.add_metric((name,), journal or 0)
        yield lag
        yield failing
        yield size
