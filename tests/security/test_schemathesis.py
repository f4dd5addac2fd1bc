"""Schemathesis against the committed openapi.json, in-process (WSGI) with an admin token.

A bounded run: 25 examples per operation, derandomized (a fixed seed derived from the test), no example
database. Every response must be free of 5xx and match the documented status, media type and schema.
Path parameters naming an organisation or contact get real ones, so the run reaches past the 404s.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import auth

SPEC = Path(__file__).resolve().parents[2] / "openapi.json"
OPERATIONS = [(method.upper(), path) for path, ops in json.loads(SPEC.read_text())["paths"].items()
              for method in ops if method in {"get", "post", "put", "patch", "delete"}]
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.mark.slow
@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_operation_conforms(method: str, path: str, client: Any, make_org: Any, token_for: Any) -> None:
    schema = schemathesis.openapi.from_path(SPEC)
    operation = schema.find_operation_by_path(method, path)
    assert operation is not None
    entry_id = make_org()
    contact = client.get(f"/api/v1/organisations/{entry_id}/contacts",
                         headers=auth(token_for("reader"))).get_json()[0]
    fixed = {name: value for name, value in (("entry_id", entry_id), ("contact_id", contact["contact_id"]))
             if f"{{{name}}}" in path}
    headers = auth(token_for("admin"))
    app = client.application

    @settings(max_examples=25, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(path_parameters=fixed or None))
    def run(case: Any) -> None:
        response = case.call(app=app, headers=headers)
        case.validate_response(response, checks=CHECKS, headers=headers)

    run()
