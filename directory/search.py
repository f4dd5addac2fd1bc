"""Search: free text and filters over the directory, the same answer on SQLite and PostgreSQL.

Matching uses the engine's full-text index (FTS5 or `tsvector`) over tokens folded in Python
(`directory.search_sql`); every query token is a prefix term, all must match (AND). Ordering is plain
SQL both engines evaluate alike, so results are identical:
1. freshness: fresh and due entries, then stale ones (not re-confirmed within CONFIRM_DAYS), then
   expired ones; expired and `source_stale` entries are shown only with `include_expired`. (The SQL
   bucket uses the entry's own clocks; each item's `status` is `directory.freshness`'s full verdict,
   so an entry stale for an untested emergency line is flagged but not moved);
2. relevance: the query is a whole name or alt name; a name starts with it; every query token starts a
   word of a name; it matched elsewhere (services, domains, contact names for readers);
3. the casefolded name, compared byte-wise, then the entry id.
`open_now` is evaluated in Python (hours, zones and holidays do not fit in SQL) over the best
OPEN_NOW_SCAN candidates in that order, and then paginated.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import peewee
from peewee import SQL, fn

from directory import audit, db, documents, freshness, hours, quota, runtime
from directory.actors import Actor
from directory.errors import Forbidden
from directory.models.entries import Organisation, OrgFacet
from directory.models.search import SearchEntry
from directory.organisations import Page as Results
from directory.search_sql import tokens

DAY = 86400
MAX_QUERY_TOKENS = 16
OPEN_NOW_SCAN = 5000
FACETS = ("language", "service_type", "request_type")
MAX_EXPORT = 1000
CSV_COLUMNS = ("id", "name", "kind", "country", "status", "website", "switchboard_phone", "languages",
               "official_email_domains", "emergency_channel", "open_now", "contacts")
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection): such cells get a
# leading apostrophe, which spreadsheets show as text. Phone numbers in E.164 ("+49...") get it too.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Query:
    text: str = ""
    country: str | None = None
    kind: str | None = None
    language: str | None = None
    service_type: str | None = None
    request_type: str | None = None
    emergency: bool = False
    open_now: bool = False
    include_expired: bool = False
    tz: str | None = None  # the caller's zone for reachable-now; default: each organisation's own


def search(query: Query, actor: Actor, page: int = 1, per_page: int = 20) -> Results:
    """One page of results; each item is a public summary with status and reachable-now."""
    now = runtime.now()
    base = _filtered(query, actor, now)
    if query.open_now:
        ids = _open_ids(base.order_by(*_order(query, now)), now)
        total = len(ids)
        chosen = ids[(page - 1) * per_page:page * per_page]
    else:
        total = base.count()
        # Order and cut on narrow columns first; the page's stored JSON is read afterwards, so the
        # sorter never carries summaries of rows that are not shown.
        narrow = base.select(SearchEntry.entry_id).order_by(*_order(query, now))
        chosen = [row["entry_id"] for row in _dicts(narrow.limit(per_page).offset((page - 1) * per_page))]
    by_id = {row["entry_id"]: row for row in _dicts(_page_rows(chosen))}
    return Results([_item(by_id[i], now, query.tz) for i in chosen], total, page, per_page)


def matching_ids(query: Query, actor: Actor, limit: int) -> list[str]:
    """Entry ids in result order (exports); `open_now` applies."""
    now = runtime.now()
    base = _filtered(query, actor, now)
    if query.open_now:
        return _open_ids(base.order_by(*_order(query, now)), now)[:limit]
    narrow = base.select(SearchEntry.entry_id).order_by(*_order(query, now))
    return [row["entry_id"] for row in _dicts(narrow.limit(limit))]


def status(row: dict[str, Any], now: int) -> freshness.Status:
    """The freshness verdict of a row holding the Organisation columns in `STATUS_COLUMNS`."""
    return freshness.evaluate(SimpleNamespace(**row), now, freshness.Policy.from_settings())


STATUS_COLUMNS = (Organisation.registrar, Organisation.not_after, Organisation.confirmed_at,
                  Organisation.freshness, Organisation.source_valid_until)


def reachable(hours_json: str, at: int, tz: str | None) -> dict[str, Any]:
    """Reachable-now of one stored `{"timezone", "working_hours"}`, in the caller's zone when given."""
    stored = json.loads(hours_json)
    answer = hours.reachability(stored["working_hours"], stored["timezone"], datetime.fromtimestamp(at, UTC))
    return answer.in_zone(tz or stored["timezone"])


