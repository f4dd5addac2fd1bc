"""Benchmark: LDAP sync of 20,000 users (StartTLS, 8 attributes) against the floor set by the tools.

On one throwaway slapd, in one run: `ldapsearch` paging through the users, ldap3 alone paging through
them (the floor the sync is measured against: DESIGN.md wants first and no-change sync each <= 2x it),
the sync's read (LdapSource.fetch), and the whole sync (read, plan, apply, sign) for a first and a
no-change run. Prints a markdown table. Not part of the test suite.

    python bench/ldap_sync.py [--users 20000] [--repeat 3] [--keep-document-limit]

An entry is one signed document of at most 64 KiB (keys/canonical.py), about 140 contacts; 20,000
contacts cannot be one organisation's entry. To measure the apply and signing path at the size the
issue asks for, the benchmark lifts that limit in-process (say --keep-document-limit to see the refusal).
"""

from __future__ import annotations

import argparse
import os
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

warnings.filterwarnings("ignore", category=DeprecationWarning)  # pyasn1 via ldap3, imghdr via pgpy
# The repository root instead of bench/ itself, so `directory`, `bench` and `tests` import from the checkout.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

from ldap3 import NONE, SAFE_SYNC, SUBTREE, SYNC, Connection, Server, Tls  # noqa: E402

from tests.sync.directory_data import add_group, base_entries, corporate_tree  # noqa: E402
from tests.sync.slapd import SYNC_DN, SYNC_PW, Slapd, ldif, make_ca  # noqa: E402

ATTRIBUTES = ["entryUUID", "displayName", "cn", "mail", "telephoneNumber", "title", "preferredLanguage",
              "memberOf"]
PAGE = 500


def timed(func: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def ldapsearch(server: Slapd, base: str, ca: Path) -> int:
    env = {**os.environ, "LDAPTLS_CACERT": str(ca)}
    argv = ["ldapsearch", "-x", "-ZZ", "-H", server.url, "-D", SYNC_DN, "-w", SYNC_PW, "-b", base,
            "-E", f"pr={PAGE}/noprompt", "-LLL", "(objectClass=inetOrgPerson)", *ATTRIBUTES]
    done = subprocess.run(argv, env=env, capture_output=True, check=True)
    return done.stdout.count(b"\ndn: ") + done.stdout.startswith(b"dn: ")


def bare_ldap3(server: Slapd, base: str, ca: Path, strategy: str = SAFE_SYNC) -> int:
    """ldap3 alone: StartTLS, bind, page through the same entries and attributes, nothing else."""
    tls = Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=str(ca))
    # get_info=NONE as in the sync: reading the server's schema would add a fixed second to the floor.
    conn = Connection(Server("localhost", port=server.port, tls=tls, get_info=NONE), SYNC_DN, SYNC_PW,
                      client_strategy=strategy, read_only=True, auto_referrals=False)
    conn.open()
    conn.start_tls()
    conn.bind()
    count, cookie = 0, None
    while True:
        answer = conn.search(base, "(objectClass=inetOrgPerson)", SUBTREE, attributes=ATTRIBUTES,
                             paged_size=PAGE, paged_cookie=cookie)
        if strategy == SAFE_SYNC:
            _, result, response, _ = answer
        else:
            result, response = conn.result, conn.response
        count += len(response)
        cookie = result["controls"]["1.2.840.113556.1.4.319"]["value"]["cookie"]
        if not cookie:
            break
    conn.unbind()
    return count


def lift_document_limit() -> None:
    """Let one entry hold 20,000 contacts (see the module docstring): bench only."""
    from functools import partial

    from directory import entries
    from directory.keys import canonical, envelope

    big = 64 * 1024 * 1024
    envelope.ENVELOPE_MAX_BYTES = big
    canonical.load_strict = partial(canonical.load_strict, max_bytes=big)  # type: ignore[assignment]
    original = canonical.canonical_bytes
    canonical.canonical_bytes = partial(original, max_bytes=big)  # type: ignore[assignment]
    entries.canonical_bytes = canonical.canonical_bytes  # type: ignore[attr-defined]


