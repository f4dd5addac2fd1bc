"""The security suite's world: a victim organisation with restricted data that is easy to recognise in
any answer, and an attacker holding a valid token of a publisher of another organisation.

The node runs with its default configuration (second-admin approval of call-back changes on)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import row_counts

# Values that only readers (contacts, emergency numbers) or the full view (inactive contacts) may see.
READER_ONLY = ("erika.mustermann@telecom.example", "+4930901822", "+4930901821")
FULL_ONLY = ("former.liaison@telecom.example",)
# Tables whose rows are meters of use, not data an attack could change.
METERS = {"ReadUsage", "RateCounter", "PeerNonce"}


@dataclass(frozen=True)
class World:
    victim: str
    contact_id: str
    attacker: str  # bearer token of a publisher of another organisation
    own: str  # the attacker's own organisation


@pytest.fixture
def settings(settings: dict[str, Any]) -> dict[str, Any]:
    return {**settings, "CALLBACK_APPROVAL": True}


@pytest.fixture
def world(client: Any, make_org: Callable[..., str], token_for: Callable[..., str]) -> World:
    from tests.factories import organisation

    contacts = organisation()["contacts"] + [
        {"display_name": "Former Liaison", "email": FULL_ONLY[0], "active": False}]
    victim = make_org(contacts=contacts)
    own = make_org(name="Attacker Hosting", official_email_domains=["attacker.example"],
                   contacts=[{"display_name": "Mallory", "email": "mallory@attacker.example"}])
    from directory import entries

    contact_id = entries.get_document(victim)["contacts"][0]["contact_id"]
    return World(victim, contact_id, token_for("publisher", own), own)


def data_counts() -> dict[str, int]:
    return {name: count for name, count in row_counts().items() if name not in METERS}
