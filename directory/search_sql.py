"""The search index: folding text into tokens, keeping the index rows in step, and the engine DDL.

Why tokens are made here and not by the engines: SQLite's FTS5 tokenizers and PostgreSQL's text-search
parser split and fold text differently (hosts, hyphenated words, diacritics), so identical results on
both need identical lexemes. Python folds (NFKC, casefold, NFKD without combining marks) and splits on
everything that is not a letter or digit; the engines receive plain space-separated tokens — FTS5 with a
`unicode61` tokenizer that keeps them as they are, PostgreSQL via `array_to_tsvector`, which takes
lexemes verbatim. Queries are folded the same way and every token becomes a quoted prefix term, so
user text never reaches either engine's query syntax.

The filters (country, kind, language, service type, request type, emergency) are tokens too, in a column
of their own (`filters`; `filter_tsv` on PostgreSQL), so a broad word plus filters is answered inside the
full-text index instead of joining thousands of hits to organisations. A filter token is `_facet_` and
the value in hex: one exact token for any value, and since folded text never holds `_`, no text token
equals one and no user term (a prefix of letters and digits) reaches one.

`index(doc)` is called by `directory.projection` inside the transaction that writes each version.
"""

from __future__ import annotations

import json
import unicodedata
from typing import Any

from directory import db, documents, lookalike, validators
from directory.models.search import DomainSkeleton, SearchEntry, SearchPhone
from directory.vocabulary import REQUESTING_KINDS

MAX_TOKENS = 2000  # bounds one entry's index size; names come first, so they always fit
# Letters without a Unicode decomposition that people type as their plain Latin look-alike.
_PLAIN = str.maketrans({
    "ı": "i", "ə": "e", "ø": "o", "æ": "ae", "œ": "oe", "đ": "d", "ł": "l",  # noqa: RUF001
    "þ": "th", "ħ": "h", "ŋ": "n", "ð": "d"})
_SUMMARY_FIELDS = ("name", "alt_names", "kind", "country", "website", "switchboard_phone", "languages",
                   "timezone", "official_email_domains")


def tokens(text: str) -> list[str]:
    """Folded letter/digit runs of `text`, in order (duplicates kept): no case, no diacritics."""
    text = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text).casefold().translate(_PLAIN))
    out: list[str] = []
    current: list[str] = []
    for ch in text:
        category = unicodedata.category(ch)
        if category[0] in "LN":
            current.append(ch)
        elif category[0] == "M":
            continue  # a combining mark belongs to its letter: dropped, not a separator
        elif current:
            out.append("".join(current))
            current = []
    if current:
        out.append("".join(current))
    return [unicodedata.normalize("NFC", t) for t in out]


def token_text(parts: list[str]) -> str:
    """Unique tokens of `parts`, space-separated, first occurrence first, capped."""
    seen: dict[str, None] = {}
    for part in parts:
        for token in tokens(part):
            if len(seen) >= MAX_TOKENS:
                break
            seen.setdefault(token[:100], None)
    return " ".join(seen)


def filter_token(facet: str, value: str) -> str:
    """The one token standing for `facet = value` in the `filters` column (exact, case-sensitive)."""
    return f"_{facet}_{value.encode().hex()}"


def filter_text(country: str, kind: str, facet_values: set[tuple[str, str]]) -> str:
    """Every filter value of an entry as tokens: its country and kind and its `facets`."""
    pairs = [("country", country), ("kind", kind), *sorted(facet_values)]
    return " ".join(filter_token(f, v) for f, v in pairs)


def facets(doc: dict[str, Any]) -> set[tuple[str, str]]:
    """The filter values of an entry: languages, service types, request types, emergency."""
    active = [c for c in doc.get("contacts", []) if c.get("active", True)]
    out = {("language", lang) for lang in doc.get("languages", [])}
    out |= {("service_type", s["type"]) for s in doc.get("services", [])}
    field = "authorised_request_types" if doc["kind"] in REQUESTING_KINDS else "handles_request_types"
    out |= {("request_type", rt) for c in active for rt in c.get(field, [])}
    out |= {("request_type", p["request_type"]) for p in doc.get("programme", {}).get("procedures", [])}
    if doc.get("emergency_channels") or any(c.get("emergency") for c in active):
        out.add(("emergency", "yes"))
    return out


def names_of(doc: dict[str, Any]) -> list[str]:
    return [doc["name"], *(a["name"] for a in doc.get("alt_names", []))]


def index(doc: dict[str, Any]) -> None:
    """Rewrite the index rows of one entry from its current document (a tombstone removes them)."""
    entry_id = doc["entry_id"]
    for model in (SearchEntry, SearchPhone, DomainSkeleton):
        model.delete().where(model.entry_id == entry_id).execute()
    if doc["typ"] == documents.TOMBSTONE_TYP:
        return
    for model, rows in index_rows(doc).items():
        db.insert_rows(model, rows)


