"""GnuPG as the test oracle (TRAPS.md 8): keys, revocations, expiries and signatures made by the real
`gpg` binary in a throwaway GNUPGHOME, once per session.

`--faked-system-time` puts keys and signatures in the past; edits that gpg only offers interactively
(revoking a subkey) are driven through `--command-fd`. Material gpg refuses to make (a signature by an
encryption-only subkey, a subkey bound without a back-signature, a revocation by another key) is crafted
with PGPy from gpg's own secret keys, and the raw packets are spliced by hand where the attack is "append
someone else's packets to a key blob".
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest

REQUIRE_ALL = os.environ.get("DIRECTORY_REQUIRE_ALL") == "1"
GPG = "gpg"
DATA = b"Request for subscriber information, reference 2026/0042.\n"

# Fixed points in the past for keys that must be expired by now.
T2020 = int(datetime(2020, 1, 1, tzinfo=UTC).timestamp())
DAY = 86400


def require_gpg() -> None:
    if shutil.which(GPG) is None:
        message = "gpg is missing: install gnupg (apt-get install gnupg)"
        if REQUIRE_ALL:
            pytest.fail(message)
        pytest.skip(message)


class Gpg:
    """A thin, batch-mode driver of the gpg binary in its own home directory."""

    def __init__(self, home: Path) -> None:
        self.home = home
        home.chmod(0o700)

    def run(self, *args: str, stdin: bytes | None = None, at: int | None = None) -> bytes:
        cmd = [GPG, "--homedir", str(self.home), "--batch", "--yes", "--pinentry-mode", "loopback",
               "--passphrase", "", "--no-tty", "--quiet"]
        if at is not None:
            cmd += ["--faked-system-time", f"{at}!"]
        done = subprocess.run([*cmd, *args], input=stdin, capture_output=True, timeout=60, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"gpg {' '.join(args)} failed: {done.stderr.decode(errors='replace')}")
        return done.stdout

    def status(self, *args: str, stdin: bytes | None = None) -> tuple[int, str]:
        """Run gpg without raising: (exit code, status-fd output) for oracle comparisons."""
        cmd = [GPG, "--homedir", str(self.home), "--batch", "--no-tty", "--status-fd", "1", *args]
        done = subprocess.run(cmd, input=stdin, capture_output=True, timeout=60, check=False)
        return done.returncode, done.stdout.decode(errors="replace")

    def gen_key(self, uid: str, algo: str, usage: str, expire: str, at: int | None = None) -> str:
        self.run("--quick-gen-key", uid, algo, usage, expire, at=at)
        return self.fingerprints(uid)[0]

    def add_key(self, fpr: str, algo: str, usage: str, expire: str, at: int | None = None) -> str:
        before = set(self.fingerprints(fpr))
        self.run("--quick-add-key", fpr, algo, usage, expire, at=at)
        (new,) = set(self.fingerprints(fpr)) - before
        return new

    def fingerprints(self, who: str) -> list[str]:
        listing = self.run("--with-colons", "--list-keys", who).decode()
        return [line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:")]

    def export(self, who: str, armor: bool = True) -> bytes:
        return self.run(*(["--armor"] if armor else []), "--export", who)

    def export_secret(self, who: str) -> bytes:
        return self.run("--export-secret-keys", who)

    def import_(self, data: bytes) -> None:
        self.run("--import", stdin=data)

    def detach_sign(self, signer: str, data: bytes, *, armor: bool = True, at: int | None = None,
                    extra: tuple[str, ...] = ()) -> bytes:
        return self.run("--local-user", f"{signer}!", *(["--armor"] if armor else []), *extra,
                        "--detach-sign", stdin=data, at=at)

    def clearsign(self, signer: str, text: bytes, extra: tuple[str, ...] = ()) -> bytes:
        return self.run("--local-user", f"{signer}!", *extra, "--clearsign", stdin=text)

    def revoke_key(self, fpr: str) -> None:
        """Import the revocation certificate gpg stored when it made the key."""
        cert = (self.home / "openpgp-revocs.d" / f"{fpr}.rev").read_text()
        # gpg prefixes the armor with ':' so that an accidental import does nothing.
        self.import_(cert.replace(":-----BEGIN PGP PUBLIC KEY BLOCK-----",
                                  "-----BEGIN PGP PUBLIC KEY BLOCK-----").encode())

    def revoke_first_subkey(self, fpr: str) -> None:
        # Answers, in order: select subkey 1, revoke it, "really?", reason 0, empty description, ok.
        self.run("--command-fd", "0", "--edit-key", fpr, stdin=b"key 1\nrevkey\ny\n0\n\ny\nsave\n")

    def verify(self, *files: Path) -> tuple[int, str]:
        return self.status("--verify", *(str(f) for f in files))

    def close(self) -> None:
        subprocess.run(["gpgconf", "--homedir", str(self.home), "--kill", "all"],
                       capture_output=True, check=False, timeout=30)


@dataclass(frozen=True)
class Packet:
    tag: int
    raw: bytes  # header and body
    body: bytes

    @property
    def fingerprint(self) -> str:
        """v4 fingerprint of a key or subkey packet (RFC 4880 12.2)."""
        return hashlib.sha1(b"\x99" + len(self.body).to_bytes(2, "big") + self.body).hexdigest().upper()


def split_packets(blob: bytes) -> list[Packet]:
    """The OpenPGP packets of a binary blob (RFC 4880 4.2; keys never use partial lengths)."""
    packets = []
    index = 0
    while index < len(blob):
        head = blob[index]
        assert head & 0x80, "not an OpenPGP packet"
        if head & 0x40:  # new format
            tag, first = head & 0x3F, blob[index + 1]
            if first < 192:
                header, length = 2, first
            elif first < 224:
                header, length = 3, ((first - 192) << 8) + blob[index + 2] + 192
            elif first == 255:
                header, length = 6, int.from_bytes(blob[index + 2:index + 6], "big")
            else:
                raise AssertionError("partial body lengths do not occur in keys")
        else:
            tag, kind = (head >> 2) & 0x0F, head & 0x03
            header = {0: 2, 1: 3, 2: 5}[kind]
            length = int.from_bytes(blob[index + 1:index + header], "big")
        raw = blob[index:index + header + length]
        packets.append(Packet(tag, raw, raw[header:]))
        index += header + length
    return packets


def new_packet(tag: int, body: bytes) -> bytes:
    assert len(body) < 192
    return bytes([0xC0 | tag, len(body)]) + body


TAG_SIGNATURE, TAG_PUBLIC_KEY, TAG_USER_ID, TAG_PUBLIC_SUBKEY = 2, 6, 13, 14


@dataclass
class Material:
    """Everything the tests need, made once. Keys are armored exports unless named `*_bin`."""

    gpg: Gpg
    keys: dict[str, bytes] = field(default_factory=dict)
    fprs: dict[str, str] = field(default_factory=dict)
    sigs: dict[str, bytes] = field(default_factory=dict)

    def key(self, name: str) -> bytes:
        return self.keys[name]


def _make(gpg: Gpg) -> Material:
    m = Material(gpg)
    now = int(datetime.now(UTC).timestamp())

    # Ed25519 primary (sign+certify) with an Ed25519 signing subkey and a Curve25519 encryption subkey.
    ed = gpg.gen_key("Alice Example <alice@example.org>", "ed25519", "sign,cert", "2y")
    ed_sign = gpg.add_key(ed, "ed25519", "sign", "2y")
    gpg.add_key(ed, "cv25519", "encr", "2y")
    m.fprs.update(ed=ed, ed_sign=ed_sign)
    m.keys["ed"] = gpg.export(ed)
    m.keys["ed_bin"] = gpg.export(ed, armor=False)
    m.sigs["ed_primary"] = gpg.detach_sign(ed, DATA)
    m.sigs["ed_primary_bin"] = gpg.detach_sign(ed, DATA, armor=False)
    m.sigs["ed_subkey"] = gpg.detach_sign(ed_sign, DATA)
    m.sigs["ed_sha1"] = gpg.detach_sign(ed, DATA, extra=("--digest-algo", "SHA1"))
    # Dated a day before the key existed: gpg needs --ignore-time-conflict to do this at all.
    m.sigs["ed_predates"] = gpg.detach_sign(ed, DATA, at=now - 2 * DAY, extra=("--ignore-time-conflict",))

    # RSA 3072 primary (sign+certify) with an RSA encryption-only subkey (an algorithm that *could* sign).
    rsa = gpg.gen_key("Bob Provider <abuse@isp.example>", "rsa3072", "sign,cert", "2y")
    m.fprs["rsa"] = rsa
    m.fprs["rsa_encr"] = gpg.add_key(rsa, "rsa2048", "encr", "2y")
    m.keys["rsa"] = gpg.export(rsa)
    m.keys["rsa_bin"] = gpg.export(rsa, armor=False)
    m.keys["rsa_secret"] = gpg.export_secret(rsa)
    m.sigs["rsa_primary"] = gpg.detach_sign(rsa, DATA)
    m.sigs["rsa_primary_bin"] = gpg.detach_sign(rsa, DATA, armor=False)
    m.sigs["rsa_sha1"] = gpg.detach_sign(rsa, DATA, extra=("--digest-algo", "SHA1"))
    # An RSA primary with an Ed25519 signing subkey.
    m.fprs["rsa_sign"] = gpg.add_key(rsa, "ed25519", "sign", "1y")
    m.keys["rsa_with_subkey"] = gpg.export(rsa)
    m.sigs["rsa_subkey"] = gpg.detach_sign(m.fprs["rsa_sign"], DATA)

    # Revoked key: a good signature first, then the key's own revocation certificate.
    revoked = gpg.gen_key("Revoked <revoked@example.org>", "ed25519", "sign,cert", "2y")
    m.fprs["revoked"] = revoked
    m.sigs["revoked"] = gpg.detach_sign(revoked, DATA)
    m.keys["revoked_before"] = gpg.export(revoked)
    gpg.revoke_key(revoked)
    m.keys["revoked"] = gpg.export(revoked)

    # Revoked signing subkey.
    subrev = gpg.gen_key("Subkey Revoked <subrev@example.org>", "ed25519", "sign,cert", "2y")
    m.fprs["subrev"] = subrev
    m.fprs["subrev_sign"] = gpg.add_key(subrev, "ed25519", "sign", "2y")
    m.sigs["subrev"] = gpg.detach_sign(m.fprs["subrev_sign"], DATA)
    gpg.revoke_first_subkey(subrev)
    m.keys["subrev"] = gpg.export(subrev)

    # Expired key, made and used in 2020; then the same key also revoked.
    expired = gpg.gen_key("Expired <expired@example.org>", "ed25519", "sign,cert", "1y", at=T2020)
    m.fprs["expired"] = expired
    m.sigs["expired"] = gpg.detach_sign(expired, DATA, at=T2020 + 30 * DAY)
    m.keys["expired"] = gpg.export(expired)
    gpg.revoke_key(expired)
    m.keys["expired_revoked"] = gpg.export(expired)

    # Expired signing subkey on a primary without expiry.
    old = gpg.gen_key("Old Primary <old@example.org>", "ed25519", "sign,cert", "never", at=T2020)
    m.fprs["old"] = old
    m.fprs["old_sign"] = gpg.add_key(old, "ed25519", "sign", "1y", at=T2020 + DAY)
    m.sigs["old_subkey"] = gpg.detach_sign(m.fprs["old_sign"], DATA, at=T2020 + 30 * DAY)
    m.keys["old"] = gpg.export(old)

    # Renewed key (TRAPS.md 4): made in 2020 to expire after a year, extended to "never" before that.
    renewed = gpg.gen_key("Renewed <renewed@example.org>", "ed25519", "sign,cert", "1y", at=T2020)
    gpg.run("--quick-set-expire", renewed, "0", at=T2020 + 100 * DAY)
    m.fprs["renewed"] = renewed
    m.keys["renewed"] = gpg.export(renewed)
    m.sigs["renewed"] = gpg.detach_sign(renewed, DATA)

    # A key whose second user ID was revoked.
    gpg.run("--quick-add-uid", ed, "Alice Old <alice.old@example.org>")
    gpg.run("--quick-revoke-uid", ed, "Alice Old <alice.old@example.org>")
    m.keys["ed_uid_revoked"] = gpg.export(ed)

    # Mallory: a second Ed25519 key with a signing subkey; source of spliced packets.
    mallory = gpg.gen_key("Mallory <mallory@example.net>", "ed25519", "sign,cert", "2y")
    m.fprs["mallory"] = mallory
    m.fprs["mallory_sign"] = gpg.add_key(mallory, "ed25519", "sign", "2y")
    m.keys["mallory"] = gpg.export(mallory)
    m.keys["mallory_bin"] = gpg.export(mallory, armor=False)
    m.keys["mallory_secret"] = gpg.export_secret(mallory)
    m.sigs["mallory_subkey"] = gpg.detach_sign(m.fprs["mallory_sign"], DATA)

    # Certify-only primary that signs through a subkey (gpg's default layout for new keys).
    certonly = gpg.gen_key("Cert Only <certonly@example.org>", "ed25519", "cert", "2y")
    m.fprs["certonly"] = certonly
    m.fprs["certonly_sign"] = gpg.add_key(certonly, "ed25519", "sign", "2y")
    m.keys["certonly"] = gpg.export(certonly)
    m.keys["certonly_secret"] = gpg.export_secret(certonly)

    # Clearsigned messages, including the whitespace and line-ending cases PGPy gets wrong.
    text = b"Dear colleague,  \n\tplease preserve the data.\t\n- a dashed line\n-----BEGIN tricky\n\nEnd"
    m.sigs["clear_ed"] = gpg.clearsign(ed, text)
    m.sigs["clear_rsa"] = gpg.clearsign(rsa, text.replace(b"\n", b"\r\n"))
    m.sigs["clear_subkey"] = gpg.clearsign(ed_sign, b"signed by a subkey\n")
    m.sigs["clear_sha1"] = gpg.clearsign(rsa, b"old hash\n", extra=("--digest-algo", "SHA1"))
    return m


@pytest.fixture(scope="session")
def gpg_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gpg]:
    require_gpg()
    # Short path: gpg-agent's socket path must fit in sun_path.
    gpg = Gpg(tmp_path_factory.mktemp("gnupg"))
    yield gpg
    gpg.close()


@pytest.fixture(scope="session")
def material(gpg_home: Gpg) -> Material:
    return _make(gpg_home)


__all__ = ["DATA", "DAY", "T2020", "Gpg", "Material", "split_packets"]
