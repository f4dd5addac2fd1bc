"""The committed openapi.json must match what the code serves, so API changes show in diffs."""

from __future__ import annotations

from pathlib import Path

from directory.api import spec

COMMITTED = Path(__file__).resolve().parents[2] / "openapi.json"


def test_committed_openapi_is_current():
    assert COMMITTED.read_text() == spec.render(), "openapi.json is stale: run `make openapi`"


def test_openapi_is_served_and_names_every_resource(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for path in ("/api/v1/organisations", "/api/v1/organisations/{entry_id}",
                 "/api/v1/organisations/{entry_id}/contacts", "/api/v1/organisations/{entry_id}/versions"):
        assert path in paths
