"""The search index: folding text into tokens, keeping the index rows in step, and the engine DDL.

Why tokens are made here and not by the engines: SQLite's FTS5 tokenizers and PostgreSQL's text-search
parser split and fold text differently (hosts, hyphenated words, diacritics), so identical results on
both need identical lexemes. Python folds (NFKC, casefold, NFKD without combining marks) and splits on
everything that is not a letter or digit; the engines receive plain space-separated tokens — FTS5 with a
`unicode61` tokenizer that keeps them as they are, PostgreSQL via `array_to_tsvector`, which takes
lexemes verbatim. Queries are folded the same way and every token becomes a quoted prefix term, so
user text never reaches either engine's query syntax.

`index(doc)` is called by `directory.projection` inside the transaction that writes each version.
"""

from __future__ import annotations

import json
import unicodedata
from typing import Any

from directory import db, documents, lookalike, validators
from directory.models.search import DomainSkeleton, SearchEntry, SearchPhone

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
        if rows:
            model.insert_many(rows).execute()


def index_rows(doc: dict[str, Any]) -> dict[Any, list[dict[str, Any]]]:
    """The index rows of a live entry, by model (also used by bulk loaders such as bench/generate.py)."""
    entry_id = doc["entry_id"]
    entry = {
        "entry_id": entry_id, "public_text": token_text(_public_parts(doc)),
        "restricted_text": token_text(_restricted_parts(doc)),
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


# --- engine-specific structures (migration step) ---

_SQLITE_DDL = (
    # External-content FTS5 over search_entry, kept in step by triggers: deleting or rewriting a
    # search_entry row (also a bulk DELETE) removes its old tokens, so the index never drifts.
    "CREATE VIRTUAL TABLE IF NOT EXISTS search_fts USING fts5(public_text, restricted_text, "
    "content='search_entry', content_rowid='id', tokenize=\"unicode61 remove_diacritics 0\", "
    "prefix='2 3 4')",
    "CREATE TRIGGER IF NOT EXISTS search_entry_ai AFTER INSERT ON search_entry BEGIN "
    "INSERT INTO search_fts(rowid, public_text, restricted_text) "
    "VALUES (new.id, new.public_text, new.restricted_text); END",
    "CREATE TRIGGER IF NOT EXISTS search_entry_ad AFTER DELETE ON search_entry BEGIN "
    "INSERT INTO search_fts(search_fts, rowid, public_text, restricted_text) "
    "VALUES ('delete', old.id, old.public_text, old.restricted_text); END",
    "CREATE TRIGGER IF NOT EXISTS search_entry_au AFTER UPDATE ON search_entry BEGIN "
    "INSERT INTO search_fts(search_fts, rowid, public_text, restricted_text) "
    "VALUES ('delete', old.id, old.public_text, old.restricted_text); "
    "INSERT INTO search_fts(rowid, public_text, restricted_text) "
    "VALUES (new.id, new.public_text, new.restricted_text); END",
)
_LEXEMES = "array_to_tsvector(array_remove(string_to_array({}, ' '), ''))"
_POSTGRES_DDL = (
    "ALTER TABLE search_entry ADD COLUMN IF NOT EXISTS public_tsv tsvector GENERATED ALWAYS AS ("
    + _LEXEMES.format("public_text") + ") STORED",
    "ALTER TABLE search_entry ADD COLUMN IF NOT EXISTS all_tsv tsvector GENERATED ALWAYS AS ("
    + _LEXEMES.format("public_text || ' ' || restricted_text") + ") STORED",
    "CREATE INDEX IF NOT EXISTS search_entry_public_tsv ON search_entry USING gin (public_tsv)",
    "CREATE INDEX IF NOT EXISTS search_entry_all_tsv ON search_entry USING gin (all_tsv)",
)


def create_structures() -> None:
    """Migration step: the index tables, the engine's full-text structures, and a backfill."""
    from directory.models.search import RateCounter

    db.database.create_tables([SearchEntry, SearchPhone, DomainSkeleton, RateCounter], safe=True)
    for statement in _SQLITE_DDL if db.is_sqlite() else _POSTGRES_DDL:
        db.database.execute_sql(statement)
    backfill()


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
