"""Search: free text and filters over the directory, the same answer on SQLite and PostgreSQL.

Matching uses the engine's full-text index (FTS5 or `tsvector`) over tokens folded in Python
(`directory.search_sql`); every query token is a prefix term, all must match (AND), and so must the
filters, which are exact tokens of the same index. Ordering is plain SQL both engines evaluate alike,
so results are identical:
1. freshness: fresh and due entries, then stale ones (not re-confirmed within CONFIRM_DAYS), then
   expired ones; expired and `source_stale` entries are shown only with `include_expired`. (The SQL
   bucket uses the entry's own clocks; each item's `status` is `directory.freshness`'s full verdict,
   so an entry stale for an untested emergency line is flagged but not moved);
2. relevance: the query is a whole name or alt name; a name starts with it; every query token starts a
   word of a name; it matched elsewhere (services, domains, contact names for readers);
3. the casefolded name, compared byte-wise, then the entry id.
`open_now` is evaluated in Python (hours, zones and holidays do not fit in SQL) over the best
OPEN_NOW_SCAN candidates in that order, and then paginated.

Filtering, counting and ordering read only the narrow columns copied into `search_entry` (on SQLite from
the `search_entry_rank` index, or for a query without text by walking `search_entry_by_name` in result
order); the summaries, hours and organisation status columns are read for the one page shown. The
statements are plain SQL: peewee takes longer to compose them than they take to run.
"""

from __future__ import annotations

import csv
import functools
import io
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from directory import db, documents, freshness, hours, reads, runtime
from directory.actors import Actor
from directory.errors import Forbidden
from directory.models.entries import Organisation
from directory.models.search import SearchEntry
from directory.paging import Page as Results
from directory.search_sql import filter_token, tokens

DAY = 86400
MAX_QUERY_TOKENS = 16
OPEN_NOW_SCAN = 5000
# Walking the name index past a row that does not match costs about a third of finding and sorting a
# candidate (measured on 100,000 entries): `_by_name` walks when that is the cheaper way to its page.
WALK_FACTOR = 3
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
    found = _candidates(query, actor, now)
    if query.open_now:
        ids = _open_ids(found, _order(query, now), now)
        total = len(ids)
        chosen = ids[(page - 1) * per_page:page * per_page]
    else:
        # Order and cut on narrow columns first; the page's stored JSON is read afterwards, so the
        # sorter never carries summaries of rows that are not shown.
        offset = (page - 1) * per_page
        if db.is_sqlite() and not query_tokens(query.text):
            chosen, total = _by_name(query, actor, now, per_page, offset)
        else:
            chosen, total = _page_and_count(found, _order(query, now), per_page, offset)
    by_id = {row["entry_id"]: row for row in _page_rows(chosen)}
    results = Results([_item(by_id[i], now, query.tz) for i in chosen], total, page, per_page)
    if actor.can_read_restricted and query_tokens(query.text):
        # A reader's words are matched against contact names too: which organisation has a contact of
        # that name is restricted knowledge, so the search is a restricted read (quota and audit). The
        # words themselves are not recorded: they may be a person's name.
        reads.charge(actor, "read.search", None, {"results": total})
    return results


def matching_ids(query: Query, actor: Actor, limit: int) -> list[str]:
    """Entry ids in result order (exports); `open_now` applies."""
    now = runtime.now()
    found = _candidates(query, actor, now)
    if query.open_now:
        return _open_ids(found, _order(query, now), now)[:limit]
    return _ordered_ids(found, _order(query, now), limit, 0)


def status(row: dict[str, Any], now: int) -> freshness.Status:
    """The freshness verdict of a row holding the Organisation columns in `STATUS_COLUMNS`."""
    return freshness.evaluate(SimpleNamespace(**row), now, freshness.Policy.from_settings())


STATUS_COLUMNS = (Organisation.registrar, Organisation.not_after, Organisation.confirmed_at,
                  Organisation.freshness, Organisation.source_valid_until)


