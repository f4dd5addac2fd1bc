"""A throwaway OpenLDAP server for tests and the benchmark (TRAPS.md 15; python-ldap's slapdtest is the
model): cn=config built offline with `slapadd -n0`, checked with `slapd -Ttest -u`, run as a child on
free loopback ports with TLS from a test CA, data loaded over LDAP so the memberof/refint overlays see it.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

SLAPD = "/usr/sbin/slapd"
SLAPADD = "/usr/sbin/slapadd"
LDAPADD = "/usr/bin/ldapadd"
LDAPMODIFY = "/usr/bin/ldapmodify"
SCHEMAS = ("core", "cosine", "inetorgperson", "nis")
SUFFIX = "dc=corp,dc=example"
ROOT_DN = f"cn=admin,{SUFFIX}"
ROOT_PW = "root-secret"
SYNC_DN = f"cn=sync,ou=services,{SUFFIX}"
SYNC_PW = "sync-secret"
LIMITED_DN = f"cn=limited,ou=services,{SUFFIX}"
LIMITED_PW = "limited-secret"


@dataclass(frozen=True)
class LocalCA:
    """A CA and a server certificate for `localhost` (a DNS SAN: TRAPS.md 14)."""

    ca_file: Path
    cert_file: Path
    key_file: Path


_CA_USAGE = x509.KeyUsage(
    digital_signature=False, content_commitment=False, key_encipherment=False, data_encipherment=False,
    key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False, decipher_only=False)


def make_ca(folder: Path, name: str = "Test CA") -> LocalCA:
    folder.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(_CA_USAGE, critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in _loopback_names()]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    result = LocalCA(folder / "ca.pem", folder / "server.pem", folder / "server.key")
    result.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    result.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    result.key_file.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return result


def _loopback_names() -> list[str]:
    """`localhost`, plus this machine's name: libldap (`ldapsearch -ZZ`) checks that one for localhost."""
    names = ["localhost", socket.gethostname(), socket.getfqdn()]
    return list(dict.fromkeys(n for n in names if n))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def ldif(entries: Iterable[tuple[str, Mapping[str, str | Sequence[str]]]]) -> str:
    """LDIF text; values that are not LDIF safe-strings (controls, non-ASCII, leading space) go base64."""
    blocks = []
    for dn, attributes in entries:
        lines = [_line("dn", dn)]
        for name, values in attributes.items():
            for value in [values] if isinstance(values, str) else values:
                lines.append(_line(name, value))
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def _line(name: str, value: str) -> str:
    safe = value.isascii() and value.isprintable() and not value.startswith((" ", ":", "<")) \
        and not value.endswith(" ")
    if safe:
        return f"{name}: {value}"
    return f"{name}:: {base64.b64encode(value.encode()).decode()}"


class Slapd:
    """One slapd child process listening on ldap:// and ldaps:// loopback ports."""

    def __init__(self, folder: Path, ca: LocalCA, *, size_limit: int = 500, suffix: str = SUFFIX) -> None:
        self.folder = folder
        self.suffix = suffix
        self.root_dn = f"cn=admin,{suffix}"
        self.ca = ca
        self.size_limit = size_limit
        self.config_dir = folder / "slapd.d"
        self.data_dir = folder / "data"
        self.port = free_port()
        self.tls_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"ldap://localhost:{self.port}"

    @property
    def ldaps_url(self) -> str:
        return f"ldaps://localhost:{self.tls_port}"

    def setup(self) -> None:
        self.config_dir.mkdir(parents=True)
        self.data_dir.mkdir(parents=True)
        config = self.folder / "config.ldif"
        config.write_text(self._config_ldif())
        _run([SLAPADD, "-n0", "-F", str(self.config_dir), "-l", str(config)])
        _run([SLAPD, "-Ttest", "-F", str(self.config_dir), "-u"])

    def start(self) -> None:
        listen = f"ldap://127.0.0.1:{self.port} ldaps://127.0.0.1:{self.tls_port}"
        self.process = subprocess.Popen([SLAPD, "-F", str(self.config_dir), "-h", listen, "-d", "0"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                stderr = self.process.stderr.read().decode() if self.process.stderr else ""
                raise RuntimeError(f"slapd exited with {self.process.returncode}: {stderr[-2000:]}")
            probe = subprocess.run(["ldapsearch", "-x", "-H", self.url, "-s", "base", "-b", "",
                                    "(objectClass=*)", "1.1"], capture_output=True, check=False)
            if probe.returncode == 0:
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("slapd did not answer within 15 seconds")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process is not None and self.process.stderr:
            self.process.stderr.close()
        self.process = None

    def kill(self) -> None:
        """Die like a crashed server: no goodbye to connected clients."""
        if self.process is not None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def add(self, text: str) -> None:
        _run([LDAPADD, "-x", "-H", self.url, "-D", self.root_dn, "-w", ROOT_PW], stdin=text)

    def modify(self, text: str, *controls: str) -> None:
        extra = [arg for c in controls for arg in ("-e", c)]
        _run([LDAPMODIFY, "-x", "-H", self.url, "-D", self.root_dn, "-w", ROOT_PW, *extra], stdin=text)

    def _config_ldif(self) -> str:
        schemas = "\n".join(f"include: file:///etc/ldap/schema/{s}.ldif" for s in SCHEMAS)
        return f"""dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: {self.folder}/slapd.pid
olcTLSCACertificateFile: {self.ca.ca_file}
olcTLSCertificateFile: {self.ca.cert_file}
olcTLSCertificateKeyFile: {self.ca.key_file}

dn: cn=module{{0}},cn=config
objectClass: olcModuleList
cn: module{{0}}
olcModulePath: /usr/lib/ldap
olcModuleLoad: back_mdb
olcModuleLoad: memberof
olcModuleLoad: refint
olcModuleLoad: ppolicy

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

{schemas}

dn: olcDatabase={{-1}}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {{-1}}frontend
olcSizeLimit: {self.size_limit}

dn: olcDatabase={{0}}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {{0}}config
olcAccess: {{0}}to * by * none

dn: olcDatabase={{1}}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {{1}}mdb
olcSuffix: {self.suffix}
olcRootDN: {self.root_dn}
olcRootPW: {ROOT_PW}
olcDbDirectory: {self.data_dir}
olcDbMaxSize: 1073741824
olcDbNoSync: TRUE
olcDbIndex: objectClass eq
olcDbIndex: entryUUID eq
olcDbIndex: member eq
olcDbIndex: memberOf eq
olcAccess: {{0}}to attrs=userPassword by anonymous auth by * none
olcAccess: {{1}}to * by users read by * none
olcLimits: {{0}}dn.exact="{SYNC_DN}" size=unlimited time=unlimited
olcLimits: {{1}}dn.exact="{LIMITED_DN}" size=500 time=unlimited

dn: olcOverlay={{0}}memberof,olcDatabase={{1}}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcMemberOf
olcOverlay: {{0}}memberof
olcMemberOfRefInt: TRUE
olcMemberOfGroupOC: groupOfNames
olcMemberOfMemberAD: member
olcMemberOfMemberOfAD: memberOf

dn: olcOverlay={{1}}refint,olcDatabase={{1}}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcRefintConfig
olcOverlay: {{1}}refint
olcRefintAttribute: member
"""


def _run(argv: list[str], stdin: str | None = None) -> None:
    done = subprocess.run(argv, input=stdin.encode() if stdin is not None else None, capture_output=True,
                          check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:2])} failed ({done.returncode}): "
                           f"{done.stderr.decode(errors='replace')[-2000:]}")
