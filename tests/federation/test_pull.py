"""Pulling a peer: verified and applied all at once; every attack refused with the store unchanged.

Acceptance 2 of issue 7: each attack is rejected, nothing is written but the reason, which is recorded
on the peer's state and in the audit trail.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pgpy import PGPUID, PGPKey
from pgpy.constants import EllipticCurveOID, HashAlgorithm, KeyFlags, PubKeyAlgorithm

from directory import entries, runtime, signatures
from directory.errors import Conflict
from directory.federation import journal, node
from directory.federation.pull import PullResult, pull_peer
from directory.federation.transport import HttpTransport
from directory.keys import NodeKey, SignatureRecord
from directory.models.audit import AuditEvent
from directory.models.entries import EntryVersion, Organisation
from directory.models.federation import Peer, PeerState
from tests.conftest import row_counts
from tests.federation.conftest import ADMIN
from tests.federation.fakepeer import FakePeer, Leaf, slow_forever


def store() -> dict[str, Any]:
    """Everything a pull may change, to prove a refused pull changed nothing."""
    orgs = [(o.entry_id, o.version, o.digest, o.deleted) for o in Organisation.select().order_by(
        Organisation.entry_id)]
    # The failure itself is recorded on the peer's state: only the accepted checkpoint must not move.
    states = [(s.size, s.head, s.iat, s.valid_until) for s in PeerState.select() if s.head]
    rows = {name: count for name, count in row_counts().items() if name != "PeerState"}
    # Signatures too: a version's stored list may grow in place (a signature its organisation added).
    versions = [(v.entry_id, v.version, v.digest, v.signatures) for v in EntryVersion.select().order_by(
        EntryVersion.entry_id, EntryVersion.version)]
    return {"rows": rows, "orgs": orgs, "states": states, "versions": versions}


def refused(result: PullResult, reason: str, *, attack: bool = True) -> None:
    assert not result.ok
    assert reason in (result.reason or ""), result.reason
    assert result.attack is attack
    state = PeerState.get()
    assert state.last_error == result.reason
    event = AuditEvent.select().where(AuditEvent.action == "federation.pull").order_by(
        AuditEvent.seq.desc()).first()
    assert event.outcome == ("attack" if attack else "failed")
    assert reason in json.loads(event.details)["reason"]


def test_pull_applies_entries_updates_and_deletions(fake_peer: FakePeer, pin: Callable[..., Peer]):
    ids = [fake_peer.create(name=f"Provider {n}") for n in range(5)]  # more than one page (4)
    peer = pin()
    result = pull_peer("peer")
    assert result.ok and result.applied == 5 and result.size == 5
    row = Organisation.get(Organisation.entry_id == ids[0])
    assert row.registrar == peer.node_id and row.version == 1 and row.name == "Provider 0"
    stored = EntryVersion.get(EntryVersion.entry_id == ids[0])
    assert journal.envelope_of(stored.payload, stored.signatures) == fake_peer.leaves[0].envelope

    fake_peer.update(ids[0], name="Provider zero")
    fake_peer.delete(ids[1])
    result = pull_peer("peer")
    assert result.ok and result.applied == 2
    assert Organisation.get(Organisation.entry_id == ids[0]).name == "Provider zero"
    assert Organisation.get(Organisation.entry_id == ids[1]).deleted
    assert pull_peer("peer").applied == 0  # nothing new: nothing applied, state refreshed
    with pytest.raises(Conflict, match="read-only"):
        entries.update(ids[0], {"name": "Local edit"}, ADMIN)


def test_entry_created_and_deleted_between_two_pulls(fake_peer: FakePeer, pin: Callable[..., Peer]):
    # The first this node hears of the entry is its whole life: a version and its tombstone in one pull.
    entry_id = fake_peer.create()
    fake_peer.delete(entry_id)
    peer = pin()
    result = pull_peer("peer")
    assert result.ok and result.applied == 2, result.reason
    row = Organisation.get(Organisation.entry_id == entry_id)
    assert row.deleted and row.version == 2 and row.registrar == peer.node_id


def test_flipped_byte_in_one_envelope_of_a_page(fake_peer: FakePeer, pin: Callable[..., Peer]):
    fake_peer.create()
    pin()
    assert pull_peer("peer").ok
    for n in range(3):
        fake_peer.create(name=f"Provider {n}")

    def flipped(query: dict[str, str]) -> tuple[int, bytes]:
        page = json.loads(fake_peer.changes(int(query["after"]), int(query["limit"])))
        envelope = page["items"][2]["envelope"]
        payload = bytearray(base64.urlsafe_b64decode(envelope["payload"] + "=="))
        payload[40] ^= 0x01
        envelope["payload"] = base64.urlsafe_b64encode(bytes(payload)).rstrip(b"=").decode()
        return 200, json.dumps(page).encode()

    fake_peer.routes["/federation/v1/changes"] = flipped
    before = store()
    refused(pull_peer("peer"), "bad signature by the pinned key")
    assert store() == before


def test_replayed_older_checkpoint(fake_peer: FakePeer, pin: Callable[..., Peer],
                                   clock: Callable[[float], None]):
    clock(1_900_000_000)
    fake_peer.create()
    old = fake_peer.checkpoint()
    pin()
    clock(1_900_000_100)
    fake_peer.create()
    assert pull_peer("peer").size == 2
    before = store()
    fake_peer.routes["/federation/v1/checkpoint"] = lambda _q: (200, old)
    refused(pull_peer("peer"), "rollback: checkpoint size 1 is smaller than the accepted 2")
    assert store() == before
    older = fake_peer.checkpoint(iat=1_900_000_050)  # same size, signed earlier than the accepted one
    fake_peer.routes["/federation/v1/checkpoint"] = lambda _q: (200, older)
    refused(pull_peer("peer"), "replay: checkpoint issued at 1900000050")
    assert store() == before


def test_replayed_older_entry_version(fake_peer: FakePeer, pin: Callable[..., Peer]):
    entry_id = fake_peer.create()
    fake_peer.update(entry_id, name="Renamed")
    pin()
    assert pull_peer("peer").ok
    first = fake_peer.leaves[0]
    # A validly signed old version, appended again: the chain and checkpoint are consistent with it.
    fake_peer.leaves.append(Leaf(3, first.entry_id, first.version, first.envelope))
    before = store()
    refused(pull_peer("peer"), "replay: version 1 of")
    assert store() == before


def test_entry_outside_the_peers_scope(fake_peer: FakePeer, pin: Callable[..., Peer]):
    fake_peer.create(country="DE")
    fake_peer.create(country="FR", name="Fournisseur")
    pin(countries="DE")
    before = store()
    refused(pull_peer("peer"), "service_provider in FR is outside the scope accepted from peer")
    assert store() == before  # the in-scope DE entry of the same pull is not applied either


def test_checkpoint_signed_by_an_unpinned_key(fake_peer: FakePeer, pin: Callable[..., Peer],
                                              stranger_key: NodeKey):
    fake_peer.create()
    pin()
    fake_peer.routes["/federation/v1/checkpoint"] = lambda _q: (200, fake_peer.checkpoint(key=stranger_key))
    before = store()
    refused(pull_peer("peer"), "checkpoint is not signed by the key pinned for peer")
    assert store() == before


def test_entry_signed_by_an_unpinned_key(fake_peer: FakePeer, pin: Callable[..., Peer],
                                         stranger_key: NodeKey):
    entry_id = fake_peer.create()
    doc = dict(fake_peer.current[entry_id], entry_id=entry_id.replace(entry_id[-4:], "beef"))
    fake_peer.publish(doc, key=stranger_key)
    pin()
    refused(pull_peer("peer"), "seq 2 is not signed by the key pinned for peer")
    assert Organisation.select().count() == 0


@pytest.mark.parametrize(("seq", "reason"), [
    (1, "history rewritten: the journal's session changed"),
    (2, "history rewritten: journal up to 4 does not chain to the checkpoint head"),
    (3, "history rewritten: seq 3 now has a different leaf"),  # the seam a pull re-reads
])
def test_journal_whose_history_was_rewritten(fake_peer: FakePeer, pin: Callable[..., Peer], seq: int,
                                             reason: str):
    ids = [fake_peer.create(name=f"Provider {n}") for n in range(3)]
    pin()
    assert pull_peer("peer").size == 3
    # The peer re-signs one accepted leaf with other content and carries on: a consistent history (the
    # checkpoint's head matches it), just not the one this node accepted.
    doc = dict(fake_peer.current[ids[seq - 1]], name="Rewritten")
    fake_peer.leaves[seq - 1] = Leaf(seq, doc["entry_id"], doc["version"],
                                     node.signed(doc, fake_peer.key, fake_peer.node_id))
    fake_peer.create(name="Provider 3")
    before = store()
    refused(pull_peer("peer"), reason)
    assert store() == before


def test_body_larger_than_the_limit(fake_peer: FakePeer, pin: Callable[..., Peer],
                                    monkeypatch: pytest.MonkeyPatch):
    fake_peer.create()
    pin()
    monkeypatch.setitem(runtime.settings(), "FEDERATION_MAX_RESPONSE_BYTES", 65536)
    fake_peer.routes["/federation/v1/changes"] = lambda _q: (200, b'{"items":[' + b" " * 200_000 + b"]}")
    before = store()
    refused(pull_peer("peer"), "exceeds the limit of 65536 bytes", attack=False)
    assert store() == before


@pytest.mark.parametrize("body", [b"[" * 200_000, b'{"items": [{"seq": 2}]}', b"\xff\xfe"])
def test_malformed_pages_are_failures_not_crashes(fake_peer: FakePeer, pin: Callable[..., Peer], body: bytes):
    fake_peer.create()
    pin()
    assert pull_peer("peer").ok
    fake_peer.create()
    fake_peer.routes["/federation/v1/changes"] = lambda _q: (200, body)
    before = store()
    result = pull_peer("peer")
    assert not result.ok and PeerState.get().last_error == result.reason
    assert store() == before


@pytest.mark.parametrize("how", ["silent", "trickle"])
def test_peer_that_answers_slowly_forever(fake_peer: FakePeer, pin: Callable[..., Peer], how: str):
    fake_peer.create()
    pin()
    if how == "silent":
        fake_peer.routes["/federation/v1/checkpoint"] = slow_forever
    else:
        fake_peer.trickle.add("/federation/v1/checkpoint")
    before = store()
    started = time.monotonic()
    result = pull_peer("peer")
    elapsed = time.monotonic() - started
    refused(result, "timed out" if how == "silent" else "did not answer within 3 s", attack=False)
    assert elapsed < 10  # bounded by the read timeout (1 s) and the deadline (3 s), not by the peer
    assert store() == before


def test_unpinned_or_wrongly_pinned_peer_is_never_added(fake_peer: FakePeer, stranger_key: NodeKey):
    from directory.federation import peers
    from directory.federation.verify import Rejected

    with pytest.raises(Rejected, match="does not present a key with the pinned fingerprint"):
        peers.add("peer", fake_peer.url, stranger_key.fingerprint, ADMIN)
    assert Peer.select().count() == 0


def test_pages_that_never_advance_the_journal(fake_peer: FakePeer, pin: Callable[..., Peer]):
    fake_peer.create()
    fake_peer.create()
    pin()
    served: list[str] = []

    def stuck(query: dict[str, str]) -> tuple[int, bytes]:
        # Always the first leaf again, numbered as one already read: each page parses and checks, and
        # none moves the pull on. Past a few rounds the test stops the peer itself (the bug: forever).
        served.append(query["after"])
        if len(served) > 5:
            return 500, b"{}"
        page = json.loads(fake_peer.changes(0, 1))
        page["items"][0]["seq"] = 0
        return 200, json.dumps(page).encode()

    fake_peer.routes["/federation/v1/changes"] = stuck
    before = store()
    refused(pull_peer("peer"), "journal does not advance past seq 0")
    assert len(served) == 1
    assert store() == before



@pytest.mark.parametrize(("change", "reason"), [
    ({"country": ["DE"]}, "country"),  # crashed the pull (AttributeError)
    ({"contacts": "abc"}, "contacts"),  # crashed the pull
    ({"confirmed_at": None}, "confirmed_at"),  # crashed the pull (raw sqlite3.IntegrityError)
    ({"timezone": 5}, "timezone"),  # was stored, and broke every later answer about the entry
    ({"kind": "nonsense"}, "kind"),  # was stored
    ({"ip_prefixes": [5]}, "ip_prefixes"),  # was stored as 0.0.0.5/32
    ({"contacts": [{"email": "a@example.org"}]}, "contacts"),
    ({"keys": [{"fingerprint": "AB", "public_key": "x", "use": "organisation"}]}, "keys"),
    ({"deleted": True}, "deleted"),
])
def test_signed_entry_that_is_not_a_valid_document(fake_peer: FakePeer, pin: Callable[..., Peer],
                                                   change: dict[str, Any], reason: str):
    """The pinned key vouches for who sent an entry, not that it is well-formed: a peer's bug must not
    crash the pull or plant a document that breaks the pages that show it."""
    entry_id = fake_peer.create()
    fake_peer.publish(dict(fake_peer.current[entry_id], entry_id=entry_id[:-4] + "beef", **change))
    pin()
    refused(pull_peer("peer"), f"seq 2: not a valid entry document ({reason}")
    assert Organisation.select().count() == 0


def test_signed_tombstone_with_extra_fields(fake_peer: FakePeer, pin: Callable[..., Peer]):
    entry_id = fake_peer.create()
    fake_peer.delete(entry_id)
    tomb = fake_peer.leaves.pop().envelope
    doc = json.loads(base64.urlsafe_b64decode(json.loads(tomb)["payload"] + "=="))
    fake_peer.publish(dict(doc, name="Still here"))
    pin()
    refused(pull_peer("peer"), "seq 2: not a valid tombstone")
    assert Organisation.select().count() == 0


def test_a_refused_entry_is_reported_by_field_without_its_values(fake_peer: FakePeer,
                                                                 pin: Callable[..., Peer]):
    # The reason is logged and mailed to the administrators: it names the field, never the value.
    entry_id = fake_peer.create()
    doc = fake_peer.current[entry_id]
    contacts = [dict(doc["contacts"][0], display_name="\x07Erika", languages=["erika-mustermann"])]
    fake_peer.publish(dict(doc, entry_id=entry_id[:-4] + "beef", contacts=contacts))
    pin()
    result = pull_peer("peer")
    refused(result, "(contacts.0.display_name: invalid; contacts.0.languages.0: invalid)")
    assert "erika" not in (result.reason or "").lower()  # the language's message quoted the value


def test_a_pull_that_finishes_after_a_newer_one_does_not_move_the_state_back(fake_peer: FakePeer,
                                                                            pin: Callable[..., Peer]):
    """Two pulls of one peer at once (the scheduler's and an operator's): the one holding the older
    checkpoint must not overwrite the newer state, or every later pull sees its own entries again and
    refuses them as a replay."""
    fake_peer.create()
    pin()
    assert pull_peer("peer").ok

    class Overtaken(HttpTransport):
        """Lets a second pull run to completion after the first has its (older) checkpoint."""

        overtaken = False

        def get(self, url: str, headers: dict[str, str]) -> Any:
            response = super().get(url, headers)
            if "/checkpoint" in url and not self.overtaken:
                self.overtaken = True
                fake_peer.create(name="Newer Telecom")
                assert pull_peer("peer").size == 2
            return response

    late = pull_peer("peer", Overtaken())
    assert not late.ok and "another pull" in (late.reason or "")
    assert PeerState.get().size == 2
    result = pull_peer("peer")
    assert result.ok, result.reason


@pytest.mark.parametrize("when", ["after the pull", "before the first pull", "to an older version"])
def test_a_signature_the_organisation_added_at_the_peer_reaches_this_node(
        fake_peer: FakePeer, pin: Callable[..., Peer], org_keys: tuple[NodeKey, NodeKey], when: str):
    """The registrar journals a version again when its organisation signs it: this node stores the longer
    signature list and shows the signature as the organisation's (it never got there before)."""
    org = org_keys[0]
    entry_id = fake_peer.create(org_keys=[org])
    pin()
    if when == "to an older version":
        fake_peer.update(entry_id, name="Renamed Telecom")
    if when != "before the first pull":
        assert pull_peer("peer").ok
    fake_peer.attach(entry_id, org, version=1)
    result = pull_peer("peer")
    assert result.ok, result.reason
    row = EntryVersion.get((EntryVersion.entry_id == entry_id) & (EntryVersion.version == 1))
    assert journal.envelope_of(row.payload, row.signatures) == fake_peer.leaves[-1].envelope
    assert [(s["role"], s["key_fpr"], s["status"]) for s in signatures.statuses(row)] == [
        ("registrar", fake_peer.key.fingerprint, "valid"), ("organisation", org.fingerprint, "valid")]
    # The projection stays on the entry's newest version; the next pull, with nothing new, succeeds.
    assert Organisation.get(Organisation.entry_id == entry_id).version == (
        2 if when == "to an older version" else 1)
    assert pull_peer("peer").ok