def index_rows(doc: dict[str, Any]) -> dict[Any, list[dict[str, Any]]]:
    """The index rows of a live entry, by model (also used by bulk loaders such as bench/generate.py)."""
    entry_id = doc["entry_id"]
    entry = {
        "entry_id": entry_id, "public_text": token_text(_public_parts(doc)),
        "restricted_text": token_text(_restricted_parts(doc)),
        "filters": filter_text(doc["country"], doc["kind"], facets(doc)),
        "registrar": doc["registrar"], "not_after": doc["not_after"], "confirmed_at": doc["confirmed_at"],
        "name_key": "| " + " | ".join(" ".join(tokens(n)) for n in names_of(doc)) + " |",
        "sort_name": unicodedata.normalize("NFC", doc["name"].casefold())[:300],
        "summary": json.dumps(summary(doc), ensure_ascii=False),
        "hours": json.dumps({"timezone": doc["timezone"], "working_hours": doc.get("working_hours")})}
    phones = {("", doc["switchboard_phone"])} | {
        (c["contact_id"], p) for c in doc.get("contacts", []) for p in c.get("phones", [])}
    domains = sorted(set(doc.get("official_email_domains", [])))
    return {
        SearchEntry: [entry],
        SearchPhone: [{"entry_id": entry_id, "contact_id": cid, "phone": p} for cid, p in sorted(phones)],
        DomainSkeleton: [{"entry_id": entry_id, "domain": d, "skeleton": lookalike.skeleton(d)}
                         for d in domains],
    }


def summary(doc: dict[str, Any]) -> dict[str, Any]:
    """What a search result shows about an organisation: public, organisation-level fields only."""
    out = {"id": doc["entry_id"], "registrar": doc["registrar"], "version": doc["version"]}
    out.update({k: doc[k] for k in _SUMMARY_FIELDS if k in doc})
    out["emergency_channel"] = bool(doc.get("emergency_channels"))
    out["service_types"] = sorted({s["type"] for s in doc.get("services", [])})
    return out


def _public_parts(doc: dict[str, Any]) -> list[str]:
    parts = names_of(doc)
    parts += [doc.get("legal_name") or "", doc.get("registration_id") or ""]
    parts += [s["name"] for s in doc.get("services", [])]
    parts += doc.get("official_email_domains", []) + doc.get("domains", [])[:200]
    parts += [lookalike.to_unicode(d) for d in doc.get("official_email_domains", [])]
    return parts


def _restricted_parts(doc: dict[str, Any]) -> list[str]:
    active = [c for c in doc.get("contacts", []) if c.get("active", True)]
    return [text for c in active for text in (c["display_name"], c.get("title") or "", c["email"])]


def normalise_phone(value: str) -> str | None:
    try:
        return validators.phone(value.strip())
    except ValueError:
        return None


# --- engine-specific structures (migration steps) ---