def reachable(hours_json: str, at: int, tz: str | None) -> dict[str, Any]:
    """Reachable-now of one stored `{"timezone", "working_hours"}`, in the caller's zone when given."""
    return dict(_reachable(hours_json, at, tz))  # a copy: the remembered answer stays as computed


# Many entries publish the same hours in the same zone and answers are asked for the same second by every
# item of a page and by concurrent searches: the answer (a flat dict) is computed once per text and instant.
@functools.lru_cache(maxsize=2048)
def _reachable(hours_json: str, at: int, tz: str | None) -> dict[str, Any]:
    stored = json.loads(hours_json)
    answer = hours.reachability(stored["working_hours"], stored["timezone"], datetime.fromtimestamp(at, UTC))
    return answer.in_zone(tz or stored["timezone"])


@dataclass(frozen=True)
class _Sql:
    """A fragment of SQL with `?` markers and its parameters."""

    sql: str
    params: tuple[Any, ...] = ()

    def __add__(self, other: _Sql) -> _Sql:
        return _Sql(f"{self.sql} {other.sql}", self.params + other.params)


def _page_rows(entry_ids: list[str]) -> list[dict[str, Any]]:
    """The stored columns of the chosen rows, by id alone (the filters were applied when choosing)."""
    if not entry_ids:
        return []
    names = ("entry_id", "summary", "hours", *(c.name for c in STATUS_COLUMNS))
    marks = ", ".join("?" * len(entry_ids))
    rows = db.rows("SELECT s.entry_id, s.summary, s.hours, o.registrar, o.not_after, o.confirmed_at, "  # noqa: S608
                 "o.freshness, o.source_valid_until FROM search_entry s "
                 f"JOIN organisation o ON o.entry_id = s.entry_id WHERE s.entry_id IN ({marks})",
                 tuple(entry_ids))
    return [dict(zip(names, row, strict=True)) for row in rows]


def _candidates(query: Query, actor: Actor, now: int, *, by_name: bool = False,
                extra: _Sql | None = None) -> _Sql:
    """FROM and WHERE of the matching search rows: text and filters inside the full-text index, then
    the clocks copied into the row (and `extra`).

    On SQLite the row's narrow columns are read from an index, never from the wide row (texts,
    summary, hours): `search_entry_rank` keyed by the full-text rowid, or with `by_name`
    `search_entry_by_name` walked in name order. The organisation row is read only for other
    registrars' entries when expired ones are hidden (`_SOURCE_LIVE`).
    """
    sqlite = db.is_sqlite()
    index = "search_entry_by_name" if by_name else "search_entry_rank"
    source = f"search_entry s INDEXED BY {index}" if sqlite else "search_entry s"
    conditions: list[_Sql] = []
    terms = query_tokens(query.text)
    wanted = filter_tokens(query)
    if terms or wanted:
        match = _match(terms, wanted, actor.can_read_restricted)
        if sqlite and by_name:  # the name index drives; the matches are a list it looks up
            match = _Sql("s.id IN (SELECT rowid FROM search_fts WHERE search_fts MATCH ?)", match.params)
        elif sqlite:  # the full-text match drives: a join, not an IN list built first
            source = f"search_fts f JOIN {source} ON s.id = f.rowid"
        conditions.append(match)
    if not query.include_expired:
        conditions.append(_Sql(f"s.not_after > ? AND {_SOURCE_LIVE}",
                               (now, str(runtime.settings()["NODE_ID"]), now)))
    conditions += [extra] if extra else []
    where = " AND ".join(c.sql for c in conditions)
    return _Sql(f"FROM {source}" + (f" WHERE {where}" if where else ""),
                tuple(p for c in conditions for p in c.params))


