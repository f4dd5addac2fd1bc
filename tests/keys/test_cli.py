"""`directory keys ...` exit codes: 0 good, 1 checked and not good (reason printed), 2 unreadable."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from directory.cli.keys import keys_group
from tests.keys.conftest import DATA, Material


def run(*args: str | Path, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(keys_group, [str(a) for a in args], env=env)


@pytest.fixture
def files(material: Material, tmp_path: Path) -> dict[str, Path]:
    paths = {}
    # Keys under their name, signatures and signed messages under "<name>.sig".
    for name, blob in [*material.keys.items(), *((f"{n}.sig", b) for n, b in material.sigs.items())]:
        paths[name] = tmp_path / name
        paths[name].write_bytes(blob)
    paths["data"] = tmp_path / "data"
    paths["data"].write_bytes(DATA)
    paths["changed"] = tmp_path / "changed"
    paths["changed"].write_bytes(DATA.replace(b"0042", b"0043"))
    paths["garbage"] = tmp_path / "garbage"
    paths["garbage"].write_bytes(b"this is not a key\n")
    return paths


@pytest.mark.gpg
class TestCheck:
    def test_usable_key(self, files: dict[str, Path], material: Material) -> None:
        result = run("check", files["ed"])
        assert result.exit_code == 0, result.output
        assert f"fingerprint: {material.fprs['ed']}" in result.output
        assert "algorithm:   EdDSA" in result.output
        assert "usable for signing: yes" in result.output
        assert run("check", files["rsa_bin"]).exit_code == 0

    @pytest.mark.parametrize(("key", "reason"), [("expired", "expired on"), ("revoked", "revoked")])
    def test_unusable_key(self, files: dict[str, Path], key: str, reason: str) -> None:
        result = run("check", files[key])
        assert result.exit_code == 1
        assert "usable for signing: no" in result.output and reason in result.output

    @pytest.mark.parametrize("key", ["garbage", "rsa_secret", "ed_primary.sig"])
    def test_unreadable_key(self, files: dict[str, Path], key: str) -> None:
        result = run("check", files[key])
        assert result.exit_code == 2
        assert "error:" in result.stderr


@pytest.mark.gpg
class TestVerify:
    def test_detached(self, files: dict[str, Path]) -> None:
        result = run("verify", "--key", files["ed"], "--signature", files["ed_primary.sig"], files["data"])
        assert result.exit_code == 0, result.output
        assert "valid: good signature" in result.stdout
        binary = run("verify", "--key", files["rsa_bin"], "--signature", files["rsa_primary_bin.sig"],
                     files["data"])
        assert binary.exit_code == 0, binary.output

    @pytest.mark.parametrize(("key", "sig", "data", "reason"), [
        ("ed", "ed_primary.sig", "changed", "does not match the data"),
        ("rsa", "rsa_sha1.sig", "data", "SHA1"),
        ("revoked", "revoked.sig", "data", "key revoked"),
        ("rsa", "ed_primary.sig", "data", "unknown key"),
    ])
    def test_detached_not_valid(
        self, files: dict[str, Path], key: str, sig: str, data: str, reason: str
    ) -> None:
        result = run("verify", "--key", files[key], "--signature", files[sig], files[data])
        assert result.exit_code == 1
        assert reason in result.stderr and result.stdout == ""

    def test_clearsigned(self, files: dict[str, Path], tmp_path: Path) -> None:
        assert run("verify", "--key", files["ed"], files["clear_ed.sig"]).exit_code == 0
        tampered = tmp_path / "tampered.asc"
        tampered.write_bytes(files["clear_ed.sig"].read_bytes().replace(b"preserve", b"delete"))
        result = run("verify", "--key", files["ed"], tampered)
        assert result.exit_code == 1 and "does not match" in result.stderr

    @pytest.mark.parametrize(("key", "sig", "data"), [
        ("garbage", "ed_primary.sig", "data"),  # unreadable key
        ("rsa_secret", "ed_primary.sig", "data"),  # private key
        ("ed", "garbage", "data"),  # unreadable signature
        ("ed", None, "data"),  # not a clearsigned message
    ])
    def test_unreadable_input(self, files: dict[str, Path], key: str, sig: str | None, data: str) -> None:
        args: list[str | Path] = ["verify", "--key", files[key]]
        if sig:
            args += ["--signature", files[sig]]
        result = run(*args, files[data])
        assert result.exit_code == 2, result.output
        assert "error:" in result.stderr

    def test_missing_file_is_a_usage_error(self, files: dict[str, Path], tmp_path: Path) -> None:
        assert run("verify", "--key", tmp_path / "nope", files["data"]).exit_code == 2


def test_init_and_show_node(tmp_path: Path) -> None:
    env = {"DIRECTORY_INSTANCE_PATH": str(tmp_path / "instance"), "DIRECTORY_NODE_ID": "https://n.example"}
    missing = run("show-node", env=env)
    assert missing.exit_code == 1 and "init-node" in missing.stderr
    created = run("init-node", env=env)
    assert created.exit_code == 0, created.output
    fingerprint = created.stdout.split("node key created: ")[1].split()[0]
    shown = run("show-node", env=env)
    assert shown.exit_code == 0
    lines = shown.stdout.splitlines()
    assert lines[0] == fingerprint
    assert lines[1] == "-----BEGIN PGP PUBLIC KEY BLOCK-----"
    assert lines[-1] == "-----END PGP PUBLIC KEY BLOCK-----"
    again = run("init-node", env=env)
    assert again.exit_code == 1 and "refusing to overwrite" in again.stderr