@pytest.mark.parametrize(("case", "reason"), [
    ("other payload", "was accepted with other content"),
    ("record dropped", "do not begin with the accepted ones"),
    ("list shortened", "do not begin with the accepted ones"),
    ("record relabelled", "do not begin with the accepted ones"),
    ("record that does not verify", "seq 3: a signature does not verify"),
    ("same list again", "seq 3: replay: version 1 of"),
])
def test_a_version_journaled_again_may_only_add_signatures_that_verify(
        fake_peer: FakePeer, pin: Callable[..., Peer], org_keys: tuple[NodeKey, NodeKey], case: str,
        reason: str):
    first, second = org_keys
    entry_id = fake_peer.create(org_keys=org_keys)
    pin()
    fake_peer.attach(entry_id, first)
    assert pull_peer("peer").ok  # stored: the registrar's signature, then the organisation's
    payload, records = fake_peer.signed_version(entry_id)
    registrar, own = records
    extra = SignatureRecord(entry_id, second.fingerprint, second.sign(payload))
    if case == "other payload":
        fake_peer.publish(dict(fake_peer.current[entry_id], name="Rewritten Telecom"))
    else:
        fake_peer.journal_again(entry_id, 1, payload, {
            "record dropped": [registrar, extra],
            "list shortened": [registrar],
            # Still a valid signature, now passed off as the registrar's.
            "record relabelled": [registrar, SignatureRecord(fake_peer.node_id, own.key_fpr, own.sig), extra],
            "record that does not verify": [
                registrar, own, SignatureRecord(entry_id, second.fingerprint, second.sign(payload + b" "))],
            "same list again": [registrar, own],
        }[case])
    before = store()
    refused(pull_peer("peer"), reason)
    assert store() == before


