"""Benchmark: entry lookup over HTTP against a bare Flask JSON endpoint, in one run, with wrk.

`directory serve` (2 gunicorn workers) answers GET /api/v1/organisations/<id> for an authenticated reader
(bearer token; each read is audited and counted against the read quota) of an organisation with 10
contacts; `bench/bare_app.py` answers a constant JSON object under the same gunicorn configuration.
DESIGN.md: the lookup serves >= 60 % of the baseline's requests/s, and an API worker's RSS <= 150 MB.

    python bench/throughput.py [--duration 10] [--connections 16] [--rounds 2] [--database-url URL]
                               [--orgs 100000]

`--orgs N` first generates N organisations (bench/generate.py, ~4 minutes for 100,000 on SQLite) beside
the one looked up, the volume at which issue 9 judges the ratio; `make bench` passes 100,000.

Without --database-url a fresh SQLite database is made in a temporary instance folder; with a PostgreSQL
server URL a temporary database is created on that server and dropped afterwards. Needs `wrk`
(Debian package `wrk`). Prints a markdown section and `figure: <name> = <value>` lines for bench/run.py.
Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import generate  # noqa: E402
from directory import accounts, config, db, documents, entries, migrations, runtime  # noqa: E402
from directory.actors import Actor  # noqa: E402
from directory.keys import init_node_key  # noqa: E402
from directory.models.audit import AuditEvent  # noqa: E402
from tests import factories  # noqa: E402

NODE_ID = "https://bench.example"
LANGS = ["de", "en", "fr", "nl", "pl"]


def organisation_with_contacts(count: int = 10) -> dict[str, Any]:
    contacts = [{"display_name": f"Liaison Officer {i:02d}", "email": f"liaison{i:02d}@telecom.example",
                 "phones": [f"+49 30 9018{i:02d}0"], "languages": LANGS[: 1 + i % 3],
                 "title": "Law enforcement liaison", "emergency": i < 2,
                 "handles_request_types": ["subscriber_info", "preservation", "traffic_data"]}
                for i in range(count)]
    return factories.organisation(contacts=contacts)


def prepare(instance: Path, database_url: str, orgs: int = 0) -> tuple[dict[str, str], str, str]:
    """Database, node key, `orgs` generated organisations (bench/generate.py) beside the one with 10
    contacts that is looked up, a reader's token; the server's env."""
    env = {"DIRECTORY_INSTANCE_PATH": str(instance), "DIRECTORY_DATABASE_URL": database_url,
           "DIRECTORY_NODE_ID": NODE_ID, "DIRECTORY_SECRET_KEY": "bench-secret-not-for-production",
           # The quota is spent on every read (that write is measured); its limit must not end the run.
           "DIRECTORY_READ_QUOTA": str(10**9)}
    settings = config.resolve({"INSTANCE_PATH": str(instance), "DATABASE_URL": database_url or "",
                               "NODE_ID": NODE_ID, "READ_QUOTA": 10**9})
    env["DIRECTORY_DATABASE_URL"] = settings["DATABASE_URL"]
    runtime.configure(settings)
    db.open_database(settings["DATABASE_URL"])
    with db.database.connection_context():
        migrations.migrate()
        if not (instance / "node-key.asc").exists():
            init_node_key(instance, NODE_ID)
        if orgs:
            generate.generate(orgs, progress=False)
        system = Actor.system("bench")
        entry_id = entries.create(documents.load(organisation_with_contacts()), system).entry_id
        token = accounts.create(f"bench-reader-{os.getpid()}", "reader", [], system).token
    db.close_database()
    return env, entry_id, token


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(cmd: list[str], env: dict[str, str], log: Path, probe: str) -> subprocess.Popen[bytes]:
    handle = log.open("ab")
    proc = subprocess.Popen(cmd, env={**os.environ, **env}, stdout=handle, stderr=handle, cwd=ROOT,
                            start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(probe, timeout=2) as response:
                if response.status == 200:
                    return proc
        except OSError:
            time.sleep(0.2)
        if proc.poll() is not None:
            break
    stop(proc)
    raise SystemExit(f"{cmd[0]} did not start; see {log}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)  # the server's own session: its master and workers
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def worker_rss_mb(master: int) -> list[float]:
    """Resident memory of the gunicorn master's children (the workers), in MB.

    `directory serve` is the gunicorn master itself (gunicorn runs in-process), so its children are the
    workers.
    """
    sizes = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) != master:
                continue
            status = (stat.parent / "status").read_text()
        except (OSError, IndexError):
            continue  # a process that ended meanwhile
        match = re.search(r"VmRSS:\s+(\d+) kB", status)
        if match:
            sizes.append(int(match.group(1)) / 1024)
    return sizes


def wrk(url: str, seconds: int, connections: int, headers: dict[str, str]) -> dict[str, float]:
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    for name, value in headers.items():
        cmd[1:1] = ["-H", f"{name}: {value}"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if bad:
        raise SystemExit(f"{url}: {bad.group(1)} error responses during the run:\n{out}")
    result = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))}  # type: ignore[union-attr]
    for pct in ("50", "90", "99"):
        match = re.search(rf"\s{pct}%\s+([\d.]+)(us|ms|s)\b", out)
        if match:
            scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[match.group(2)]
            result[f"p{pct}_ms"] = float(match.group(1)) * scale
    return result


Targets = dict[str, tuple[str, dict[str, str]]]  # name: (URL, request headers)


def interleaved(targets: Targets, rounds: int, seconds: int, connections: int) -> dict[str, list[float]]:
    """Requests/s of each target in `rounds` rounds that take the targets in turn (A, B, ..., A, B, ...),
    so drift of a shared machine hits them all alike; a short warm-up of each first (it also fails early
    on an error answer)."""
    for url, headers in targets.values():
        wrk(url, 2, connections, headers)
    found: dict[str, list[float]] = {name: [] for name in targets}
    for _ in range(rounds):
        for name, (url, headers) in targets.items():
            found[name].append(wrk(url, seconds, connections, headers)["rps"])
    return found


def audit_rows(env: dict[str, str]) -> int:
    db.open_database(env["DIRECTORY_DATABASE_URL"])
    with db.database.connection_context():
        count = int(AuditEvent.select().count())
    db.close_database()
    return count


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def temporary_database(server: str, suffix: str = "") -> str:
    import psycopg

    name = f"cpd_bench_http_{os.getpid()}{suffix}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{server.rpartition('/')[0]}/{name}"


def drop_database(server: str, url: str) -> None:
    import psycopg

    db.close_database()
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{url.rpartition("/")[2]}" WITH (FORCE)')


def run(args: argparse.Namespace) -> dict[str, Any]:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install wrk (make bench installs it when root)")
    if args.database_url.startswith("postgres"):
        server, url = args.database_url, temporary_database(args.database_url)
        try:
            return measure(args, url)
        finally:
            drop_database(server, url)
    return measure(args, "")


def measure(args: argparse.Namespace, database_url: str) -> dict[str, Any]:
    instance = Path(tempfile.mkdtemp(prefix="cpd-bench-http-"))
    env, entry_id, token = prepare(instance, database_url, args.orgs)
    ports = free_port(), free_port()
    command = str(Path(sys.executable).parent / "directory")
    directory = start([command, "serve", "--port", str(ports[0]),
                       "--workers", str(args.workers)], env, instance / "serve.log",
                      f"http://127.0.0.1:{ports[0]}/healthz")
    try:
        bare = start([sys.executable, str(ROOT / "bench" / "bare_app.py"), "--port", str(ports[1]),
                      "--workers", str(args.workers)], {}, instance / "bare.log",
                     f"http://127.0.0.1:{ports[1]}/entry")
    except BaseException:
        stop(directory)
        raise
    lookup = f"http://127.0.0.1:{ports[0]}/api/v1/organisations/{entry_id}"
    probe = f"http://127.0.0.1:{ports[0]}/healthz"
    baseline = f"http://127.0.0.1:{ports[1]}/entry"
    reader = {"Authorization": f"Bearer {token}"}
    try:
        request = urllib.request.Request(lookup, headers=reader)
        with urllib.request.urlopen(request, timeout=10) as response:
            assert len(json.loads(response.read())["contacts"]) == 10, "the reader must see 10 contacts"
        wrk(lookup, 2, args.connections, reader)  # warm-up: caches, pooled connections
        wrk(baseline, 2, args.connections, {})
        before = audit_rows(env)
        rounds: dict[str, list[dict[str, float]]] = {"lookup": [], "healthz": [], "bare": []}
        for _ in range(args.rounds):  # interleaved, so drift of the machine hits all alike
            rounds["lookup"].append(wrk(lookup, args.duration, args.connections, reader))
            # The directory's own request floor (id, metrics, JSON log line, hooks; no database):
            # tells how much of the gap to bare Flask is the lookup and how much every request pays.
            rounds["healthz"].append(wrk(probe, args.duration, args.connections, {}))
            rounds["bare"].append(wrk(baseline, args.duration, args.connections, {}))
        audited = audit_rows(env) - before
        rss = worker_rss_mb(directory.pid)
    finally:
        stop(directory)
        stop(bare)
    result = {name: {key: sum(r[key] for r in runs) / len(runs) for key in runs[0]}
              for name, runs in rounds.items()}
    requests = result["lookup"]["rps"] * args.duration * args.rounds
    return {"lookup": result["lookup"], "healthz": result["healthz"], "bare": result["bare"],
            "ratio": result["lookup"]["rps"] / result["bare"]["rps"], "rss": rss,
            # Each round's own ratio: how far one run of this machine can be trusted.
            "round_ratios": [lk["rps"] / br["rps"] for lk, br in zip(rounds["lookup"], rounds["bare"],
                                                                       strict=True)],
            "audit_per_request": audited / requests if requests else 0.0,
            "database": "PostgreSQL" if env["DIRECTORY_DATABASE_URL"].startswith("postgres") else "SQLite",
            "instance": str(instance)}


def report(found: dict[str, Any], args: argparse.Namespace) -> str:
    lookup, bare = found["lookup"], found["bare"]
    lines = [
        f"#### HTTP entry lookup vs bare Flask ({found['database']})", "",
        f"wrk -t2 -c{args.connections}, {args.rounds} interleaved rounds of {args.duration} s each; "
        f"gunicorn gthread, {args.workers} workers x 4 threads, on loopback with wrk on the same "
        f"{os.cpu_count()} CPUs. {args.orgs:,} generated organisations in the database besides the one "
        f"looked up. Reader token, organisation with 10 contacts; audit rows written per "
        f"request: {found['audit_per_request']:.2f}.", "",
        "| endpoint | requests/s | p50 ms | p90 ms | p99 ms |", "|---|---:|---:|---:|---:|",
    ]
    for name, row in (("GET /api/v1/organisations/{id} (reader)", lookup),
                      ("GET /healthz (the directory's per-request floor)", found["healthz"]),
                      ("bare Flask JSON", bare)):
        lines.append(f"| {name} | {row['rps']:.0f} | {row.get('p50_ms', 0):.2f} | {row.get('p90_ms', 0):.2f} "
                     f"| {row.get('p99_ms', 0):.2f} |")
    per_round = ", ".join(f"{r * 100:.0f} %" for r in found["round_ratios"])
    lines += ["", f"Ratio: **{found['ratio'] * 100:.0f} %** (target >= 60 %; per round: {per_round}). "
              "Worker RSS after the run: "
              + ", ".join(f"{mb:.0f} MB" for mb in found["rss"]) + " (target <= 150 MB).", ""]
    # DESIGN.md's targets are on SQLite; PostgreSQL's figures are reported under their own names.
    prefix = "http" if found["database"] == "SQLite" else "http_postgresql"
    lines += [f"figure: {prefix}.lookup_ratio = {found['ratio'] * 100:.1f} %",
              f"figure: {prefix}.lookup_rps = {lookup['rps']:.0f} req/s",
              f"figure: {prefix}.bare_rps = {bare['rps']:.0f} req/s",
              f"figure: {prefix}.healthz_rps = {found['healthz']['rps']:.0f} req/s",
              f"figure: {prefix}.worker_rss = {max(found['rss'], default=0):.0f} MB"]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk round")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--orgs", type=int, default=0,
                        help="organisations generated beside the one looked up")
    parser.add_argument("--database-url", default="",
                        help="a PostgreSQL server URL (a temporary database is made there); "
                             "default: SQLite in a temporary instance folder")
    args = parser.parse_args()
    found = run(args)
    print(report(found, args))
    shutil.rmtree(found["instance"], ignore_errors=True)


if __name__ == "__main__":
    main()
