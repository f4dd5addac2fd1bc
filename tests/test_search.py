# ruff: noqa: RUF001  (internationalised names are the point of these tests)
"""Search and resolve give the same answers on SQLite and PostgreSQL (acceptance 1).

The suite runs once per database; both runs compare against one committed golden file
(`tests/data/search_golden.json`), so a difference between the engines fails one of the runs.
Regenerate it deliberately with `DIRECTORY_WRITE_GOLDEN=1 pytest tests/test_search.py` and read the diff.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from directory import entries, resolve, search, seeding
from directory.actors import Actor
from directory.models.audit import AuditEvent
from directory.models.search import SearchEntry
from tests import factories
from tests.conftest import ADMIN

GOLDEN = Path(__file__).parent / "data" / "search_golden.json"
NOW = 1_790_000_000  # 2026-09-21, a Monday: inside every demo entry's validity
READER = Actor("account", "reader", "reader", account_id=None)
PUBLIC = Actor.anonymous()

SEARCHES: list[dict[str, Any]] = [
    {"text": "Kibercinayətkarlığa"},
    {"text": "kibercinayetkarliga"},  # without the Azerbaijani letters
    {"text": "KIBERCİNAYƏTKARLIĞA"},  # Turkish dotted capital I
    {"text": "киберпреступностью"},
    {"text": "cybercrime"},
    {"text": "cyber"},
    {"text": "Cybercrime", "country": "DE"},
    {"text": "police cyber"},
    {"text": '"foo* AND (bar'},
    {"text": 'NEAR(cyber police) OR "x" -y ^z :* & | ! \\ \' ` { } [ ]'},
    {"text": "cyber*"},
    {"text": "example.net"},
    {"text": "beispielnetz.example"},
    {"text": "Hoffmann"},
    {"text": "Hoffmann", "reader": True},
    {"text": ""},
    {"text": "", "kind": "service_provider"},
    {"text": "", "language": "pt"},
    {"text": "", "service_type": "hosting"},
    {"text": "", "request_type": "preservation", "country": "DE"},
    {"text": "", "emergency": True, "country": "AZ"},
    {"text": "Nümunə"},
    {"text": "numune"},
    {"text": "24"},
    {"text": "Repressão"},
]
RESOLVES: list[dict[str, str]] = [
    {"ip": "192.0.2.1"}, {"ip": "192.0.2.130"}, {"ip": "192.0.2.200"}, {"ip": "198.51.100.200"},
    {"ip": "198.51.100.7"}, {"ip": "203.0.113.140"}, {"ip": "10.0.0.1"}, {"ip": "2001:db8:1a0::1"},
    {"ip": "2001:db8:1a1::1"}, {"ip": "2001:db8:2ff:ffff::1"}, {"ip": "2001:db8:40f::1"},
    {"asn": "AS64500"}, {"asn": "65537"}, {"asn": "1"}, {"domain": "mail.shop.beispielnetz.example"},
    {"domain": "mail.numune-telekom.example.net"}, {"domain": "x.numune-telekom.example.net"},
    {"domain": "example.net"}, {"email": "someone@kiber.polis.example"},
    {"email": "a@sub.policiacivil.example.org"},
]


def _short(entry_id: str) -> str:
    return entry_id.rsplit(":", 1)[1][:8]


def _search_ids(case: dict[str, Any]) -> dict[str, Any]:
    args = {k: v for k, v in case.items() if k != "reader"}
    actor = READER if case.get("reader") else PUBLIC
    result = search.search(search.Query(**args), actor, page=1, per_page=50)
    return {"total": result.total, "ids": [_short(i["id"]) for i in result.items]}


def _resolve_ids(case: dict[str, str]) -> list[dict[str, Any]]:
    answer = resolve.resolve(case, PUBLIC)
    return [{"id": _short(m["organisation"]["id"]), "matched": m["matched"]} for m in answer["matches"]]


@pytest.fixture
def demo(app: Flask, clock: Callable[[float], None]) -> None:
    clock(NOW - 86400)
    seeding.load()
    clock(NOW)


def test_search_and_resolve_match_the_golden_file_on_this_database(demo: None) -> None:
    observed = {"search": [_search_ids(c) for c in SEARCHES], "resolve": [_resolve_ids(c) for c in RESOLVES]}
    if os.environ.get("DIRECTORY_WRITE_GOLDEN") == "1":
        GOLDEN.write_text(json.dumps(observed, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    expected = json.loads(GOLDEN.read_text(encoding="utf-8"))
    for index, case in enumerate(SEARCHES):
        assert observed["search"][index] == expected["search"][index], case
    for index, lookup in enumerate(RESOLVES):
        assert observed["resolve"][index] == expected["resolve"][index], lookup


def test_internationalised_name_is_found_with_and_without_its_letters(demo: None) -> None:
    for text in ("Kibercinayətkarlığa", "kibercinayetkarliga", "KIBERCİNAYƏTKARLIĞA"):
        assert _search_ids({"text": text})["ids"] == ["4ba71ab7"], text
    assert _search_ids({"text": "Kibercinay"})["ids"] == ["25318bf2", "4ba71ab7"]  # prefix: both


def test_fts_syntax_characters_are_only_text(demo: None) -> None:
    assert _search_ids({"text": '"foo* AND (bar'}) == {"total": 0, "ids": []}
    assert _search_ids({"text": 'Wattle" (*'})["ids"] == ["acbdc057"]
    assert _search_ids({"text": "Wattle OR Exampleshire"})["ids"] == []  # OR is a word, and all must match
    assert _search_ids({"text": "Wattle*"})["ids"] == ["acbdc057"]


def test_contact_names_are_searchable_by_readers_only(demo: None) -> None:
    assert _search_ids({"text": "Hoffmann"})["ids"] == []
    assert _search_ids({"text": "Hoffmann", "reader": True})["ids"] == ["3ce1b347"]


def test_a_readers_search_by_words_is_an_audited_read_without_the_words(demo: None) -> None:
    """Words are matched against contact names for readers: which organisation has a contact of that name
    is restricted. The search is audited and counted, its words (perhaps a name) are not recorded."""
    def searches() -> list[AuditEvent]:
        return list(AuditEvent.select().where(AuditEvent.action == "read.search").order_by(AuditEvent.seq))

    search.search(search.Query(text="Hoffmann"), PUBLIC)
    search.search(search.Query(country="DE"), READER)  # filters alone touch no contact
    assert searches() == []
    search.search(search.Query(text="Hoffmann"), READER)
    [event] = searches()
    assert (event.actor, json.loads(event.details)) == (READER.label, {"results": 1})
    assert "Hoffmann" not in event.details and "Hoffmann" not in (event.target or "")


def test_relevance_puts_a_whole_name_before_a_partial_one(make_org: Callable[..., str],
                                                            clock: Callable[[float], None]) -> None:
    clock(NOW)
    later = make_org(name="Alpha Cyber Services", alt_names=None)
    exact = make_org(name="Zeta Cyber", alt_names=None)
    elsewhere = make_org(name="Aardvark Hosting", alt_names=None,
                         services=[{"name": "Zeta Cyber mail", "type": "email"}])
    ids = [i["id"] for i in search.search(search.Query(text="zeta cyber"), PUBLIC).items]
    assert ids == [exact, elsewhere]
    ids = [i["id"] for i in search.search(search.Query(text="cyber"), PUBLIC).items]
    assert ids == [later, exact, elsewhere]


def test_expired_entries_are_hidden_unless_asked_for(make_org: Callable[..., str],
                                                     clock: Callable[[float], None]) -> None:
    clock(NOW)
    entry_id = make_org(name="Short Lived Telecom")
    clock(NOW + 400 * 86400)
    assert search.search(search.Query(text="short lived"), PUBLIC).items == []
    items = search.search(search.Query(text="short lived", include_expired=True), PUBLIC).items
    assert [(i["id"], i["status"]) for i in items] == [(entry_id, "expired")]


def test_stale_entries_come_after_fresh_ones(make_org: Callable[..., str],
                                             clock: Callable[[float], None]) -> None:
    clock(NOW)
    stale = make_org(name="Aaa Stale Telecom")
    clock(NOW + 200 * 86400)
    fresh = make_org(name="Zzz Fresh Telecom")
    items = search.search(search.Query(text="telecom"), PUBLIC).items
    assert [i["id"] for i in items] == [fresh, stale]
    assert items[1]["status"] == "stale" and items[0]["status"] in {"fresh", "due"}
    assert any("not confirmed" in reason for reason in items[1]["status_reasons"])


def test_edits_and_deletion_keep_the_index_in_step(make_org: Callable[..., str],
                                                   clock: Callable[[float], None]) -> None:
    clock(NOW)
    entry_id = make_org(name="Renamed Later Telecom")
    entries.update(entry_id, {"name": "Quokka Networks"}, ADMIN)
    assert search.search(search.Query(text="renamed"), PUBLIC).total == 0
    assert [i["id"] for i in search.search(search.Query(text="quokka"), PUBLIC).items] == [entry_id]
    entries.delete(entry_id, ADMIN)
    assert search.search(search.Query(text="quokka"), PUBLIC).total == 0
    assert SearchEntry.select().where(SearchEntry.entry_id == entry_id).count() == 0


def test_pagination_happens_in_sql_and_is_stable(make_org: Callable[..., str],
                                                 clock: Callable[[float], None]) -> None:
    clock(NOW)
    made = [make_org(name=f"Pager Telecom {n:02d}", alt_names=None) for n in range(7)]
    pages = [search.search(search.Query(text="pager"), PUBLIC, page=p, per_page=3) for p in (1, 2, 3, 4)]
    assert [p.total for p in pages] == [7, 7, 7, 7]  # full, full, last (short), past the end
    assert [i["id"] for p in pages for i in p.items] == made
    assert search.search(search.Query(text="pager"), PUBLIC, page=1, per_page=10).total == 7


def test_overlapping_and_ipv6_prefixes_resolve_to_the_longest(make_org: Callable[..., str],
                                                              clock: Callable[[float], None]) -> None:
    clock(NOW)
    wide = make_org(name="Wide Transit", ip_prefixes=["10.0.0.0/8", "2001:db8::/32"],
                    domains=["wide.example"])
    narrow = make_org(name="Narrow Access", ip_prefixes=["10.1.0.0/16", "2001:db8:abc::/48"],
                      domains=["shop.wide.example"])
    same = make_org(name="Also Narrow", ip_prefixes=["10.1.0.0/16"], domains=None)
    assert _ids({"ip": "10.2.3.4"}) == [wide]
    assert _ids({"ip": "10.1.3.4"}) == [same, narrow]  # equally specific: both, by name
    assert _ids({"ip": "2001:db8:abc:1::5"}) == [narrow]
    assert _ids({"ip": "2001:db8:abd::5"}) == [wide]
    assert _ids({"ip": "2001:db9::1"}) == []
    assert _ids({"domain": "mail.shop.wide.example"}) == [narrow]
    assert _ids({"domain": "other.wide.example"}) == [wide]
    assert _ids({"email": "x@SHOP.wide.example"}) == [narrow]


def _ids(lookup: dict[str, str]) -> list[str]:
    return [m["organisation"]["id"] for m in resolve.resolve(lookup, PUBLIC)["matches"]]


def test_a_factory_organisation_is_indexed_with_its_summary(make_org: Callable[..., str]) -> None:
    entry_id = make_org(**factories.organisation(name="Summary Telecom"))
    row = SearchEntry.get(SearchEntry.entry_id == entry_id)
    assert json.loads(row.summary)["name"] == "Summary Telecom"
    assert "erika" in row.restricted_text and "erika" not in row.public_text


def test_the_migration_backfill_indexes_entries_written_before_it(make_org: Callable[..., str],
                                                                  clock: Callable[[float], None]) -> None:
    from directory import search_sql

    clock(NOW)
    entry_id = make_org(name="Backfilled Telecom")
    SearchEntry.delete().execute()
    assert search.search(search.Query(text="backfilled"), PUBLIC).total == 0
    assert search_sql.backfill() == 1
    assert [i["id"] for i in search.search(search.Query(text="backfilled"), PUBLIC).items] == [entry_id]


def test_filters_are_answered_by_the_index_and_never_by_search_text(make_org: Callable[..., str],
                                                                     clock: Callable[[float], None]) -> None:
    from directory.search_sql import filter_token

    clock(NOW)
    german = make_org(name="Filtered Telecom", languages=["de", "pt-BR"],
                      services=[{"name": "Fibre", "type": "fixed_access"}])
    make_org(name="Filtered Networks", country="FR", timezone="Europe/Paris", emergency_channels=None,
             languages=["fr"], working_hours={"always_open": True})

    def found(**options: Any) -> list[str]:
        return [i["id"] for i in search.search(search.Query(**options), PUBLIC).items]

    assert found(text="filtered", country="de") == [german]
    assert found(text="filtered", emergency=True, service_type="fixed_access") == [german]
    assert found(language="pt-BR") == [german]
    for text in ("country", filter_token("country", "DE"), "kind", "emergency", "language"):
        assert found(text=text) == [], text  # filter tokens start with "_", which no search term does


def test_the_filters_migration_fills_rows_indexed_before_it(make_org: Callable[..., str],
                                                            clock: Callable[[float], None]) -> None:
    from directory import db, search_sql

    clock(NOW)
    entry_id = make_org(name="Before Filters Telecom")
    expected = SearchEntry.get(SearchEntry.entry_id == entry_id)
    SearchEntry.update(filters="", registrar="", not_after=0, confirmed_at=0).execute()
    with db.write():
        search_sql.add_filters()
    row = SearchEntry.get(SearchEntry.entry_id == entry_id)
    assert (row.filters, row.registrar, row.not_after, row.confirmed_at) == (
        expected.filters, expected.registrar, expected.not_after, expected.confirmed_at)
    found = search.search(search.Query(text="before", country="DE"), PUBLIC).items
    assert [i["id"] for i in found] == [entry_id]


@pytest.mark.parametrize("walk_factor", [0, 10**9])  # always sort each freshness bucket / always walk
def test_queries_without_text_page_alike_by_walking_or_sorting(make_org: Callable[..., str],
                                                               clock: Callable[[float], None],
                                                               monkeypatch: pytest.MonkeyPatch,
                                                               walk_factor: int) -> None:
    clock(NOW - 200 * 86400)
    for n in range(3):
        make_org(name=f"Old Walker {n}", alt_names=None)  # stale by NOW
    clock(NOW)
    for n, country in enumerate(("DE", "FR", "DE", "DE", "FR")):
        make_org(name=f"Walker {5 - n}", alt_names=None, country=country)
    monkeypatch.setattr(search, "WALK_FACTOR", walk_factor)
    for query in (search.Query(), search.Query(country="DE"), search.Query(kind="service_provider"),
                  search.Query(include_expired=True, language="de")):
        found = search._candidates(query, PUBLIC, NOW)
        expected = search._ordered_ids(found, search._order(query, NOW), 100, 0)
        pages = [search._by_name(query, PUBLIC, NOW, 3, offset) for offset in (0, 3, 6, 9)]
        assert [total for _, total in pages] == [len(expected)] * 4, query
        assert [i for ids, _ in pages for i in ids] == expected, query
