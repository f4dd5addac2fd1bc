"""Public pages: search, organisation, verify a requester, viewer settings (language, time zone)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, render_template, request, url_for

from directory import ratelimit
from directory.errors import InvalidInput, TooManyRequests, Unauthenticated
from directory.verify import LIMITS
from directory.vocabulary import ORGANISATION_KINDS, REQUEST_TYPES, SERVICE_TYPES
from directory.web import i18n, queries, security

bp = Blueprint("web", __name__, static_folder="static", static_url_path="/assets",
               template_folder="templates")
bp.register_error_handler(TooManyRequests, security.too_many)

PER_PAGE = 20
# What the next page of a search carries over. Only these: url_for reads `_method`, `_external`,
# `_scheme` and `_anchor` as instructions, so passing every query parameter on let a link give a 500 or
# point elsewhere.
SEARCH_ARGS = ("q", *queries.FILTER_NAMES, "emergency", "open_now", "lang", "tz")


def _filters() -> dict[str, Any]:
    args = request.args
    chosen: dict[str, Any] = {name: args.get(name, "").strip()[:40] for name in queries.FILTER_NAMES}
    chosen["country"] = chosen["country"].upper()
    chosen["emergency"] = args.get("emergency") == "1"
    chosen["open_now"] = args.get("open_now") == "1"
    return chosen


def _page_number() -> int:
    try:
        return max(1, min(int(request.args.get("page", "1")), 10_000))
    except ValueError:
        return 1


@bp.get("/")
def home() -> str:
    text = request.args.get("q", "").strip()[:300]
    filters = _filters()
    results, how, next_url = None, "text", None
    if text or any(filters.values()):
        ratelimit.spend(g.actor)  # anonymous searches count like the API's, per client address
        results, how = queries.find(text, filters, g.actor, i18n.viewer_zone(), _page_number(), PER_PAGE)
        if results.total > results.page * results.per_page:
            args: dict[str, Any] = {name: request.args[name] for name in SEARCH_ARGS if name in request.args}
            args["page"] = str(results.page + 1)
            next_url = url_for("web.home", **args)
    return render_template("home.html", q=text, filters=filters, results=results, how=how, next_url=next_url,
                           kinds=ORGANISATION_KINDS, request_types=REQUEST_TYPES,
                           service_types=SERVICE_TYPES)


@bp.get("/organisations/<path:entry_id>")
def organisation(entry_id: str) -> str:
    view = queries.organisation_page(entry_id, g.actor, i18n.viewer_zone())
    return render_template("organisation.html", org=view, can_edit=g.actor.can_edit(entry_id))


@bp.route("/verify", methods=["GET", "POST"])
def verify() -> tuple[str, int]:
    form = {name: request.form.get(name, "") for name in ("email", "phone", "request_type", "message")}
    result, errors, status = None, {}, 200
    if request.method == "POST":
        if g.actor.kind == "anonymous":
            raise Unauthenticated("sign in with a reader account to verify a requester")
        try:
            _within_limits(form)
            result = queries.verify_requester(form, g.actor)
        except InvalidInput as exc:
            errors, status = {**exc.errors, "_": [exc.message]}, 422
    page = render_template("verify.html", form=form, result=result, errors=errors)
    return page, status


def _within_limits(form: dict[str, str]) -> None:
    """The API's limits: a longer value is refused, never cut (a cut message would fail its signature)."""
    limits = {"email": LIMITS["email"], "phone": LIMITS["phone"], "message": LIMITS["signed_message"]}
    errors = {name: [f"longer than {limit} characters"] for name, limit in limits.items()
              if len(form[name]) > limit}
    if errors:
        raise InvalidInput("a field is too long", errors)


@bp.get("/settings")
def settings() -> str:
    return render_template("settings.html", zones=i18n.zone_names(), languages=i18n.LANGUAGES)