def _page_rows(entry_ids: list[str]) -> Any:
    """The stored columns of the chosen rows, by id alone (the filters were applied when choosing)."""
    return (SearchEntry.select(SearchEntry.entry_id, SearchEntry.summary, SearchEntry.hours, *STATUS_COLUMNS)
            .join(Organisation, on=(Organisation.entry_id == SearchEntry.entry_id))
            .where(SearchEntry.entry_id.in_(entry_ids)))


def _dicts(query: Any) -> list[dict[str, Any]]:
    return list(query.dicts())


def _filtered(query: Query, actor: Actor, now: int) -> Any:
    selected = (SearchEntry.select(SearchEntry.entry_id, SearchEntry.summary, SearchEntry.hours,
                                   *STATUS_COLUMNS)
                .join(Organisation, on=(Organisation.entry_id == SearchEntry.entry_id)))
    terms = query_tokens(query.text)
    # SQLite plans without statistics: with text, `NOT deleted` leaves the full-text match to drive the
    # query; without, the equality lets the (deleted, country, kind) index do it.
    selected = selected.where(~Organisation.deleted if terms else Organisation.deleted == False)  # noqa: E712
    if not query.include_expired:
        selected = selected.where((Organisation.not_after > now) & (
            Organisation.source_valid_until.is_null() | (Organisation.source_valid_until > now)))
    if query.country:
        selected = selected.where(Organisation.country == query.country.upper())
    if query.kind:
        selected = selected.where(Organisation.kind == query.kind)
    wanted = [(f, getattr(query, f)) for f in FACETS if getattr(query, f)]
    if query.emergency:
        wanted.append(("emergency", "yes"))
    # A facet is often broad (most entries accept preservation requests). When text, country or kind
    # already narrow the candidates, each is checked with an indexed EXISTS; only a facet-only query
    # is driven from the facet's list.
    narrowed = bool(terms or query.country or query.kind)
    for facet, value in wanted:
        condition = (OrgFacet.facet == facet) & (OrgFacet.value == value)
        if narrowed:
            selected = selected.where(fn.EXISTS(OrgFacet.select(SQL("1")).where(
                condition & (OrgFacet.organisation == Organisation.entry_id))))
        else:
            selected = selected.where(Organisation.entry_id.in_(
                OrgFacet.select(OrgFacet.organisation).where(condition)))
    if terms:
        selected = selected.where(SearchEntry.id.in_(_text_match(terms, actor.can_read_restricted)))
    return selected


def query_tokens(text: str) -> list[str]:
    return list(dict.fromkeys(tokens(text or "")))[:MAX_QUERY_TOKENS]


def _text_match(terms: list[str], restricted: bool) -> peewee.SQL:
    """A subquery of matching search_entry ids; every term is quoted, so no user text is syntax."""
    if db.is_sqlite():
        column = "" if restricted else "public_text : "
        expression = " AND ".join(f'{column}"{t}"*' for t in terms)
        return peewee.SQL("(SELECT rowid FROM search_fts WHERE search_fts MATCH ?)", [expression])
    vector = "all_tsv" if restricted else "public_tsv"
    expression = " & ".join(f"'{t}':*" for t in terms)
    # `vector` is one of two column names chosen above; the user's terms travel as a parameter.
    return peewee.SQL(f"(SELECT id FROM search_entry WHERE {vector} @@ CAST(%s AS tsquery))",  # noqa: S608
                      [expression])


