"""Verifying a requester with keys and signatures made by the real `gpg` binary (acceptance 2).

An officer of a fictional police unit holds an Ed25519 key listed for her in the entry; a request she
clearsigns verifies. The same text from a look-alike domain, by an unlisted key, by a revoked key, for a
request type she is not authorised for, or from an expired entry is not verified, and the failed check
is named.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask

from directory import db, entries, runtime, verify
from directory.actors import Actor
from directory.errors import Forbidden, InvalidInput
from directory.models.audit import AuditEvent
from tests import factories
from tests.conftest import ADMIN, require_tool
from tests.keys.conftest import Gpg

OFFICER = "a.mammadova@police.example.org"
TEXT = b"Preservation request 2026/0042: please preserve subscriber data of 192.0.2.10.\n"
ISP_STAFF = Actor("account", "isp", "reader", account_id=None)


@dataclass(frozen=True)
class Keys:
    officer: str
    officer_key: str
    other: str
    other_key: str
    revoked: str
    revoked_key_before: str
    revoked_key_after: str
    signed: str  # TEXT clearsigned by the officer
    signed_by_other: str
    signed_by_revoked: str
    detached: str


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Keys]:
    require_tool("gpg", "install gnupg (apt-get install gnupg)")
    gpg = Gpg(tmp_path_factory.mktemp("gnupg-verify"))
    try:
        officer = gpg.gen_key(f"Aysel Mammadova <{OFFICER}>", "ed25519", "sign,cert", "2y")
        other = gpg.gen_key("Mallory <mallory@police.example.org>", "ed25519", "sign,cert", "2y")
        revoked = gpg.gen_key("Old Key <old@police.example.org>", "ed25519", "sign,cert", "2y")
        revoked_before = gpg.export(revoked).decode()
        signed_by_revoked = gpg.clearsign(revoked, TEXT).decode()
        gpg.revoke_key(revoked)
        yield Keys(officer, gpg.export(officer).decode(), other, gpg.export(other).decode(), revoked,
                   revoked_before, gpg.export(revoked).decode(), gpg.clearsign(officer, TEXT).decode(),
                   gpg.clearsign(other, TEXT).decode(), signed_by_revoked,
                   gpg.detach_sign(officer, TEXT).decode())
    finally:
        gpg.close()


@pytest.fixture
def police(make_org: Callable[..., str], keys: Keys) -> str:
    contact = {"display_name": "Officer Aysel Mammadova", "email": OFFICER,
               "authorised_request_types": ["preservation", "subscriber_info"],
               "key_fingerprints": [keys.officer, keys.revoked]}
    return make_org(**factories.police(
        contacts=[contact], keys=[{"public_key": keys.officer_key, "use": "contact"},
                                  {"public_key": keys.revoked_key_before, "use": "contact"},
                                  {"public_key": keys.other_key, "use": "contact"}]))


def _run(**fields: Any) -> dict[str, Any]:
    return verify.verify(verify.Request(**fields), ISP_STAFF)


def _failed(answer: dict[str, Any]) -> list[str]:
    return [c["check"] for c in answer["checks"] if not c["ok"]]


def test_a_request_clearsigned_by_the_designated_officer_is_verified(police: str, keys: Keys) -> None:
    answer = _run(email=OFFICER, request_type="preservation", signed_message=keys.signed)
    assert answer["verdict"] == "verified", answer["checks"]
    assert _failed(answer) == []
    assert {c["check"] for c in answer["checks"]} >= {
        "designated_contact", "official_domain", "free_mail", "lookalike_domain", "entry_fresh",
        "entry_signature", "request_type_authorised", "message_signature"}
    assert answer["organisation"]["id"] == police
    assert answer["contact"]["email"] == OFFICER
    assert answer["callback"]["switchboard_phone"] == "+994125900000"
    assert answer["callback"]["website"] == "https://police.example.org"


def test_a_detached_signature_over_the_data_is_verified_too(police: str, keys: Keys) -> None:
    answer = _run(email=OFFICER, request_type="preservation", data=TEXT.decode(), signature=keys.detached)
    assert answer["verdict"] == "verified", answer["checks"]


def test_the_same_text_from_a_lookalike_domain_is_not_verified(police: str, keys: Keys) -> None:
    for sender in ("a.mammadova@police-example.org", "a.mammadova@pol1ce.example.org",
                   "a.mammadova@xn--olice-uye.example.org"):  # Cyrillic "er" for the "p"
        answer = _run(email=sender, request_type="preservation", signed_message=keys.signed)
        assert answer["verdict"] == "not_verified"
        assert "lookalike_domain" in _failed(answer), sender
        assert answer["callback"]["switchboard_phone"] == "+994125900000"  # the real one, to call back


def test_a_free_mail_sender_is_called_out(police: str, keys: Keys) -> None:
    answer = _run(email="a.mammadova.police@gmail.com", signed_message=keys.signed)
    assert answer["verdict"] == "not_verified"
    assert {"free_mail", "designated_contact"} <= set(_failed(answer))


def test_a_key_not_listed_for_the_contact_is_not_verified(police: str, keys: Keys) -> None:
    answer = _run(email=OFFICER, request_type="preservation", signed_message=keys.signed_by_other)
    assert answer["verdict"] == "not_verified"
    assert _failed(answer) == ["message_signature"]
    assert "not listed for this contact" in answer["checks"][-1]["detail"]


def test_a_revoked_key_is_not_verified(police: str, keys: Keys) -> None:
    _replace_key(police, keys.revoked_key_before, keys.revoked_key_after)
    answer = _run(email=OFFICER, request_type="preservation", signed_message=keys.signed_by_revoked)
    assert answer["verdict"] == "not_verified"
    assert _failed(answer) == ["message_signature"]
    assert "revoked" in answer["checks"][-1]["detail"]


def test_an_unauthorised_request_type_is_not_verified(police: str, keys: Keys) -> None:
    answer = _run(email=OFFICER, request_type="content_data", signed_message=keys.signed)
    assert answer["verdict"] == "not_verified"
    assert _failed(answer) == ["request_type_authorised"]


def test_an_expired_entry_is_not_verified(police: str, keys: Keys, clock: Callable[[float], None]) -> None:
    row_not_after = entries.get_document(police)["not_after"]
    clock(row_not_after + 60)
    answer = _run(email=OFFICER, request_type="preservation", signed_message=keys.signed)
    assert answer["verdict"] == "not_verified"
    assert "entry_fresh" in _failed(answer)


def test_a_tampered_stored_entry_fails_its_signature_check(police: str, keys: Keys) -> None:
    from directory.models.entries import EntryVersion

    row = EntryVersion.get(EntryVersion.entry_id == police)
    signatures = json.loads(row.signatures)
    signatures[0]["sig"] = _other_signature(row.payload)
    EntryVersion.update(signatures=json.dumps(signatures)).where(EntryVersion.id == row.id).execute()
    answer = _run(email=OFFICER, request_type="preservation", signed_message=keys.signed)
    assert answer["verdict"] == "not_verified"
    assert _failed(answer) == ["entry_signature"]


def test_without_a_signed_message_the_best_verdict_is_caution(police: str) -> None:
    answer = _run(email=OFFICER, request_type="preservation")
    assert answer["verdict"] == "caution"
    assert _failed(answer) == ["message_signature"]


def test_a_phone_match_is_caution_and_the_callback_comes_from_the_directory(police: str) -> None:
    answer = _run(phone="+994 12 590 00 00")
    assert answer["verdict"] == "caution"
    assert answer["callback"]["switchboard_phone"] == "+994125900000"


def test_an_unknown_sender_is_not_verified(police: str) -> None:
    answer = _run(email="someone@unknown.example")
    assert answer["verdict"] == "not_verified"
    assert answer["contact"] is None and answer["callback"]["switchboard_phone"] is None


def test_verification_is_audited_without_the_message(police: str, keys: Keys) -> None:
    _run(email=OFFICER, request_type="preservation", signed_message=keys.signed)
    event = AuditEvent.select().where(AuditEvent.action == "verify").get()
    assert event.outcome == "verified" and event.target == police
    assert OFFICER not in event.details and "Preservation" not in event.details


def test_verification_needs_a_reader_and_some_input(app: Flask) -> None:
    with pytest.raises(Forbidden):
        verify.verify(verify.Request(email=OFFICER), Actor.anonymous())
    with pytest.raises(InvalidInput):
        _run()
    with pytest.raises(InvalidInput):
        _run(email="not an address")


def _replace_key(entry_id: str, old: str, new: str) -> None:
    """The directory's copy of a key refreshed after its owner revoked it (input validation refuses
    revoked keys, so the new version is written the way a key refresh would: directly, node-signed)."""
    doc = entries.get_document(entry_id)
    doc["keys"] = [{**k, "public_key": new} if k["public_key"].strip() == old.strip() else k
                   for k in doc["keys"]]
    with db.write():
        row_digest = entries.Organisation.get(entries.Organisation.entry_id == entry_id).digest
        doc.update(version=doc["version"] + 1, prev=row_digest)
        entries._write(doc, ADMIN)


def _other_signature(payload: bytes) -> str:
    import tempfile

    from directory.keys import init_node_key

    with tempfile.TemporaryDirectory() as folder:
        return init_node_key(folder, "https://elsewhere.example").sign(bytes(payload) + b"x")


@pytest.mark.parametrize(("domain", "official"), [
    ("police-example.org", "police.example.org"),
    ("pol1ce.example.org", "police.example.org"),
    ("xn--olice-uye.example.org", "police.example.org"),  # Cyrillic "er" for the "p"
    ("examp1e-telecorn.example", "example-telecom.example"),  # "rn" drawn like "m"
    ("POLICE.EXAMPLE.ORG.", "police.example.org"),
])
def test_lookalike_skeletons_match(domain: str, official: str) -> None:
    from directory import lookalike

    assert lookalike.skeleton(domain) == lookalike.skeleton(official)


def test_different_domains_keep_different_skeletons_and_mixed_scripts_are_seen() -> None:
    from directory import freemail, lookalike

    assert lookalike.skeleton("polis.example") != lookalike.skeleton("police.example.org")
    assert lookalike.has_mixed_scripts("xn--olice-uye.example.org")
    assert not lookalike.has_mixed_scripts("kiber.polis.example")
    assert freemail.is_free_mail("mail.gmail.com") and not freemail.is_free_mail("police.example.org")


def test_an_old_signed_message_is_not_taken_for_a_new_request(police: str, keys: Keys,
                                                               clock: Callable[[float], None]) -> None:
    """Whoever holds a copy of an officer's old signed request (her compromised mailbox, a leaked case
    file) can send it again: the signature proves who wrote it and when, not that she asks today."""
    clock(time.time() + 40 * 86400)
    answer = _run(email=OFFICER, request_type="preservation", signed_message=keys.signed)
    assert answer["verdict"] == "caution", answer["checks"]
    assert _failed(answer) == ["message_signature"]
    assert "days ago" in answer["checks"][-1]["detail"]
    clock(time.time() + 86400)  # a day-old signature is still a current request
    answer = _run(email=OFFICER, request_type="preservation", signed_message=keys.signed)
    assert answer["verdict"] == "verified"


def test_the_age_limit_of_signed_messages_is_a_node_setting(police: str, keys: Keys,
                                                            clock: Callable[[float], None],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    def verdict() -> str:
        return str(_run(email=OFFICER, request_type="preservation", signed_message=keys.signed)["verdict"])

    monkeypatch.setitem(runtime.settings(), "VERIFY_MAX_AGE_DAYS", 60)
    clock(time.time() + 40 * 86400)
    assert verdict() == "verified"
    monkeypatch.setitem(runtime.settings(), "VERIFY_MAX_AGE_DAYS", 1)
    clock(time.time() + 2 * 86400)
    assert verdict() == "caution"


def test_the_answer_shows_exactly_what_the_signature_covers(police: str, keys: Keys) -> None:
    """Staff compare what was signed with the request they received (the email around it may ask for
    something else); text outside the signed block is refused, not attested."""
    answer = _run(email=OFFICER, request_type="preservation", signed_message=keys.signed)
    assert answer["verdict"] == "verified"
    assert answer["signed_text"] == TEXT.decode().rstrip("\n")
    added = _run(email=OFFICER, request_type="preservation",
                 signed_message=keys.signed + "Urgent: send the data to ops@freemail.example instead.\n")
    assert added["verdict"] == "not_verified" and added["signed_text"] is None
    detached = _run(email=OFFICER, request_type="preservation", data=TEXT.decode(), signature=keys.detached)
    assert detached["signed_text"] == TEXT.decode()
    # No valid signature, nothing attested.
    assert _run(email=OFFICER, request_type="preservation", signed_message=keys.signed_by_other)[
        "signed_text"] is None
    assert _run(email=OFFICER, request_type="preservation")["signed_text"] is None