_TRIGGERS = ("search_entry_ai", "search_entry_ad", "search_entry_au")
_SQLITE_DDL = (
    # External-content FTS5 over search_entry, kept in step by triggers: deleting or rewriting a
    # search_entry row (also a bulk DELETE) removes its old tokens, so the index never drifts.
    "CREATE VIRTUAL TABLE IF NOT EXISTS search_fts USING fts5(public_text, restricted_text, filters, "
    "content='search_entry', content_rowid='id', tokenize=\"unicode61 remove_diacritics 0 tokenchars '_'\", "
    "prefix='2 3 4')",
    "CREATE TRIGGER IF NOT EXISTS search_entry_ai AFTER INSERT ON search_entry BEGIN "
    "INSERT INTO search_fts(rowid, public_text, restricted_text, filters) "
    "VALUES (new.id, new.public_text, new.restricted_text, new.filters); END",
    "CREATE TRIGGER IF NOT EXISTS search_entry_ad AFTER DELETE ON search_entry BEGIN "
    "INSERT INTO search_fts(search_fts, rowid, public_text, restricted_text, filters) "
    "VALUES ('delete', old.id, old.public_text, old.restricted_text, old.filters); END",
    "CREATE TRIGGER IF NOT EXISTS search_entry_au AFTER UPDATE ON search_entry BEGIN "
    "INSERT INTO search_fts(search_fts, rowid, public_text, restricted_text, filters) "
    "VALUES ('delete', old.id, old.public_text, old.restricted_text, old.filters); "
    "INSERT INTO search_fts(rowid, public_text, restricted_text, filters) "
    "VALUES (new.id, new.public_text, new.restricted_text, new.filters); END",
    # What ordering and the clock filters read, so a search scans this index and never the wide rows
    # (texts, summary, hours) of its candidates: `search.search` names it (INDEXED BY), keyed by the
    # FTS5 rowid the text match yields.
    "CREATE INDEX IF NOT EXISTS search_entry_rank ON search_entry "
    "(id, not_after, confirmed_at, registrar, sort_name, entry_id, name_key)",
    # The same columns in result order, for a query without text (`search._by_name`).
    "CREATE INDEX IF NOT EXISTS search_entry_by_name ON search_entry "
    "(sort_name, entry_id, not_after, confirmed_at, registrar, id)",
)
_LEXEMES = "array_to_tsvector(array_remove(string_to_array({}, ' '), ''))"
_POSTGRES_DDL = (
    "ALTER TABLE search_entry ADD COLUMN IF NOT EXISTS public_tsv tsvector GENERATED ALWAYS AS ("
    + _LEXEMES.format("public_text") + ") STORED",
    "ALTER TABLE search_entry ADD COLUMN IF NOT EXISTS all_tsv tsvector GENERATED ALWAYS AS ("
    + _LEXEMES.format("public_text || ' ' || restricted_text") + ") STORED",
    "ALTER TABLE search_entry ADD COLUMN IF NOT EXISTS filter_tsv tsvector GENERATED ALWAYS AS ("
    + _LEXEMES.format("filters") + ") STORED",
    # Two-column GIN indexes: text and filter conditions are intersected in one index scan.
    "DROP INDEX IF EXISTS search_entry_public_tsv",
    "DROP INDEX IF EXISTS search_entry_all_tsv",
    "CREATE INDEX IF NOT EXISTS search_entry_public_filter ON search_entry "
    "USING gin (public_tsv, filter_tsv)",
    "CREATE INDEX IF NOT EXISTS search_entry_all_filter ON search_entry USING gin (all_tsv, filter_tsv)",
)


def create_structures() -> None:
    """Migration step: the index tables, the engine's full-text structures, and a backfill."""
    from directory.models.search import RateCounter

    db.database.create_tables([SearchEntry, SearchPhone, DomainSkeleton, RateCounter], safe=True)
    _create_full_text()
    backfill()


def _create_full_text() -> None:
    for statement in _SQLITE_DDL if db.is_sqlite() else _POSTGRES_DDL:
        db.database.execute_sql(statement)


def add_filters() -> None:
    """Migration step: fill the copied columns of rows indexed before they existed, then rebuild the
    full-text structures with the `filters` column (the columns themselves are added by the caller)."""
    if db.is_sqlite():
        for trigger in _TRIGGERS:  # else every backfilled row would be re-indexed one at a time
            db.database.execute_sql(f"DROP TRIGGER IF EXISTS {trigger}")
        db.database.execute_sql("DROP TABLE IF EXISTS search_fts")
    _backfill_copies()
    _create_full_text()
    if db.is_sqlite():
        db.database.execute_sql("INSERT INTO search_fts(search_fts) VALUES ('rebuild')")


def _backfill_copies() -> None:
    """The organisation columns copied into search rows, from the projection (no document parsing)."""
    from directory.models.entries import Organisation, OrgFacet

    values: dict[str, set[tuple[str, str]]] = {}
    pairs: Any = OrgFacet.select(OrgFacet.organisation, OrgFacet.facet, OrgFacet.value).tuples()
    for entry_id, facet, value in pairs:
        values.setdefault(entry_id, set()).add((facet, value))
    orgs: Any = (Organisation.select(Organisation.entry_id, Organisation.country, Organisation.kind,
                                     Organisation.registrar, Organisation.not_after,
                                     Organisation.confirmed_at)
                 .join(SearchEntry, on=(SearchEntry.entry_id == Organisation.entry_id))
                 .where(SearchEntry.filters == "").tuples())
    rows = [(filter_text(country, kind, values.get(entry_id, set())), registrar, not_after, confirmed_at,
             entry_id) for entry_id, country, kind, registrar, not_after, confirmed_at in orgs]
    db.run_many("UPDATE search_entry SET filters = ?, registrar = ?, not_after = ?, confirmed_at = ? "
                "WHERE entry_id = ?", rows)


def backfill() -> int:
    """Index every live entry that has no index row yet (entries written before this step)."""
    from directory.keys import parse_canonical
    from directory.models.entries import EntryVersion, Organisation

    missing = (Organisation.select(Organisation.entry_id, Organisation.version)
               .where(~Organisation.deleted & Organisation.entry_id.not_in(
                   SearchEntry.select(SearchEntry.entry_id))))
    count = 0
    for row in missing:
        version = EntryVersion.get((EntryVersion.entry_id == row.entry_id) &
                                   (EntryVersion.version == row.version))
        index(parse_canonical(bytes(version.payload)))
        count += 1
    return count