def _expiring_key(seconds: int) -> NodeKey:
    """An organisation's Ed25519 key that expires `seconds` after it is made."""
    key = PGPKey.new(PubKeyAlgorithm.EdDSA, EllipticCurveOID.Ed25519)
    key.add_uid(PGPUID.new("Short-lived Telecom key"), usage={KeyFlags.Sign, KeyFlags.Certify},
                hashes=[HashAlgorithm.SHA512], key_expiration=timedelta(seconds=seconds))
    return NodeKey(key)


def test_an_organisation_signature_whose_key_expired_since_is_history_not_an_attack(
        fake_peer: FakePeer, pin: Callable[..., Peer]):
    """A node that starts following late pulls old versions too. The organisation signed one with a key
    that has expired since: the signature was good when it was made, so the version is stored and its
    signature shown as key_expired. The pull used to be refused as an attack, for good."""
    org = _expiring_key(2)
    entry_id = fake_peer.create(org_keys=[org])
    fake_peer.attach(entry_id, org)
    time.sleep(3)  # real time: signatures are judged by the wall clock
    pin()

    result = pull_peer("peer")

    assert result.ok, result.reason
    row = EntryVersion.get((EntryVersion.entry_id == entry_id) & (EntryVersion.version == 1))
    assert [(s["role"], s["status"]) for s in signatures.statuses(row)] == [
        ("registrar", "valid"), ("organisation", "key_expired")]


