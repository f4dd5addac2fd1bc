"""A/B of the HTTP entry lookup: another git ref against this checkout, served side by side.

    python -P bench/ab.py REF [--rounds 4] [--duration 8] [--database-url postgresql://...]

On a shared machine one bench/throughput.py run moves by ±20 %, more than most changes are worth.
This starts `directory serve` from REF (a temporary `git worktree`) and from this checkout, each with its
own fresh database, plus bare Flask. It then runs `wrk` rounds in turn, A, B, bare, A, B, bare, so that
drift of the machine hits all three alike. Medians are compared. Each side prepares its own database with
its own code, so the two refs may differ in migrations. Not part of `make bench`.

`--without charge,log` serves B without those parts (bench/knockouts.py): `ab.py HEAD --without charge`
tells what the read charge costs over HTTP, where waiting for the write counts too.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.throughput import (  # noqa: E402
    Targets,
    drop_database,
    free_port,
    interleaved,
    start,
    stop,
    temporary_database,
)

# Run inside each side's tree: its own code makes its database, node key, organisation and token.
PREPARE = """
import json, sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from bench import throughput
env, entry_id, token = throughput.prepare(Path(sys.argv[2]), sys.argv[3])
print(json.dumps({"env": env, "entry": entry_id, "token": token}))
"""
# argv[1]: the parts to take away from B (bench/knockouts.py), comma-separated, or "".
SERVE = """
import sys
from directory.cli import main
if sys.argv[1]:
    from bench import knockouts
    knockouts.serve_without(sys.argv[1].split(","))
sys.argv[0:2] = ["directory"]
main()
"""


def side(tree: Path, url: str, port: int, log: Path,
         without: str = "") -> tuple[subprocess.Popen[bytes], str, str]:
    """Prepare and serve one side on database `url` ("" for SQLite), with the parts `without` taken away;
    its server, lookup URL and token."""
    instance = Path(tempfile.mkdtemp(prefix="cpd-bench-ab-"))
    out = subprocess.run([sys.executable, "-P", "-c", PREPARE, str(tree), str(instance), url], cwd=tree,
                         check=True, capture_output=True, text=True).stdout
    prepared = json.loads(out.strip().splitlines()[-1])
    env = {**prepared["env"], "PYTHONPATH": str(tree)}
    server = start([sys.executable, "-P", "-c", SERVE, without, "serve", "--port", str(port),
                    "--workers", "2"], env, log, f"http://127.0.0.1:{port}/healthz")
    return server, f"http://127.0.0.1:{port}/api/v1/organisations/{prepared['entry']}", prepared["token"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("ref", help="the git ref to compare this checkout with (A)")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--duration", type=int, default=8, help="seconds per wrk round")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--database-url", default="", help="a PostgreSQL server URL; default SQLite")
    parser.add_argument("--without", default="", help="parts taken away from B, comma-separated: "
                        "charge, log, metric, web, timely (bench/knockouts.py); with REF = HEAD this "
                        "measures what those parts cost over HTTP")
    args = parser.parse_args()

    worktree = Path(tempfile.mkdtemp(prefix="cpd-bench-ab-ref-"))
    subprocess.run(["git", "worktree", "add", "--detach", str(worktree), args.ref], cwd=ROOT, check=True,
                   capture_output=True)
    logs = Path(tempfile.mkdtemp(prefix="cpd-bench-ab-logs-"))
    servers: list[subprocess.Popen[bytes]] = []
    databases: list[str] = []
    try:
        targets: Targets = {}
        for name, tree in (("A", worktree), ("B", ROOT)):
            if args.database_url:
                databases.append(temporary_database(args.database_url, f"_{name.lower()}"))
            database = databases[-1] if args.database_url else ""
            server, url, token = side(tree, database, free_port(), logs / f"{name}.log",
                                      args.without if name == "B" else "")
            servers.append(server)
            targets[name] = (url, {"Authorization": f"Bearer {token}"})
        port = free_port()
        servers.append(start([sys.executable, str(ROOT / "bench" / "bare_app.py"), "--port", str(port)],
                             {}, logs / "bare.log", f"http://127.0.0.1:{port}/entry"))
        targets["bare"] = (f"http://127.0.0.1:{port}/entry", {})
        found = interleaved(targets, args.rounds, args.duration, args.connections)
    finally:
        for server in servers:
            stop(server)
        for database in databases:
            drop_database(args.database_url, database)
        subprocess.run(["git", "worktree", "remove", "--force", str(worktree)], cwd=ROOT, check=False,
                       capture_output=True)
    median = {name: statistics.median(values) for name, values in found.items()}
    print(f"lookups/s, median of {args.rounds} rounds of {args.duration} s "
          f"({'PostgreSQL' if args.database_url else 'SQLite'}; server logs in {logs}):")
    b_label = f"B = this checkout{' without ' + args.without if args.without else ''}"
    for name, label in (("A", f"A = {args.ref}"), ("B", b_label), ("bare", "bare Flask")):
        rounds = ", ".join(f"{v:.0f}" for v in found[name])
        share = f"  ({median[name] / median['bare'] * 100:.0f} % of bare)" if name != "bare" else ""
        print(f"  {label:40s} {median[name]:8.0f}{share}   rounds: {rounds}")
    print(f"B / A = {median['B'] / median['A']:.3f}")


if __name__ == "__main__":
    main()