def _order(query: Query, now: int) -> list[Any]:
    confirm = int(runtime.settings()["CONFIRM_DAYS"]) * DAY
    freshness = peewee.Case(None, [(Organisation.not_after <= now, 2),
                                   (Organisation.confirmed_at <= now - confirm, 1)], 0)
    order: list[Any] = [freshness]
    terms = query_tokens(query.text)
    if terms:
        phrase = " ".join(terms)
        every_word = _all(SearchEntry.name_key ** f"% {t}%" for t in terms)
        order.append(peewee.Case(None, [(SearchEntry.name_key ** f"%| {phrase} |%", 0),
                                        (SearchEntry.name_key ** f"%| {phrase}%", 1),
                                        (every_word, 2)], 3))
    return [*order, _bytewise(SearchEntry.sort_name), _bytewise(SearchEntry.entry_id)]


def _all(conditions: Any) -> Any:
    result = None
    for condition in conditions:
        result = condition if result is None else (result & condition)
    return result


def _bytewise(column: Any) -> Any:
    """SQLite compares text byte-wise already; PostgreSQL needs the C collation to do the same."""
    if db.is_sqlite():
        return column
    return peewee.NodeList((column, peewee.SQL('COLLATE "C"')))


def _open_ids(ordered: Any, now: int) -> list[str]:
    at = datetime.fromtimestamp(now, UTC)
    found = []
    # Many entries publish the same hours in the same zone ("Mon-Fri 09:00-17:00, Europe/Berlin"):
    # one answer per distinct stored text.
    answers: dict[str, bool] = {}
    for row in _dicts(ordered.select(SearchEntry.entry_id, SearchEntry.hours).limit(OPEN_NOW_SCAN)):
        text = row["hours"]
        if text not in answers:
            stored = json.loads(text)
            answers[text] = hours.reachability(stored["working_hours"], stored["timezone"], at).open_now
        if answers[text]:
            found.append(row["entry_id"])
    return found


def _item(row: dict[str, Any], now: int, tz: str | None) -> dict[str, Any]:
    item: dict[str, Any] = json.loads(row["summary"])
    item.update(status(row, now).as_dict())
    item["not_after"] = documents.iso(row["not_after"])
    item["confirmed_at"] = documents.iso(row["confirmed_at"])
    item["reachable"] = reachable(row["hours"], now, tz)
    return item


def export_csv(query: Query, actor: Actor, limit: int = MAX_EXPORT) -> str:
    """Results (up to `limit`, in result order) as CSV with their active contacts: readers only."""
    if not actor.can_read_restricted:
        raise Forbidden("the CSV export lists contacts: it needs a reader account")
    now = runtime.now()
    ids = matching_ids(query, actor, limit)
    rows = {row["entry_id"]: row for row in _dicts(
        SearchEntry.select(SearchEntry.entry_id, SearchEntry.summary, SearchEntry.hours, *STATUS_COLUMNS,
                           Organisation.reader_view)
        .join(Organisation, on=(Organisation.entry_id == SearchEntry.entry_id))
        .where(SearchEntry.entry_id.in_(ids)))}
    if ids:
        quota.spend(actor, len(ids))
        audit.record(actor, "read.search_export", None, "ok", {"count": len(ids)})
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for entry_id in ids:
        writer.writerow([_cell(value) for value in _csv_row(rows[entry_id], now, query.tz)])
    return out.getvalue()


def _csv_row(row: dict[str, Any], now: int, tz: str | None) -> list[Any]:
    item = _item(row, now, tz)
    contacts = json.loads(row["reader_view"]).get("contacts", [])
    return [item["id"], item["name"], item["kind"], item["country"], item["status"], item.get("website"),
            item.get("switchboard_phone"), " ".join(item.get("languages", [])),
            " ".join(item.get("official_email_domains", [])), item["emergency_channel"],
            item["reachable"]["open_now"], "; ".join(f"{c['display_name']} <{c['email']}>" for c in contacts)]


def _cell(value: Any) -> str:
    text = "" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text
