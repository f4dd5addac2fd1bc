"""Federation endpoints: the node descriptor (public) and the journal under /federation/v1 (signed peers).

Envelopes are served as the stored bytes (pages splice them in), so what a peer hashes is what was
signed. Every /federation/v1 request must be signed by a configured peer (`directory.federation.auth`).
"""

from __future__ import annotations

from typing import Any

from flask import Response, g, request
from flask.views import MethodView
from marshmallow import fields, validate

from directory import runtime
from directory.api.common import Blueprint
from directory.api.schemas import Query
from directory.errors import NotFound
from directory.federation import auth, journal, node

JSON = "application/json"
wellknown = Blueprint("node", __name__, url_prefix="/.well-known",
                      description="This node's signed descriptor (node id, key, scope, endpoints)")
blp = Blueprint("federation", __name__, url_prefix="/federation/v1",
                description="Signed journal for peer nodes (requests signed with the peer's node key)")


class PageQuery(Query):
    # Bounded: a seq past SQLite's 64-bit integers made the query raise instead of answer.
    after = fields.Integer(load_default=0, validate=validate.Range(min=0, max=2**63 - 1))
    limit = fields.Integer(load_default=None, validate=validate.Range(min=1))


@blp.before_request
def _authenticate_peer() -> None:
    headers = {name: request.headers.get(name, "") for name in auth.HEADERS}
    g.peer = auth.authenticate(request.method, request.path, request.query_string.decode("latin-1"), headers)


def _limit(requested: int | None) -> int:
    """The page size: what the peer asked for, but never more than this node serves (peers configured
    with a larger page size still work: they just receive shorter pages and ask again)."""
    most = int(runtime.settings()["FEDERATION_PAGE_SIZE"])
    return min(requested or most, most)


@wellknown.route("/cpd-node")
class Descriptor(MethodView):
    @wellknown.response(200)
    def get(self) -> Response:
        """The node descriptor: a signed envelope (node id, key, scope, endpoints, expiry)"""
        return Response(node.descriptor(), mimetype=JSON)


@blp.route("/checkpoint")
class Checkpoint(MethodView):
    @blp.response(200)
    def get(self) -> Response:
        """The signed checkpoint: node, session, size, head, iat, valid_until, counts"""
        return Response(node.checkpoint(), mimetype=JSON, headers={"Cache-Control": "no-store"})


def _page(items: list[journal.Item], limit: int) -> Response:
    """A page of envelopes; `next` is the `after` of the following page, null on the last one."""
    size, _ = journal.state()
    next_after = items[-1].seq if len(items) == limit and items[-1].seq < size else None
    return Response(node.page_body(items, next_after, {"size": size}), mimetype=JSON)


@blp.route("/changes")
class Changes(MethodView):
    @blp.arguments(PageQuery, location="query")
    @blp.response(200)
    def get(self, args: dict[str, Any]) -> Response:
        """Journal leaves after `after`, oldest first, each with its envelope"""
        limit = _limit(args["limit"])
        return _page(journal.changes(args["after"], limit), limit)


@blp.route("/snapshot")
class Snapshot(MethodView):
    @blp.arguments(PageQuery, location="query")
    @blp.response(200)
    def get(self, args: dict[str, Any]) -> Response:
        """Current envelopes of all live entries, paged by the seq of their leaf"""
        limit = _limit(args["limit"])
        return _page(journal.snapshot(args["after"], limit), limit)


@blp.route("/entries/<path:entry_id>")
class Entry(MethodView):
    @blp.response(200)
    @blp.alt_response(304, description="Not modified (If-None-Match)")
    @blp.alt_response(410, description="Deleted: the body is the signed tombstone")
    def get(self, entry_id: str) -> Response:
        """One entry's current envelope with its ETag; 410 with the tombstone when deleted"""
        found = journal.current(entry_id)
        if found is None:
            raise NotFound(f"no entry {entry_id} is registered at this node")
        version, envelope = found
        # The envelope's digest, not the payload's: the organisation's signature added to the version
        # changes the envelope, and a peer holding the shorter one must not be told it is current.
        leaf = journal.leaf_of(envelope)
        tag = f'"{leaf}"'
        if request.if_none_match and request.if_none_match.contains(leaf):
            return Response(status=304, headers={"ETag": tag})
        return Response(envelope, status=410 if version.tombstone else 200, mimetype=JSON,
                        headers={"ETag": tag})
