"""Benchmark: federation pulls (targets, DESIGN.md: first pull of 10,000 signed entries ≤ 60 s, an
incremental pull of 10 changes ≤ 1 s).

Node A gets N entries written through `entries.create` (signed, journaled, projected) and is served by a
real `directory serve` process; node B pins A and pulls over HTTP on loopback, verifying every envelope
and the hash chain, then applies everything in one transaction. Then A changes 10 entries and B pulls
again. Both nodes use SQLite files in a temporary folder.

    python -P bench/federation.py [--entries 10000] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from directory import config, db, documents, entries, migrations, runtime
from directory.actors import Actor
from directory.keys import init_node_key

ADMIN = Actor.system("bench")
ORG: dict[str, Any] = {
    "kind": "service_provider", "country": "DE", "website": "https://www.telecom.example",
    "switchboard_phone": "+49 30 901820", "official_email_domains": ["telecom.example"],
    "languages": ["de", "en"], "timezone": "Europe/Berlin",
    "working_hours": {"weekly": {d: [["08:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
                      "holidays_country": "DE"},
    "asns": [64500], "ip_prefixes": ["192.0.2.0/24"], "domains": ["telecom.example"],
    "contacts": [{"display_name": "Erika Mustermann", "email": "erika.mustermann@telecom.example",
                  "phones": ["+49 30 901822"], "languages": ["de"], "title": "Law enforcement liaison",
                  "handles_request_types": ["subscriber_info", "preservation"]}],
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def settings_for(folder: Path, node_id: str) -> dict[str, Any]:
    return {"INSTANCE_PATH": str(folder), "DATABASE_URL": f"sqlite:///{folder}/directory.db",
            "NODE_ID": node_id, "SECRET_KEY": "bench-secret", "FEDERATION_ALLOW_HTTP": True}


def become(values: dict[str, Any]) -> None:
    """Switch this process to one node's settings and database."""
    db.close_database()
    settings = config.resolve(values)
    runtime.configure(settings)
    db.open_database(settings["DATABASE_URL"])
    db.connect()
    migrations.migrate()


def seed(count: int) -> list[str]:
    ids = []
    for start in range(0, count, 500):
        with db.write():  # batches: one commit per 500 entries instead of one per entry
            for number in range(start, min(count, start + 500)):
                fields = documents.load({**ORG, "name": f"Provider {number:05d}"})
                ids.append(entries.create(fields, ADMIN).entry_id)
    return ids


def serve(folder: Path, node_id: str, port: int, workers: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIRECTORY_")}
    env.update(DIRECTORY_INSTANCE_PATH=str(folder), DIRECTORY_NODE_ID=node_id,
               DIRECTORY_SECRET_KEY="bench-secret")
    server = subprocess.Popen([sys.executable, "-c", "from directory.cli import main; main()", "serve",
                               "--port", str(port), "--workers", str(workers)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{node_id}/.well-known/cpd-node", timeout=5)
            return server
        except OSError:
            if time.monotonic() > deadline:
                server.terminate()
                raise
            time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--profile", action="store_true", help="Print where the first pull spends its time.")
    args = parser.parse_args()
    from directory.federation import peers
    from directory.federation.pull import pull_peer
    from directory.models.federation import Peer

    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        a_id, b_id = f"http://127.0.0.1:{port}", "http://127.0.0.1:1"
        a_dir, b_dir = Path(tmp, "a"), Path(tmp, "b")
        a_key, b_key = init_node_key(a_dir, a_id), init_node_key(b_dir, b_id)
        a, b = settings_for(a_dir, a_id), settings_for(b_dir, b_id)

        become(a)
        started = time.perf_counter()
        ids = seed(args.entries)
        print(f"node A: {len(ids)} entries written and signed in {time.perf_counter() - started:.1f} s")
        Peer.create(name="b", url=b_id, node_id=b_id, fingerprint=b_key.fingerprint,
                    public_key=b_key.public_armored, created_at=runtime.now())
        server = serve(a_dir, a_id, port, args.workers)
        try:
            become(b)
            peers.add("a", a_id, a_key.fingerprint, ADMIN)
            started = time.perf_counter()
            if args.profile:
                import cProfile
                import pstats

                with cProfile.Profile() as profile:
                    first = pull_peer("a")
                pstats.Stats(profile).sort_stats("cumulative").print_stats(30)
            else:
                first = pull_peer("a")
            first_s = time.perf_counter() - started
            assert first.ok, first.reason
            print(f"first pull: {first.applied} entries verified and applied in {first_s:.2f} s "
                  f"(target ≤ 60 s)")

            become(a)
            for entry_id in ids[:10]:
                entries.update(entry_id, {"name": f"Renamed {entry_id[-8:]}"}, ADMIN)
            become(b)
            started = time.perf_counter()
            second = pull_peer("a")
            second_s = time.perf_counter() - started
            assert second.ok and second.applied == 10, second
            print(f"incremental pull: {second.applied} changes in {second_s * 1000:.0f} ms (target ≤ 1 s)")
        finally:
            server.terminate()
            server.wait(timeout=30)
            db.close_database()


if __name__ == "__main__":
    main()
