"""Reading organisations at the level the actor may see, with their history.

Views are precomputed per version (`public_view`, `reader_view`), so a read is one indexed row and no
document parsing; publishers of the organisation and admins get the `full` view built from the document.
Reads of restricted data are audited (who, what, when), never their content.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import peewee

from directory import db, documents, freshness, reads, runtime, signatures
from directory.actors import Actor
from directory.entries import VersionInfo
from directory.errors import Forbidden, Gone, NotFound
from directory.keys import parse_canonical
from directory.models.entries import EntryVersion, Organisation, OrgFacet
from directory.paging import Page

FILTERS = ("country", "kind", "registrar")


def level(actor: Actor, entry_id: str) -> str:
    if actor.can_edit(entry_id):
        return "full"
    return "reader" if actor.can_read_restricted else "public"


def _counted(seen: str) -> int:
    """Reads counted against the quota for one read at level `seen`: those of an organisation one may
    edit are audited but not counted (`directory.quota`)."""
    return 0 if seen == "full" else 1


@dataclass(frozen=True)
class _Current:
    """What a read needs of an Organisation row and its current version (duck-typed like both)."""

    entry_id: str
    registrar: str
    version: int
    digest: str
    not_after: int
    confirmed_at: int
    freshness: str
    source_valid_until: int | None
    payload: bytes
    signatures: str


def read(entry_id: str, actor: Actor) -> tuple[dict[str, Any], VersionInfo]:
    """One organisation at the actor's level, as data (pages, contacts, freshness views)."""
    body, info = read_json(entry_id, actor)
    return json.loads(body), info


def read_json(entry_id: str, actor: Actor) -> tuple[str, VersionInfo]:
    """One organisation at the actor's level as JSON text; restricted reads are counted and audited first.

    Every lookup runs this, so it is plain SQL (one statement for the row and its current version, one
    write transaction for quota and audit) and the stored view is answered as text: only what depends
    on the time of the read is encoded per request.
    """
    seen = level(actor, entry_id)
    found = db.rows(
        "SELECT o.registrar, o.version, o.digest, o.not_after, o.confirmed_at, o.freshness,"
        " o.source_valid_until, o.public_view, o.reader_view, v.payload, v.signatures, o.deleted"
        " FROM organisation o JOIN entry_version v ON v.entry_id = o.entry_id AND v.version = o.version"
        " WHERE o.entry_id = ?", (entry_id,))
    if not found:
        raise NotFound(f"no organisation {entry_id}")
    registrar, version, digest, not_after, confirmed_at, clocks, valid_until, public, reader, payload, \
        signed, deleted = found[0]
    if deleted:
        raise Gone(f"organisation {entry_id} was deleted at version {version}")
    current = _Current(entry_id, registrar, version, digest, not_after, confirmed_at, clocks, valid_until,
                       bytes(payload), signed)
    if seen != "public":
        reads.charge(actor, "read.organisation", entry_id, {"level": seen}, count=_counted(seen))
    view = {"public": public, "reader": reader}.get(seen)
    if view is None:  # full: built from the signed payload itself
        view = json.dumps(documents.view(parse_canonical(current.payload), "full"), ensure_ascii=False,
                          separators=(",", ":"))
    # Views never hold these keys (server-owned: the entry schema refuses them), so appending them to
    # the object's text cannot duplicate a key.
    timely = _timely_json(current)
    body = f"{view[:-1]},{timely[1:]}" if view != "{}" else timely
    return body, VersionInfo(entry_id, current.version, current.digest)


# The time-dependent part of a lookup's answer, as JSON text, per stored row and policy. Computing it cost
# about 7 % of a lookup (bench/lookup_cost.py), yet it changes only at the row's next freshness edge, with
# a new version, policy, checkpoint or signature (all in the key), or with time for the signature statuses
# (cached by `signatures.statuses` for minutes already; a minute more at most here).
TIMELY_SECONDS = 60
_TIMELY_SIZE = 4096
_timely_cache: OrderedDict[tuple[Any, ...], tuple[int, int, str]] = OrderedDict()
_timely_lock = threading.Lock()


def _timely_json(current: _Current) -> str:
    now = runtime.now()
    policy = freshness.Policy.from_settings()
    # The payload's own hash, as `signatures.statuses` keys its cache: a tampered row is never answered
    # from the cache.
    key = (current.entry_id, current.version, hashlib.sha256(current.payload).digest(), current.signatures,
           current.freshness, current.source_valid_until, current.not_after, current.confirmed_at, policy)
    hit = _timely_cache.get(key)
    if hit is not None and hit[0] <= now < hit[1]:
        return hit[2]
    text = json.dumps(_timely(current, current), ensure_ascii=False, separators=(",", ":"))
    changes = freshness.next_change(current, now, policy)
    if changes is not None:
        with _timely_lock:  # the worker's threads share the cache; a lookup reads it without the lock
            _timely_cache.pop(key, None)  # an expired entry: store the new one as the newest
            _timely_cache[key] = (now, min(changes, now + TIMELY_SECONDS), text)
            while len(_timely_cache) > _TIMELY_SIZE:
                _timely_cache.popitem(last=False)
    return text