def _by_name(query: Query, actor: Actor, now: int, limit: int, offset: int) -> tuple[list[str], int]:
    """A page and the total of a query without text on SQLite (order: freshness bucket, then name).

    Filters alone match thousands (a country and a kind): finding and sorting every candidate for one
    page costs more than walking the name index bucket by bucket and stopping when the page is full.
    The count per bucket still visits every candidate, once. A bucket holding few of the table's rows
    would make the walk long: it is sorted instead.
    """
    buckets = _buckets(now)
    counting = ", ".join(f"COALESCE(SUM(CASE WHEN {b.sql} THEN 1 ELSE 0 END), 0)" for b in buckets)
    found = _candidates(query, actor, now)
    params = tuple(p for b in buckets for p in b.params) + found.params
    counts = db.rows(f"SELECT {counting} {found.sql}", params)[0]
    rows_in_table = int(db.rows("SELECT COALESCE(MAX(id), 0) FROM search_entry", ())[0][0])
    total, chosen = sum(counts), list[str]()
    for bucket, count in zip(buckets, counts, strict=True):
        want = limit - len(chosen)
        if want <= 0:
            break
        if offset >= count:
            offset -= count
            continue
        walk = (offset + want) * rows_in_table <= WALK_FACTOR * count * total
        page = (_Sql("SELECT s.entry_id") + _candidates(query, actor, now, by_name=walk, extra=bucket)
                + _Sql("ORDER BY s.sort_name, s.entry_id LIMIT ? OFFSET ?", (want, offset)))
        chosen += [row[0] for row in db.rows(page.sql, page.params)]
        offset = 0
    return chosen, total


def _buckets(now: int) -> list[_Sql]:
    """The freshness buckets of `_order`, in order, as conditions."""
    stale = now - int(runtime.settings()["CONFIRM_DAYS"]) * DAY
    return [_Sql("(s.not_after > ? AND s.confirmed_at > ?)", (now, stale)),
            _Sql("(s.not_after > ? AND s.confirmed_at <= ?)", (now, stale)),
            _Sql("s.not_after <= ?", (now,))]


# Not `source_stale`: this node's own entries never are (their `source_valid_until` stays empty,
# `federation.peers.peer_valid_until`), so only other registrars' rows look at the organisation.
_SOURCE_LIVE = ("(s.registrar = ? OR EXISTS (SELECT 1 FROM organisation o WHERE o.entry_id = s.entry_id "
                "AND (o.source_valid_until IS NULL OR o.source_valid_until > ?)))")


def filter_tokens(query: Query) -> list[str]:
    """The `filters` tokens a result must carry (`search_sql.filter_token`)."""
    wanted = [("country", query.country.upper() if query.country else None), ("kind", query.kind)]
    wanted += [(f, getattr(query, f)) for f in FACETS]
    wanted.append(("emergency", "yes" if query.emergency else None))
    return [filter_token(facet, value) for facet, value in wanted if value]


def query_tokens(text: str) -> list[str]:
    return list(dict.fromkeys(tokens(text or "")))[:MAX_QUERY_TOKENS]


def _match(terms: list[str], wanted: list[str], restricted: bool) -> _Sql:
    """Rows holding every term (a prefix, in the text the actor may search) and every filter token.

    Every token is quoted and travels as a parameter, so no user text is query syntax; filter tokens
    start with `_`, which no term does, so terms need no column restriction to stay off them.
    """
    if db.is_sqlite():
        column = "" if restricted else "public_text : "
        expression = " AND ".join([f'{column}"{t}"*' for t in terms] + [f'"{w}"' for w in wanted])
        return _Sql("search_fts MATCH ?", (expression,))
    conditions = []
    if terms:
        vector = "s.all_tsv" if restricted else "s.public_tsv"  # one of two column names
        conditions.append(_Sql(f"{vector} @@ CAST(? AS tsquery)", (" & ".join(f"'{t}':*" for t in terms),)))
    if wanted:
        conditions.append(_Sql("s.filter_tsv @@ CAST(? AS tsquery)", (" & ".join(f"'{w}'" for w in wanted),)))
    return _Sql(" AND ".join(c.sql for c in conditions), tuple(p for c in conditions for p in c.params))


