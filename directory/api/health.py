"""/healthz, /readyz and /metrics, and the request hooks every request passes: request id, latency
metric, one structured log line; the reverse-proxy trust (`DIRECTORY_TRUSTED_PROXIES`).

`init_app` registers the hooks; `create_app` calls it before the database and authentication hooks, so
every answer (a 401 too) carries its request id, and so the probes can be dispatched from here without
the database hook: liveness must not touch the database, and readiness must report a database that is
down (503) rather than fail in the connect hook.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from flask import Flask, Response, current_app, g, request
from flask.views import MethodView
from marshmallow import Schema, fields
from werkzeug.middleware.proxy_fix import ProxyFix

from directory import logs, metrics, ops
from directory.api.auth import load_actor, require_admin
from directory.api.common import Blueprint, json_response

blp = Blueprint("health", __name__, url_prefix="", description="Probes and metrics for operators")
PROBES = frozenset({"health.Liveness", "health.Readiness"})
log = logging.getLogger("directory.request")


class HealthOut(Schema):
    status = fields.String(required=True)
    checks = fields.Dict(keys=fields.String(), values=fields.String())


@blp.route("/healthz")
class Liveness(MethodView):
    @blp.response(200, HealthOut)
    def get(self) -> Response:
        """The process answers (no database access)"""
        return json_response(ops.liveness())


@blp.route("/readyz")
class Readiness(MethodView):
    @blp.response(200, HealthOut)
    @blp.alt_response(503, description="Not ready: the failed checks are in `errors`")
    def get(self) -> Response:
        """Ready to serve: database reachable, migrations current, node key present"""
        return json_response(ops.readiness(), headers={"Cache-Control": "no-store"})


@blp.route("/metrics")
class Metrics(MethodView):
    @blp.response(200, description="Prometheus text exposition format")
    def get(self) -> Response:
        """Prometheus metrics (administrators' bearer token)"""
        load_actor()  # /metrics is outside /api/, where the authentication hook runs
        require_admin()
        body, content_type = metrics.render()
        return Response(body, headers={"Content-Type": content_type, "Cache-Control": "no-store"})


def _begin() -> Any:
    g.request_id = logs.accept_request_id(request.headers.get("X-Request-Id"))
    g.started = time.perf_counter()
    logs.request_id_var.set(g.request_id)
    if request.endpoint in PROBES:
        return current_app.view_functions[request.endpoint]()
    return None


def _finish(response: Response) -> Response:
    rid = g.get("request_id") or logs.accept_request_id(None)
    response.headers["X-Request-Id"] = rid
    rule = request.url_rule
    endpoint = rule.endpoint if rule else "unmatched"
    seconds = time.perf_counter() - g.get("started", time.perf_counter())
    metrics.observe_request(endpoint, request.method, response.status_code, seconds)
    actor = g.get("actor")
    # The route template, never the path or query: those can hold the email or phone being looked up.
    log.info("request", extra={"request_id": rid, "method": request.method,
                               "route": rule.rule if rule else None, "endpoint": endpoint,
                               "status": response.status_code, "duration_ms": round(seconds * 1000, 2),
                               "actor": actor.label if actor is not None else None})
    return response


def _forget(_exc: BaseException | None) -> None:
    # gthread workers reuse threads: a log line outside a request must not carry the last request's id.
    logs.request_id_var.set(None)


def init_app(app: Flask) -> None:
    proxies = int(app.config["DIRECTORY"]["TRUSTED_PROXIES"])
    if proxies:
        # Behind TLS-terminating proxies the client address (rate limits, audit) and the scheme come from
        # the X-Forwarded-For/-Proto values the last `proxies` hops appended; anything before is the
        # client's own claim and ignored.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)  # type: ignore[method-assign]
    app.before_request(_begin)
    app.after_request(_finish)
    app.teardown_request(_forget)