def _timely(row: Any, version: Any) -> dict[str, Any]:
    """What depends on the time of the read, never stored: signature statuses and freshness."""
    return {"signatures": signatures.statuses(version), **freshness.row_status(row).as_dict()}


def _view(row: Organisation, seen: str, version: EntryVersion | None = None) -> dict[str, Any]:
    """The stored view of the current version plus what depends on time."""
    version = version or version_row(row.entry_id, row.version)
    if seen == "full":
        result = documents.view(parse_canonical(bytes(version.payload)), "full")
    else:
        result = json.loads(row.reader_view if seen == "reader" else row.public_view)
    return {**result, **_timely(row, version)}


def list_page(actor: Actor, filters: dict[str, Any], page: int, per_page: int) -> Page:
    """One page of organisations, filtered and paginated in SQL, ordered by name."""
    query = Organisation.select().where(~Organisation.deleted)
    for name in FILTERS:
        if filters.get(name):
            query = query.where(getattr(Organisation, name) == filters[name])
    for facet in ("language", "service_type", "request_type"):
        if filters.get(facet):
            query = query.where(Organisation.entry_id.in_(
                OrgFacet.select(OrgFacet.organisation).where(
                    (OrgFacet.facet == facet) & (OrgFacet.value == filters[facet]))))
    if filters.get("name"):
        query = query.where(Organisation.name.contains(filters["name"]))
    total = query.count()
    rows = list(query.order_by(Organisation.name, Organisation.entry_id).paginate(page, per_page))
    restricted = actor.can_read_restricted
    if restricted and rows:
        reads.charge(actor, "read.organisations", None, {"count": len(rows)}, len(rows))
    versions = _current_versions(rows)
    items = [_view(r, level(actor, r.entry_id), versions.get((r.entry_id, r.version))) for r in rows]
    return Page(items, total, page, per_page)


def _current_versions(rows: list[Organisation]) -> dict[tuple[str, int], EntryVersion]:
    """The current version rows of a page in one query (not one per item) for their signature statuses."""
    if not rows:
        return {}
    wanted = peewee.Tuple(EntryVersion.entry_id, EntryVersion.version).in_(
        [(r.entry_id, r.version) for r in rows])
    return {(v.entry_id, v.version): v for v in EntryVersion.select().where(wanted)}


def history(entry_id: str, actor: Actor) -> list[dict[str, Any]]:
    """Every version's metadata, newest first (public: the history itself holds no personal data)."""
    rows = list(EntryVersion.select(
        EntryVersion.version, EntryVersion.digest, EntryVersion.tombstone, EntryVersion.created_at,
        EntryVersion.actor, EntryVersion.signatures).where(EntryVersion.entry_id == entry_id)
        .order_by(EntryVersion.version.desc()))
    if not rows:
        raise NotFound(f"no organisation {entry_id}")
    prev_digest = {r.version: r.digest for r in rows}
    return [{"version": r.version, "digest": r.digest, "prev": prev_digest.get(r.version - 1),
             "iat": documents.iso(r.created_at), "tombstone": r.tombstone,
             "changed_by": r.actor if actor.is_admin else None,
             "signers": [s["signer"] for s in json.loads(r.signatures)]} for r in rows]


def version_row(entry_id: str, version: int) -> EntryVersion:
    try:
        row: EntryVersion = EntryVersion.get((EntryVersion.entry_id == entry_id) &
                                             (EntryVersion.version == version))
    except peewee.DoesNotExist:
        raise NotFound(f"organisation {entry_id} has no version {version}") from None
    return row


def signed_version(entry_id: str, version: int, actor: Actor) -> EntryVersion:
    """A version's row for its exact signed bytes or envelope. They hold every contact, so they are for
    readers and above only, and the read is charged to the quota and audited first."""
    if not actor.can_read_restricted:
        raise Forbidden("the signed bytes contain restricted fields; readers only")
    row = version_row(entry_id, version)
    reads.charge(actor, "read.signed_bytes", entry_id, {"version": version},
                 count=_counted(level(actor, entry_id)))
    return row


def read_version(entry_id: str, version: int, actor: Actor) -> dict[str, Any]:
    row = version_row(entry_id, version)
    doc = parse_canonical(bytes(row.payload))
    if row.tombstone:
        return {"id": entry_id, "version": version, "tombstone": True, "iat": documents.iso(doc["iat"]),
                "prev": doc["prev"]}
    seen = level(actor, entry_id)
    if seen != "public":
        reads.charge(actor, "read.version", entry_id, {"version": version, "level": seen},
                     count=_counted(seen))
    return {**documents.view(doc, seen), "signatures": signatures.statuses(row)}
