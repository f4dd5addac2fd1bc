"""Benchmark: where an entry lookup's time goes, measured in-process (no HTTP server, no load generator).

    python bench/lookup_cost.py [--batches 60] [--batch 50]

The WSGI app that `directory serve` runs answers the same requests as bench/throughput.py, called
directly: the bare Flask JSON endpoint, /healthz, and the reader's lookup of an organisation with 10
contacts. Then the lookup is measured again with its parts taken away one after the other
(bench/knockouts.py), each replaced by nothing in this process only: the restricted-read charge (quota
and audit row, `directory.reads`), the structured request log line, the request metric, the web UI's
request hooks, the time-dependent fields (signature statuses, freshness).
What remains after the last step is Flask, the hooks that are left, authentication, the SELECT of the
stored view, and building the response.

Each figure is the fastest of `--batches` runs of `--batch` requests (the least disturbed by other
processes on the machine), in µs per request. bench/throughput.py gives the HTTP figures; README
"Performance" relates the two. Prints a markdown section and `figure:` lines for bench/run.py.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import bare_app, knockouts, throughput  # noqa: E402

Call = Callable[[], None]


def wsgi_call(app: Any, path: str, headers: dict[str, str]) -> Call:
    """One GET of `path` through the app's WSGI interface; the answer must be a 200."""
    base = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": "", "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http",
            "wsgi.errors": sys.stderr, "wsgi.multithread": True, "wsgi.multiprocess": True,
            "wsgi.run_once": False, "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "127.0.0.1:8000"}
    base.update({"HTTP_" + name.upper().replace("-", "_"): value for name, value in headers.items()})

    def start(status: str, _headers: Any, _exc: Any = None) -> None:
        if not status.startswith("200"):
            raise SystemExit(f"{path} answered {status}")

    def call() -> None:
        for _ in app({**base, "wsgi.input": io.BytesIO()}, start):
            pass

    return call


def fastest(call: Call, batches: int, batch: int) -> float:
    """µs per request: the fastest of `batches` runs of `batch` calls, after a warm-up."""
    for _ in range(batch * 2):
        call()
    best = float("inf")
    for _ in range(batches):
        started = time.perf_counter()
        for _ in range(batch):
            call()
        best = min(best, time.perf_counter() - started)
    return best / batch * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batches", type=int, default=60)
    parser.add_argument("--batch", type=int, default=50)
    args = parser.parse_args()

    instance = Path(tempfile.mkdtemp(prefix="cpd-bench-cost-"))
    env, entry_id, token = throughput.prepare(instance, "")
    os.environ.update(env)
    from directory import logs, metrics, server

    metrics.prepare_multiprocess(str(instance))  # as under `directory serve`: metric files per worker
    app = server.directory_app()
    logs.configure("INFO", (instance / "requests.log").open("a"))  # a file, as a served node's stderr

    bare = wsgi_call(bare_app.create(), "/entry", {})
    healthz = wsgi_call(app, "/healthz", {})
    lookup = wsgi_call(app, f"/api/v1/organisations/{entry_id}", {"Authorization": f"Bearer {token}"})

    rows = [("bare Flask JSON", fastest(bare, args.batches, args.batch)),
            ("GET /healthz", fastest(healthz, args.batches, args.batch)),
            ("GET /api/v1/organisations/{id} (reader)", fastest(lookup, args.batches, args.batch))]
    for step, name in enumerate(knockouts.PARTS):
        knockouts.take_away(app, [name])
        label = f"{'without' if step == 0 else '... and without'} {knockouts.PARTS[name][0]}"
        rows.append((label, fastest(lookup, args.batches, args.batch)))

    print("#### Where a lookup's time goes (in-process, no HTTP)\n")
    print(f"The app called through WSGI; fastest of {args.batches} runs of {args.batch} requests; parts "
          "taken away one after the other.\n")
    print("| request | µs per request | less than the row above |")
    print("|---|---:|---:|")
    previous = None
    for label, micros in rows:
        saved = f"{previous - micros:.0f}" if previous is not None and label.startswith(("without", "...")) \
            else ""
        print(f"| {label} | {micros:.0f} | {saved} |")
        previous = micros
    print()
    names = ["bare", "healthz", "lookup"] + [f"no_{name}" for name in knockouts.PARTS]
    for name, (_, micros) in zip(names, rows, strict=True):
        print(f"figure: cost.{name} = {micros:.0f} us")


if __name__ == "__main__":
    main()
