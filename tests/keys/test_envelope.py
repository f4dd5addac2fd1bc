"""Envelopes: strict shape, exact payload bytes, verification order (bytes first, then canonical form)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from directory.keys import (
    CanonicalError,
    NodeKey,
    SignatureRecord,
    canonical_bytes,
    envelope_bytes,
    init_node_key,
    make_envelope,
    open_envelope,
    verify_envelope,
)
from tests.keys.conftest import Material

PAYLOAD = canonical_bytes({"typ": "cpd.entry.v1", "name": "Zürich Provider AG", "version": 3})
NODE_ID = "https://node-a.example"


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> NodeKey:
    return init_node_key(tmp_path_factory.mktemp("instance"), NODE_ID)


def signed(node: NodeKey, payload: bytes = PAYLOAD) -> dict[str, Any]:
    return make_envelope(payload, [SignatureRecord(NODE_ID, node.fingerprint, node.sign(payload))])


def test_round_trip_keeps_exact_bytes(node: NodeKey) -> None:
    env = signed(node)
    assert isinstance(env["payload"], str) and "=" not in env["payload"]
    stored = envelope_bytes(env)
    assert stored == canonical_bytes(json.loads(stored))
    payload, records = open_envelope(stored)
    assert payload == PAYLOAD
    assert records == [SignatureRecord(NODE_ID, node.fingerprint, records[0].sig)]
    assert open_envelope(env)[0] == PAYLOAD


def test_verifies_offline_with_the_node_key_alone(node: NodeKey) -> None:
    payload, results = verify_envelope(envelope_bytes(signed(node)), {node.fingerprint: node.public_armored})
    assert payload == PAYLOAD
    assert [r.status for r in results] == ["valid"]


@pytest.mark.gpg
def test_organisation_signature_made_with_gpg(node: NodeKey, material: Material, tmp_path: Path) -> None:
    # The organisation exports the canonical bytes and signs them with `gpg --detach-sign --armor`.
    exported = tmp_path / "entry.json"
    exported.write_bytes(PAYLOAD)
    org_sig = material.gpg.detach_sign(material.fprs["ed"], exported.read_bytes()).decode()
    env = make_envelope(PAYLOAD, [
        SignatureRecord(NODE_ID, node.fingerprint, node.sign(PAYLOAD)),
        SignatureRecord("urn:cpd:node-a.example:alice", material.fprs["ed"], org_sig),
    ])
    keys = {node.fingerprint: node.public_armored, material.fprs["ed"]: material.keys["ed"]}
    _, results = verify_envelope(envelope_bytes(env), keys)
    assert [r.status for r in results] == ["valid", "valid"]
    _, node_only = verify_envelope(env, {node.fingerprint: node.public_armored})
    assert [r.status for r in node_only] == ["valid", "unknown_key"]


@pytest.mark.gpg
def test_valid_signature_over_non_canonical_payload_is_rejected(
    node: NodeKey, material: Material
) -> None:
    loose = b'{"version": 3, "typ": "cpd.entry.v1"}'
    org_sig = material.gpg.detach_sign(material.fprs["ed"], loose).decode()
    env = make_envelope(loose, [
        SignatureRecord(NODE_ID, node.fingerprint, node.sign(loose)),
        SignatureRecord("org", material.fprs["ed"], org_sig),
    ])
    keys = {node.fingerprint: node.public_armored, material.fprs["ed"]: material.keys["ed"]}
    payload, results = verify_envelope(env, keys)
    assert payload == loose
    assert [(r.status, r.reason) for r in results] == [("invalid", "payload is not canonical")] * 2


def test_non_canonical_detail_is_given(node: NodeKey) -> None:
    duplicate = b'{"a":1,"a":2}'
    _, results = verify_envelope(signed(node, duplicate), {node.fingerprint: node.public_armored})
    assert results[0].status == "invalid"
    assert results[0].reason == "payload is not canonical: duplicate member name 'a'"


def test_bad_signature_reported_before_canonical_form(node: NodeKey) -> None:
    env = signed(node, b'{"b":1, "a":2}')
    env["payload"] = make_envelope(b'{"b":1,"a":3}', [SignatureRecord("x", node.fingerprint, "x")])["payload"]
    _, results = verify_envelope(env, {node.fingerprint: node.public_armored})
    assert results[0].status == "invalid" and "does not match the data" in results[0].reason


def test_tampered_payload_is_invalid(node: NodeKey) -> None:
    env = signed(node)
    other = canonical_bytes({"typ": "cpd.entry.v1", "name": "Evil Provider AG", "version": 3})
    env["payload"] = make_envelope(other, [SignatureRecord("x", node.fingerprint, "x")])["payload"]
    _, results = verify_envelope(env, {node.fingerprint: node.public_armored})
    assert results[0].status == "invalid"


def test_record_must_name_the_signing_key(node: NodeKey, tmp_path: Path) -> None:
    other = init_node_key(tmp_path, "https://node-b.example")
    env = make_envelope(PAYLOAD, [SignatureRecord(NODE_ID, other.fingerprint, node.sign(PAYLOAD))])
    _, results = verify_envelope(env, {other.fingerprint: other.public_armored,
                                       node.fingerprint: node.public_armored})
    assert results[0].status == "unknown_key"


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda e: e.update(extra=1), "unknown ['extra']"),
    (lambda e: e.pop("signatures"), "missing ['signatures']"),
    (lambda e: e.update(signatures=[]), "non-empty list"),
    (lambda e: e["signatures"][0].update(note="x"), "exactly the fields"),
    (lambda e: e["signatures"][0].update(key_fpr="abc"), "full fingerprint"),
    (lambda e: e["signatures"][0].update(signer=""), "non-empty strings"),
    (lambda e: e.update(payload=e["payload"] + "="), "base64url"),
    (lambda e: e.update(payload="ab+/"), "base64url"),
    (lambda e: e.update(payload="YR"), "trailing bits"),  # "YQ" is the one spelling of b"a"
    (lambda e: e.update(payload="Y"), "base64url"),
    (lambda e: e.update(payload=5), "must be a string"),
])
def test_shape_is_strict(node: NodeKey, mutate: Callable[[dict[str, Any]], object], message: str) -> None:
    env = json.loads(envelope_bytes(signed(node)))
    mutate(env)
    with pytest.raises(CanonicalError, match=message.replace("[", r"\[").replace("]", r"\]")):
        open_envelope(env)
    with pytest.raises(CanonicalError):
        open_envelope(json.dumps(env).encode())


def test_duplicate_envelope_member_is_rejected(node: NodeKey) -> None:
    stored = envelope_bytes(signed(node))
    with pytest.raises(CanonicalError, match="duplicate"):
        open_envelope(stored[:-1] + b',"payload":"YQ"}')


def test_payload_is_never_reserialised(node: NodeKey) -> None:
    # A signed payload with escapes and non-ASCII text comes back byte for byte.
    payload = canonical_bytes({"a": "line\nbreak \u00e9 \U0001f600", "b": [1, -2, None, True]})
    assert open_envelope(envelope_bytes(signed(node, payload)))[0] == payload