def setup_directory(folder: Path, users: int) -> dict[str, Any]:
    from directory import config, db, documents, entries, migrations, runtime
    from directory.keys import init_node_key

    instance = folder / "instance"
    init_node_key(instance, "https://bench.example")
    settings = config.resolve({"INSTANCE_PATH": str(instance), "NODE_ID": "https://bench.example",
                               "DATABASE_URL": f"sqlite:///{folder / 'bench.db'}", "SECRET_KEY": "bench"})
    runtime.configure(settings)
    db.open_database(settings["DATABASE_URL"])
    db.connect()
    migrations.migrate()
    fields = documents.load({
        "kind": "service_provider", "name": "Bench Telecom", "country": "GB", "website": "https://corp.example",
        "switchboard_phone": "+44 20 7946 0000", "official_email_domains": ["corp.example"],
        "timezone": "Europe/London", "contacts": []})
    return {"organisation": entries.create(fields, entries.Actor.system("bench")).entry_id}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each read; the median is reported")
    parser.add_argument("--keep-document-limit", action="store_true")
    args = parser.parse_args()

    from directory.sync import run_source
    from directory.sync.config import GroupRule, SourceConfig
    from directory.sync.source import LdapSource
    from tests.sync.conftest import toml_source

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        ca = make_ca(folder / "ca")
        server = Slapd(folder / "slapd", ca)
        server.setup()
        server.start()
        try:
            started = time.perf_counter()
            tree = corporate_tree("bench", args.users, regions=4, teams=5)
            add_group(tree, "liaison", list(tree.users))
            server.add(ldif(base_entries() + tree.entries))
            load = time.perf_counter() - started
            print(f"loaded {args.users} users over LDAP in {load:.1f} s", file=sys.stderr)

            state = setup_directory(folder, args.users)
            if not args.keep_document_limit:
                lift_document_limit()
            os.environ["BENCH_LDAP_PASSWORD"] = SYNC_PW
            source = {"name": "bench", "url": server.url, "start_tls": True, "ca_file": str(ca.ca_file),
                      "bind_dn": SYNC_DN, "password_env": "BENCH_LDAP_PASSWORD", "base_dn": tree.people,
                      "organisation": state["organisation"], "membership": "member_of",
                      "max_deactivation_ratio": 1.0, "page_size": PAGE,
                      "groups": [{"dn": tree.group("liaison"), "request_types": ["preservation"]}]}
            path = folder / "sync.toml"
            path.write_text(toml_source(source))
            config = SourceConfig(**{**{k: v for k, v in source.items() if k != "groups"},
                                     "groups": (GroupRule(tree.group("liaison"), ("preservation",)),),
                                     "group_base_dn": tree.base})

            rows: list[tuple[str, float, int]] = []
            t, n = timed(lambda: ldapsearch(server, tree.people, ca.ca_file), args.repeat)
            rows.append(("`ldapsearch` paged (-ZZ)", t, n))
            t, n = timed(lambda: bare_ldap3(server, tree.people, ca.ca_file, SYNC), args.repeat)
            rows.append(("ldap3 alone, paged, SYNC strategy", t, n))
            # The sync must use SAFE_SYNC (TRAPS.md 13), which deep-copies every response: that is the
            # library's cost, so the floor is ldap3 with the same strategy.
            floor, n = timed(lambda: bare_ldap3(server, tree.people, ca.ca_file), args.repeat)
            rows.append(("ldap3 alone, paged, SAFE_SYNC = floor", floor, n))
            t, snap = timed(lambda: LdapSource(config).fetch(), args.repeat)
            rows.append(("sync read only (LdapSource.fetch)", t, len(snap.users)))
            t, first = timed(lambda: run_source("bench", dry_run=False, force=False, path=path), 1)
            rows.append((f"whole sync, first run ({first.outcome})", t, len(first.plan.additions)
                         if first.plan else 0))
            t, again = timed(lambda: run_source("bench", dry_run=False, force=False, path=path), 1)
            seen = again.plan.designated if again.plan else 0
            rows.append((f"whole sync, no change ({again.outcome})", t, seen))
        finally:
            server.stop()

    lifted = "" if args.keep_document_limit else " (64 KiB document limit lifted, see docstring)"
    print(f"\nLDAP sync benchmark: {args.users} users, StartTLS, {len(ATTRIBUTES)} attributes, "
          f"page size {PAGE}{lifted}\n")
    print("| step | seconds | entries | x ldap3 |")
    print("|---|---:|---:|---:|")
    for name, seconds, count in rows:
        print(f"| {name} | {seconds:.2f} | {count} | {seconds / floor:.2f} |")
    if first.outcome != "applied":
        print(f"\nfirst run: {first.outcome}: {first.message}")


if __name__ == "__main__":
    main()
