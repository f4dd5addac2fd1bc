"""Benchmark: the floor of the entry lookup in this stack, each duty DESIGN.md and issue 9 ask for added in
turn to the thinnest Flask app, over HTTP, beside bare Flask and the directory itself.

    python -P bench/floor.py [--rounds 3] [--duration 6] [--connections 16]

Every step is a Flask app with one route and nothing else (no flask-smorest, no web UI, no security
headers), served with the gunicorn configuration of `directory serve` (`directory.server.options`). Each
step keeps what the one before it did and adds one duty, using the directory's own implementation of it:

1. the stored reader view of an organisation with 10 contacts: one SELECT on the worker thread's SQLite
   connection (`directory.db`);
2. bearer-token authentication (`directory.accounts.authenticate`);
3. a request id, the structured JSON log line and the request metric (`directory.logs`,
   `directory.metrics`);
4. an audit row committed before the answer: one INSERT and one commit per read, into a scratch table,
   with neither quota nor hash chain (the prototype of TRAPS.md 26);
5. the read charge as the directory does it: quota and a hash-chained audit row, committed before the
   answer with the concurrent reads of the process (`directory.reads.charge`, group commit).

Then `directory serve` itself. The rounds are interleaved (bare, 1, 2, ... directory, bare, 1, ...) so
drift of the machine hits all alike; medians are reported as a share of bare Flask. What the table tells
is how far the DESIGN.md ratio can be reached by tuning the directory (the gap between step 5 and the
directory) and how much the duties themselves take (the steps). Prints a markdown section and
`figure:` lines for bench/run.py. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask import Flask, Response, g, request  # noqa: E402

from bench.throughput import Targets, free_port, interleaved, prepare, start, stop  # noqa: E402

STEPS = (
    "+ the stored view (one SELECT)",
    "+ bearer-token authentication",
    "+ request id, JSON log line, request metric",
    "+ an audit row committed before the answer (no quota, no chain)",
    "+ quota and hash-chained audit row, group commit (directory.reads)",
)
SCRATCH = "CREATE TABLE IF NOT EXISTS floor_audit (at INTEGER, actor TEXT, action TEXT, target TEXT)"


def create(step: int) -> Flask:
    """The step's app: GET /api/v1/organisations/<id> with duties 1..step; GET /ready for the probe."""
    from directory import accounts, config, db, logs, metrics, reads, runtime

    settings = config.resolve()
    runtime.configure(settings)
    db.open_database(settings["DATABASE_URL"])
    logs.configure("INFO")
    log = logging.getLogger("directory.request")
    app = Flask("floor")

    @app.get("/ready")
    def ready() -> Response:
        return Response("{}", mimetype="application/json")

    if step >= 3:
        @app.before_request
        def begin() -> None:
            g.started = time.perf_counter()
            g.request_id = logs.accept_request_id(request.headers.get("X-Request-Id"))

        @app.after_request
        def finish(response: Response) -> Response:
            took = time.perf_counter() - g.started
            metrics.observe_request(request.endpoint or "", request.method, response.status_code, took)
            log.info("request", extra={"request_id": g.request_id, "method": request.method,
                                       "route": "/api/v1/organisations/<entry_id>",
                                       "status": response.status_code, "duration_ms": round(took * 1000, 2)})
            response.headers["X-Request-Id"] = g.request_id
            return response

    @app.get("/api/v1/organisations/<entry_id>")
    def lookup(entry_id: str) -> Response:
        db.connect()
        if step >= 2:
            # An unknown token raises, and wrk reports the 500 as a failed run.
            actor = accounts.authenticate(request.headers.get("Authorization", "")[len("Bearer "):])
        found = db.rows("SELECT reader_view FROM organisation WHERE entry_id = ?", (entry_id,))
        if step == 4:
            with db.write():
                db.run("INSERT INTO floor_audit VALUES (?, ?, ?, ?)",
                       (runtime.now(), actor.label, "read.organisation", entry_id))
        elif step >= 5:
            reads.charge(actor, "read.organisation", entry_id, {"level": "reader"})
        return Response(found[0][0], mimetype="application/json")

    return app


def serve(step: int, port: int) -> None:
    from directory import config, db, metrics, server

    settings = config.resolve()
    db.open_database(settings["DATABASE_URL"])
    with db.database.connection_context():
        db.database.execute_sql(SCRATCH)
    db.close_database()
    # Each step its own metric files: `prepare_multiprocess` empties the folder it is given.
    metrics.prepare_multiprocess(str(Path(settings["INSTANCE_PATH"]) / f"floor-{step}"))
    server.Gunicorn(server.options("127.0.0.1", port, 2), lambda: create(step)).run()


def measure(args: argparse.Namespace) -> dict[str, list[float]]:
    instance = Path(tempfile.mkdtemp(prefix="cpd-bench-floor-"))
    env, entry_id, token = prepare(instance, "")
    reader = {"Authorization": f"Bearer {token}"}
    lookup = f"/api/v1/organisations/{entry_id}"
    servers = []
    targets: Targets = {}
    try:
        port = free_port()
        servers.append(start([sys.executable, str(ROOT / "bench" / "bare_app.py"), "--port", str(port)],
                             {}, instance / "bare.log", f"http://127.0.0.1:{port}/entry"))
        targets["bare"] = (f"http://127.0.0.1:{port}/entry", {})
        for step in range(1, len(STEPS) + 1):
            port = free_port()
            servers.append(start([sys.executable, "-P", __file__, "--serve", str(step), "--port", str(port)],
                                 env, instance / f"step{step}.log", f"http://127.0.0.1:{port}/ready"))
            targets[f"step{step}"] = (f"http://127.0.0.1:{port}{lookup}", reader)
        port = free_port()
        servers.append(start([str(Path(sys.executable).parent / "directory"), "serve", "--port", str(port),
                              "--workers", "2"], env, instance / "serve.log",
                             f"http://127.0.0.1:{port}/healthz"))
        targets["directory"] = (f"http://127.0.0.1:{port}{lookup}", reader)
        return interleaved(targets, args.rounds, args.duration, args.connections)
    finally:
        for server in servers:
            stop(server)


def report(found: dict[str, list[float]], args: argparse.Namespace) -> str:
    median = {name: statistics.median(values) for name, values in found.items()}
    bare = median["bare"]
    lines = ["#### The floor: duties added one by one to the thinnest Flask app (SQLite)", "",
             f"wrk -t2 -c{args.connections}, {args.rounds} interleaved rounds of {args.duration} s; "
             f"gunicorn gthread, 2 workers x 4 threads, wrk on the same {os.cpu_count()} CPUs; medians. "
             "Each step keeps the duties above it.", "",
             "| app | requests/s | share of bare Flask | rounds |", "|---|---:|---:|---|"]
    labels = {"bare": "bare Flask JSON", **{f"step{n}": text for n, text in enumerate(STEPS, start=1)},
              "directory": "`directory serve` (the lookup as shipped)"}
    for name, label in labels.items():
        rounds = ", ".join(f"{v:.0f}" for v in found[name])
        lines.append(f"| {label} | {median[name]:.0f} | {median[name] / bare * 100:.0f} % | {rounds} |")
    lines.append("")
    for name in labels:
        if name != "bare":
            lines.append(f"figure: floor.{name} = {median[name] / bare * 100:.1f} %")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=6)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)  # one step's server (internal)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port)
        return
    print(report(measure(args), args))


if __name__ == "__main__":
    main()