def _order(query: Query, now: int) -> _Sql:
    """ORDER BY: freshness bucket, relevance tier (with text), then name and id compared byte-wise."""
    confirm = int(runtime.settings()["CONFIRM_DAYS"]) * DAY
    parts = [_Sql("CASE WHEN s.not_after <= ? THEN 2 WHEN s.confirmed_at <= ? THEN 1 ELSE 0 END",
                  (now, now - confirm))]
    terms = query_tokens(query.text)
    if terms:
        # ILIKE on PostgreSQL, LIKE (ASCII case-insensitive) on SQLite: both sides are folded already.
        like = "LIKE" if db.is_sqlite() else "ILIKE"
        phrase = " ".join(terms)
        every_word = " AND ".join([f"s.name_key {like} ?"] * len(terms))
        parts.append(_Sql(f"CASE WHEN s.name_key {like} ? THEN 0 WHEN s.name_key {like} ? THEN 1 "
                          f"WHEN {every_word} THEN 2 ELSE 3 END",
                          (f"%| {phrase} |%", f"%| {phrase}%", *(f"% {t}%" for t in terms))))
    collate = "" if db.is_sqlite() else ' COLLATE "C"'  # SQLite compares text byte-wise already
    parts.append(_Sql(f"s.sort_name{collate}, s.entry_id{collate}"))
    return _Sql("ORDER BY " + ", ".join(p.sql for p in parts), tuple(v for p in parts for v in p.params))


def _page_and_count(found: _Sql, order: _Sql, limit: int, offset: int) -> tuple[list[str], int]:
    """One page of entry ids and the number of candidates, from one statement: the full-text match
    (the dearest part of a broad word with filters) is evaluated once, not once more to count."""
    page = (_Sql("SELECT s.entry_id, COUNT(*) OVER ()") + found + order
            + _Sql("LIMIT ? OFFSET ?", (limit, offset)))
    rows = db.rows(page.sql, page.params)
    if rows:
        return [row[0] for row in rows], int(rows[0][1])
    return [], _count(found) if offset else 0  # past the end: the count needs a statement of its own


def _count(found: _Sql) -> int:
    return int(db.rows(f"SELECT COUNT(*) {found.sql}", found.params)[0][0])


def _ordered_ids(found: _Sql, order: _Sql, limit: int, offset: int) -> list[str]:
    page = _Sql("SELECT s.entry_id") + found + order + _Sql("LIMIT ? OFFSET ?", (limit, offset))
    return [row[0] for row in db.rows(page.sql, page.params)]


def _open_ids(found: _Sql, order: _Sql, now: int) -> list[str]:
    at = datetime.fromtimestamp(now, UTC)
    found_ids = []
    # Many entries publish the same hours in the same zone ("Mon-Fri 09:00-17:00, Europe/Berlin"):
    # one answer per distinct stored text.
    answers: dict[str, bool] = {}
    scan = _Sql("SELECT s.entry_id, s.hours") + found + order + _Sql("LIMIT ?", (OPEN_NOW_SCAN,))
    for entry_id, text in db.rows(scan.sql, scan.params):
        if text not in answers:
            stored = json.loads(text)
            answers[text] = hours.reachability(stored["working_hours"], stored["timezone"], at).open_now
        if answers[text]:
            found_ids.append(entry_id)
    return found_ids


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
    selected: Any = (SearchEntry.select(SearchEntry.entry_id, SearchEntry.summary, SearchEntry.hours,
                                        *STATUS_COLUMNS, Organisation.reader_view)
                     .join(Organisation, on=(Organisation.entry_id == SearchEntry.entry_id))
                     .where(SearchEntry.entry_id.in_(ids)).dicts())
    rows = {row["entry_id"]: row for row in selected}
    if ids:
        reads.charge(actor, "read.search_export", None, {"count": len(ids)}, len(ids))
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
