"""Signed entries over HTTP: node signatures, exact bytes, organisations' own gpg signatures."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from directory import runtime
from directory.cli.entries import entries_group
from directory.keys import verify_envelope
from directory.models.entries import EntryVersion
from tests.conftest import auth, row_counts
from tests.keys.conftest import Gpg, require_gpg

API = "/api/v1/organisations"


@pytest.fixture(scope="module")
def gpg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gpg]:
    require_gpg()
    home = Gpg(tmp_path_factory.mktemp("gpg-api"))
    home.org = home.gen_key("Example Telecom <pgp@telecom.example>", "ed25519", "sign,cert", "2y")
    home.mallory = home.gen_key("Mallory <mallory@evil.example>", "ed25519", "sign,cert", "2y")
    yield home
    home.close()


def _org_with_key(client, make_org, token_for, gpg: Gpg) -> tuple[str, str]:
    entry_id = make_org()
    token = token_for("publisher", entry_id)
    etag = client.get(f"{API}/{entry_id}").headers["ETag"]
    key = gpg.export("pgp@telecom.example").decode()
    response = client.patch(f"{API}/{entry_id}", json={"keys": [{"public_key": key, "use": "organisation"}]},
                            headers=auth(token, **{"If-Match": etag}))
    assert response.status_code == 200, response.get_json()
    return entry_id, token


def test_every_answer_shows_the_node_signature_status(client, make_org):
    entry_id = make_org()
    body = client.get(f"{API}/{entry_id}").get_json()
    assert body["signatures"] == [{"signer": "https://node-a.example", "role": "registrar",
                                   "key_fpr": runtime.node_key().fingerprint, "status": "valid",
                                   "reason": body["signatures"][0]["reason"]}]


def test_canonical_bytes_are_served_byte_for_byte_to_readers(client, make_org, token_for):
    entry_id = make_org()
    assert client.get(f"{API}/{entry_id}/versions/1/canonical").status_code == 401
    response = client.get(f"{API}/{entry_id}/versions/1/canonical", headers=auth(token_for("reader")))
    stored = EntryVersion.get(EntryVersion.entry_id == entry_id)
    assert response.status_code == 200 and response.data == bytes(stored.payload)


def test_exported_envelope_verifies_offline_with_the_node_key_alone(client, make_org, token_for, tmp_path):
    entry_id = make_org()
    envelope = client.get(f"{API}/{entry_id}/versions/1/envelope", headers=auth(token_for("reader"))).data
    node = runtime.node_key()
    payload, results = verify_envelope(envelope, {node.fingerprint: node.public_armored})
    assert [r.status for r in results] == ["valid"]
    assert json.loads(payload)["entry_id"] == entry_id
    # The same through the CLI, from a file, as an auditor without database access would do it.
    (tmp_path / "env.json").write_bytes(envelope)
    (tmp_path / "node.asc").write_text(node.public_armored)
    result = CliRunner().invoke(entries_group, ["verify", str(tmp_path / "env.json"),
                                                "--node-key", str(tmp_path / "node.asc")])
    assert result.exit_code == 0, result.output
    tampered = envelope.replace(b'"payload":"', b'"payload":"A', 1)
    (tmp_path / "bad.json").write_bytes(tampered)
    result = CliRunner().invoke(entries_group, ["verify", str(tmp_path / "bad.json"),
                                                "--node-key", str(tmp_path / "node.asc")])
    assert result.exit_code in (1, 2)


@pytest.mark.gpg
def test_node_signature_verifies_with_gpg(client, make_org, token_for, gpg, tmp_path):
    entry_id = make_org()
    reader = token_for("reader")
    data = client.get(f"{API}/{entry_id}/versions/1/canonical", headers=auth(reader)).data
    stored = json.loads(EntryVersion.get(EntryVersion.entry_id == entry_id).signatures)[0]
    gpg.import_(runtime.node_key().public_armored.encode())
    (tmp_path / "entry.json").write_bytes(data)
    (tmp_path / "entry.json.asc").write_text(stored["sig"])
    code, status = gpg.verify(tmp_path / "entry.json.asc", tmp_path / "entry.json")
    assert code == 0 and "GOODSIG" in status


@pytest.mark.gpg
def test_organisation_signs_with_gpg_and_the_signature_is_shown(client, make_org, token_for, gpg):
    entry_id, token = _org_with_key(client, make_org, token_for, gpg)
    data = client.get(f"{API}/{entry_id}/versions/2/canonical", headers=auth(token)).data
    signature = gpg.detach_sign(gpg.org, data).decode()
    response = client.post(f"{API}/{entry_id}/versions/2/signatures", json={"signature": signature},
                           headers=auth(token))
    assert response.status_code == 201, response.get_json()
    roles = {(s["role"], s["status"]) for s in response.get_json()}
    assert roles == {("registrar", "valid"), ("organisation", "valid")}
    shown = client.get(f"{API}/{entry_id}").get_json()["signatures"]
    assert [s["role"] for s in shown] == ["registrar", "organisation"]
    # The exact bytes did not change: signatures are detached.
    assert client.get(f"{API}/{entry_id}/versions/2/canonical", headers=auth(token)).data == data


@pytest.mark.gpg
def test_signature_by_another_key_or_over_other_bytes_is_refused(client, make_org, token_for, gpg):
    entry_id, token = _org_with_key(client, make_org, token_for, gpg)
    data = client.get(f"{API}/{entry_id}/versions/2/canonical", headers=auth(token)).data
    before = EntryVersion.get((EntryVersion.entry_id == entry_id) & (EntryVersion.version == 2)).signatures
    counts = row_counts()
    for signature in (gpg.detach_sign(gpg.mallory, data),
                      gpg.detach_sign(gpg.org, data + b" ")):
        response = client.post(f"{API}/{entry_id}/versions/2/signatures",
                               json={"signature": signature.decode()}, headers=auth(token))
        assert response.status_code == 422
        assert response.get_json()["errors"]["signature"]
    after = EntryVersion.get((EntryVersion.entry_id == entry_id) & (EntryVersion.version == 2)).signatures
    assert after == before and row_counts() == counts


@pytest.mark.gpg
def test_a_federated_entry_takes_no_signature_here(client, make_org, token_for, gpg, monkeypatch):
    # Entries registered at another node are read-only here: their stored signatures included.
    key = gpg.export("pgp@telecom.example").decode()
    with monkeypatch.context() as elsewhere:
        elsewhere.setitem(runtime.settings(), "NODE_ID", "https://node-b.example")
        entry_id = make_org(keys=[{"public_key": key, "use": "organisation"}])
    admin = token_for("admin")
    data = client.get(f"{API}/{entry_id}/versions/1/canonical", headers=auth(admin)).data
    before = EntryVersion.get((EntryVersion.entry_id == entry_id) & (EntryVersion.version == 1)).signatures
    response = client.post(f"{API}/{entry_id}/versions/1/signatures", headers=auth(admin),
                           json={"signature": gpg.detach_sign(gpg.org, data).decode()})
    assert response.status_code == 409, response.get_json()
    after = EntryVersion.get((EntryVersion.entry_id == entry_id) & (EntryVersion.version == 1)).signatures
    assert after == before


@pytest.mark.gpg
def test_revoked_key_cannot_be_registered(client, make_org, token_for, tmp_path_factory):
    require_gpg()
    home = Gpg(tmp_path_factory.mktemp("gpg-revoked"))
    fpr = home.gen_key("Gone <gone@telecom.example>", "ed25519", "sign,cert", "1y")
    home.revoke_key(fpr)
    entry_id = make_org()
    etag = client.get(f"{API}/{entry_id}").headers["ETag"]
    response = client.patch(f"{API}/{entry_id}", json={"keys": [{"public_key": home.export(fpr).decode()}]},
                            headers=auth(token_for("admin"), **{"If-Match": etag}))
    home.close()
    assert response.status_code == 422 and "revoked" in json.dumps(response.get_json())


def test_export_cli_writes_the_exact_bytes(app, make_org, settings, tmp_path, monkeypatch):
    entry_id = make_org()
    for name, value in settings.items():
        monkeypatch.setenv(f"DIRECTORY_{name}", str(value))
    out = tmp_path / "entry.json"
    result = CliRunner().invoke(entries_group, ["export", entry_id, "--canonical", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == bytes(EntryVersion.get(EntryVersion.entry_id == entry_id).payload)
