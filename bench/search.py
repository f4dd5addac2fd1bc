"""Benchmark: search, resolve and verify on 100,000 generated organisations (DESIGN.md targets:
search p95 <= 20 ms, IP/ASN/domain lookup p95 <= 10 ms, verification of an Ed25519-signed message
p95 <= 25 ms).

Generates the data with `bench/generate.py` into a temporary database (SQLite by default; a temporary
database on the PostgreSQL server named by --database-url otherwise), then times the domain calls the
API views make — `search.search`, `resolve.resolve`, `verify.verify` — in this process, one at a time,
after a warm-up. HTTP and JSON encoding are not included (bench/throughput.py measures the HTTP layer).

    python -P bench/search.py [--orgs 100000] [--samples 400] [--database-url postgresql://...]
                              [--cache DIR]

With --cache (SQLite only) the generated database, the keys and the sample documents are kept in DIR
and reused by the next run with the same --orgs, as long as the code that shapes the stored rows
(bench/generate.py, directory/search_sql.py, directory/projection.py, the entry and search models) is
unchanged and the data is less than a day old; anything else regenerates it. Migration steps added
since are applied to the reused database.
Generation takes ~4 minutes for 100,000 organisations; a reused cache starts measuring in seconds.
The cached run opens the same file the fresh run would have built, so the figures are comparable.

Prints a markdown table and `figure:` lines for bench/run.py.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

warnings.filterwarnings("ignore")  # pgpy's and cryptography's deprecation warnings
# The repository root instead of bench/ itself, so `directory`, `bench` and `tests` import from the checkout.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

from bench.freshness import database  # noqa: E402
from bench.generate import generate  # noqa: E402
from directory import config, db, migrations, resolve, runtime, search, verify  # noqa: E402
from directory.actors import Actor  # noqa: E402
from directory.keys import init_node_key, load_node_key  # noqa: E402
from directory.vocabulary import REQUESTING_KINDS  # noqa: E402

NODE_ID = "https://bench.example"
PUBLIC = Actor.anonymous("192.0.2.1")
READER = Actor("account", "bench", "reader", account_id=None)  # no account row: quota not counted
ROOT = Path(__file__).resolve().parent.parent
# The code whose change alters the generated rows: a cache built by other code is rebuilt. Migration
# steps added later are applied to a reused database (as `directory init-db` does to a real one).
SHAPING_CODE = ("bench/generate.py", "directory/search_sql.py", "directory/projection.py",
                "directory/models/entries.py", "directory/models/search.py")
CACHE_DAYS = 1
MESSAGE = "Preservation request 2026/{n:04d}: please preserve the subscriber data of 11.0.0.{n}.\n"


def percentiles(times: list[float]) -> tuple[float, float, float]:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * len(ordered)) - 1)]
    return statistics.median(ordered) * 1000, p95 * 1000, ordered[-1] * 1000


def measure(calls: list[Callable[[], Any]], warmup: int = 20) -> list[float]:
    for call in calls[:warmup]:
        call()
    times = []
    for call in calls:
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return times


def search_calls(docs: list[dict[str, Any]], rng: random.Random, n: int) -> list[Callable[[], Any]]:
    calls: list[Callable[[], Any]] = []
    for i in range(n):
        doc = rng.choice(docs)
        first, second = doc["name"].split()[:2]
        query = [search.Query(text=first), search.Query(text=f"{first} {second}"),
                 search.Query(text=first[:4]), search.Query(text=first, country=doc["country"]),
                 search.Query(country=doc["country"], kind=doc["kind"]),
                 search.Query(text=second, request_type="preservation"),
                 search.Query(text="telecom", country=doc["country"], emergency=True),
                 search.Query(text=f"{first} cybercrime unit")][i % 8]
        calls.append(lambda q=query: search.search(q, PUBLIC, 1, 20))
    return calls


def open_now_calls(docs: list[dict[str, Any]], rng: random.Random, n: int) -> list[Callable[[], Any]]:
    queries = [search.Query(country=rng.choice(docs)["country"], kind="service_provider", open_now=True)
               for _ in range(n)]
    return [lambda q=q: search.search(q, PUBLIC, 1, 20) for q in queries]


def resolve_calls(docs: list[dict[str, Any]], rng: random.Random, n: int) -> list[Callable[[], Any]]:
    isps = [d for d in docs if d["kind"] == "service_provider"]
    calls: list[Callable[[], Any]] = []
    for i in range(n):
        doc = rng.choice(isps)
        v4 = doc["ip_prefixes"][0].rsplit(".", 1)[0] + f".{rng.randint(1, 254)}"
        v6 = doc["ip_prefixes"][1].split("::")[0] + f":{rng.randint(1, 0xFFFF):x}::1"
        lookup = [{"ip": v4}, {"ip": v6}, {"asn": str(doc["asns"][0])},
                  {"domain": f"mail.{doc['domains'][0]}"}, {"email": f"abuse@{doc['domains'][1]}"}][i % 5]
        calls.append(lambda q=lookup: resolve.resolve(q, PUBLIC))
    return calls


def verify_calls(docs: list[dict[str, Any]], rng: random.Random, n: int,
                 officer: Any) -> list[Callable[[], Any]]:
    # Entries confirmed within 150 days: a stale entry answers "caution", a different path.
    recent = runtime.now() - 150 * 86400
    police = [d for d in docs if d["kind"] in REQUESTING_KINDS and d["confirmed_at"] > recent]
    signed = [(MESSAGE.format(n=k), officer.sign(MESSAGE.format(n=k).encode())) for k in range(20)]
    calls: list[Callable[[], Any]] = []
    for i in range(n):
        contact = rng.choice(police)["contacts"][0]
        data, signature = signed[i % len(signed)]
        request = verify.Request(email=contact["email"], request_type=contact["authorised_request_types"][0],
                                 data=data, signature=signature)
        calls.append(lambda r=request: _verified(r))
    return calls


def _verified(request: verify.Request) -> None:
    answer = verify.verify(request, READER)
    if answer["verdict"] != "verified":  # a benchmark of a failing path would measure the wrong thing
        raise SystemExit(f"unexpected verdict {answer['verdict']}: {answer['checks']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orgs", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=400)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--cache", default="", help="keep and reuse the generated SQLite database here")
    args = parser.parse_args()
    rng = random.Random(7)
    if args.cache and args.database_url:
        parser.error("--cache keeps a SQLite database; it does not apply to --database-url")
    prepared = cached(Path(args.cache), args.orgs) if args.cache else fresh(args.database_url, args.orgs)
    with prepared as (docs, officer):
        if not db.is_sqlite():
            db.database.execute_sql("ANALYZE")
        report([("search (text + filters)", "search.search_p95",
                 measure(search_calls(docs, rng, args.samples))),
                ("search with open_now", "search.open_now_p95", measure(open_now_calls(docs, rng, 40), 3)),
                ("resolve (IP v4/v6, ASN, domain, email)", "search.resolve_p95",
                 measure(resolve_calls(docs, rng, args.samples))),
                ("verify (Ed25519 detached signature)", "verify.p95",
                 measure(verify_calls(docs, rng, args.samples // 2, officer)))])
        db.close_database()


def report(rows: list[tuple[str, str, list[float]]]) -> None:
    print("\n| operation | samples | p50 ms | p95 ms | max ms |\n|---|---|---|---|---|")
    for label, _, times in rows:
        p50, p95, worst = percentiles(times)
        print(f"| {label} | {len(times)} | {p50:.2f} | {p95:.2f} | {worst:.2f} |")
    print()
    for _, figure, times in rows:
        print(f"figure: {figure} = {percentiles(times)[1]:.2f} ms")


@contextmanager
def fresh(database_url: str, orgs: int) -> Iterator[tuple[list[dict[str, Any]], Any]]:
    """Generate into a temporary database (SQLite, or one created on the PostgreSQL server)."""
    with tempfile.TemporaryDirectory() as folder, database(database_url or None) as url:
        yield build(Path(folder), url, orgs)


@contextmanager
def cached(folder: Path, orgs: int) -> Iterator[tuple[list[dict[str, Any]], Any]]:
    """The SQLite database kept in `folder`, generated first when missing or out of date."""
    meta = {"orgs": orgs, "code": code_fingerprint()}
    stamp = folder / "cache.json"
    if stamp.exists() and _still_valid(json.loads(stamp.read_text()), meta):
        yield reuse(folder)
        return
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    docs, officer = build(folder, f"sqlite:///{folder}/bench.db", orgs)
    (folder / "sample.json").write_text(json.dumps(docs))
    stamp.write_text(json.dumps({**meta, "generated_at": runtime.now()}))
    yield docs, officer


def _still_valid(stored: dict[str, Any], meta: dict[str, Any]) -> bool:
    young = time.time() - stored.get("generated_at", 0) < CACHE_DAYS * 86400
    return young and all(stored.get(k) == v for k, v in meta.items())


def code_fingerprint() -> str:
    digest = hashlib.sha256()
    for name in SHAPING_CODE:
        digest.update(name.encode() + b"\0" + (ROOT / name).read_bytes())
    return digest.hexdigest()


def build(folder: Path, url: str, orgs: int) -> tuple[list[dict[str, Any]], Any]:
    """Node key, officer key, schema and `orgs` generated organisations in the database at `url`."""
    init_node_key(folder, NODE_ID)
    _open(folder, url)
    migrations.migrate()
    officer = init_node_key(folder / "officer", "officer@bench.example")  # an Ed25519 key
    started = time.perf_counter()
    docs = generate(orgs, contact_key=(officer.fingerprint, officer.public_armored))
    print(f"generated {orgs} organisations ({orgs * 5} contacts) in "
          f"{time.perf_counter() - started:.0f} s on {'SQLite' if db.is_sqlite() else 'PostgreSQL'}")
    return docs, officer


def reuse(folder: Path) -> tuple[list[dict[str, Any]], Any]:
    _open(folder, f"sqlite:///{folder}/bench.db")
    migrations.migrate()
    officer = load_node_key(folder / "officer")
    print(f"reused the generated database in {folder} (bench/search.py --cache)")
    return json.loads((folder / "sample.json").read_text()), officer


def _open(folder: Path, url: str) -> None:
    runtime.configure(config.resolve({"INSTANCE_PATH": str(folder), "DATABASE_URL": url, "NODE_ID": NODE_ID}))
    db.open_database(url)
    db.connect()


if __name__ == "__main__":
    main()