def test_a_signature_made_after_the_organisation_key_expired_is_still_refused(
        fake_peer: FakePeer, pin: Callable[..., Peer]):
    org = _expiring_key(1)
    entry_id = fake_peer.create(org_keys=[org])
    time.sleep(2)
    fake_peer.attach(entry_id, org)  # signed with the key after it expired
    pin()
    before = store()

    result = pull_peer("peer")

    assert not result.ok and "after key" in (result.reason or "")
    assert store() == before


@pytest.mark.parametrize("case", ["same organisation key again", "registrar key again",
                                  "signer not the organisation"])
def test_a_version_journaled_again_only_gains_signatures_by_organisation_keys_it_lacks(
        fake_peer: FakePeer, pin: Callable[..., Peer], org_keys: tuple[NodeKey, NodeKey], case: str):
    """`signatures.attach` adds one signature per organisation key, so a version has at most one leaf more
    than its organisation has keys. A peer that journals a version again with a second signature by a key
    already on it (or another registrar signature) could journal it again for ever: refused."""
    first, second = org_keys
    entry_id = fake_peer.create(org_keys=org_keys)
    pin()
    fake_peer.attach(entry_id, first)
    assert pull_peer("peer").ok
    payload, records = fake_peer.signed_version(entry_id)
    time.sleep(1.1)  # a signature made another second: other bytes, the same key
    extra = {
        "same organisation key again": SignatureRecord(entry_id, first.fingerprint, first.sign(payload)),
        "registrar key again": SignatureRecord(fake_peer.node_id, fake_peer.key.fingerprint,
                                               fake_peer.key.sign(payload)),
        "signer not the organisation": SignatureRecord(fake_peer.node_id, second.fingerprint,
                                                       second.sign(payload)),
    }[case]
    fake_peer.journal_again(entry_id, 1, payload, [*records, extra])
    before = store()
    refused(pull_peer("peer"), "seq 3:")
    assert store() == before


def test_an_expired_key_signature_dated_before_the_version_was_issued_is_refused(
        fake_peer: FakePeer, pin: Callable[..., Peer]):
    """Good when made only if it was made after the version existed: a signature dated before the version's
    iat, by a key that has expired since, is one made with the expired key and dated back."""
    made = datetime.now(UTC) - timedelta(seconds=2000)
    key = PGPKey.new(PubKeyAlgorithm.EdDSA, EllipticCurveOID.Ed25519, created=made)
    key.add_uid(PGPUID.new("Expired Telecom key"), usage={KeyFlags.Sign, KeyFlags.Certify},
                hashes=[HashAlgorithm.SHA512], key_expiration=timedelta(seconds=1000), created=made)
    org = NodeKey(key)
    entry_id = fake_peer.create(org_keys=[org])
    payload, records = fake_peer.signed_version(entry_id)
    backdated = str(key.sign(payload, hash=HashAlgorithm.SHA512, created=made + timedelta(seconds=500)))
    fake_peer.journal_again(entry_id, 1, payload,
                            [*records, SignatureRecord(entry_id, org.fingerprint, backdated)])
    pin()
    before = store()

    refused(pull_peer("peer"), "seq 2: a signature does not verify")
    assert store() == before
