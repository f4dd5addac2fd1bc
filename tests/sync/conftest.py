"""Fixtures for the LDAP sync tests: a real slapd with TLS from a generated CA (one per session), the
1,200-user corporate tree, small scratch trees for tests that change the directory, sync configuration
files, and a byte-level picture of what the database stores for an entry.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from directory.models.entries import Contact, EntryVersion, Organisation
from tests.sync.directory_data import LIAISON_TYPES, TAKEDOWN_TYPES, Tree, base_entries, corporate_tree
from tests.sync.slapd import LDAPADD, SLAPD, SYNC_PW, LocalCA, Slapd, ldif, make_ca

PASSWORD_ENV = "DIRECTORY_TEST_LDAP_PASSWORD"
_scratch_names = itertools.count(1)


def require_slapd() -> None:
    """Skip without slapd/ldap-utils, or fail when the run must be complete (DIRECTORY_REQUIRE_ALL=1)."""
    if Path(SLAPD).exists() and shutil.which(LDAPADD) and shutil.which("ldapsearch"):
        return
    message = "slapd or ldap-utils is missing: install slapd and ldap-utils"
    if os.environ.get("DIRECTORY_REQUIRE_ALL") == "1":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def test_ca(tmp_path_factory: pytest.TempPathFactory) -> LocalCA:
    return make_ca(tmp_path_factory.mktemp("ca"))


@pytest.fixture(scope="session")
def other_ca(tmp_path_factory: pytest.TempPathFactory) -> LocalCA:
    """A second CA: the server's certificate does not chain to it."""
    return make_ca(tmp_path_factory.mktemp("other-ca"), "Some Other CA")


def start_slapd(folder: Path, ca: LocalCA) -> Slapd:
    require_slapd()
    server = Slapd(folder, ca)
    server.setup()
    server.start()
    server.add(ldif(base_entries()))
    return server


@pytest.fixture(scope="session")
def slapd(tmp_path_factory: pytest.TempPathFactory, test_ca: LocalCA) -> Iterator[Slapd]:
    server = start_slapd(tmp_path_factory.mktemp("slapd"), test_ca)
    yield server
    server.stop()


CORP_GROUPS = {"cyber-liaison": range(0, 40), "emergency-desk": range(30, 50), "takedown": range(50, 60),
               "other-staff": range(100, 300)}


@pytest.fixture(scope="session")
def corp(slapd: Slapd) -> Tree:
    """1,200 users in region/team OUs plus five hostile ones; four groups, three of them configured."""
    tree = corporate_tree("corp", 1200, hostile=True, groups=CORP_GROUPS)
    slapd.add(ldif(tree.entries))
    return tree


@pytest.fixture
def scratch(slapd: Slapd) -> Callable[..., Tree]:
    """A fresh small tree per call, for tests that rename, remove or lock users."""

    def make(users: int = 10, groups: Mapping[str, range] | None = None) -> Tree:
        tree = corporate_tree(f"scratch-{next(_scratch_names)}", users, regions=2, teams=1,
                              groups=groups or {"cyber-liaison": range(users)})
        slapd.add(ldif(tree.entries))
        return tree

    return make


@pytest.fixture
def ldap_password(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(PASSWORD_ENV, SYNC_PW)
    return PASSWORD_ENV


def group_tables(tree: Tree) -> list[dict[str, Any]]:
    """The usual group configuration of a corporate tree."""
    tables: list[dict[str, Any]] = [
        {"dn": tree.group("cyber-liaison"), "request_types": LIAISON_TYPES}]
    if tree.group("emergency-desk") in tree.members:
        tables.append({"dn": tree.group("emergency-desk"), "request_types": ["emergency_disclosure"],
                       "emergency": True})
    if tree.group("takedown") in tree.members:
        tables.append({"dn": tree.group("takedown"), "request_types": TAKEDOWN_TYPES})
    return tables


@pytest.fixture
def write_config(tmp_path: Path, slapd: Slapd, test_ca: LocalCA, ldap_password: str) -> Callable[..., Path]:
    """`write_config(tree, organisation, **overrides)`: a TOML file with one source named "corp"."""

    def write(tree: Tree, organisation: str, **overrides: Any) -> Path:
        source: dict[str, Any] = {
            "name": "corp", "url": slapd.url, "start_tls": True, "ca_file": str(test_ca.ca_file),
            "bind_dn": "cn=sync,ou=services,dc=corp,dc=example", "password_env": ldap_password,
            "base_dn": tree.people, "organisation": organisation, "groups": group_tables(tree),
        }
        source.update(overrides)
        source = {k: v for k, v in source.items() if v is not None}
        path = tmp_path / f"sync-{next(_scratch_names)}.toml"
        path.write_text(toml_source(source))
        return path

    return write


def toml_source(source: Mapping[str, Any]) -> str:
    """One [[source]] in TOML (JSON strings are valid TOML basic strings)."""
    lines = ["[[source]]"]
    tables = {k: v for k, v in source.items() if k in {"attributes", "groups"} and v}
    lines += [f"{k} = {_toml(v)}" for k, v in source.items() if k not in tables]
    if "attributes" in tables:
        lines.append("[source.attributes]")
        lines += [f"{k} = {_toml(v)}" for k, v in tables["attributes"].items()]
    for group in tables.get("groups", []):
        lines.append("[[source.groups]]")
        lines += [f"{k} = {_toml(v)}" for k, v in group.items()]
    return "\n".join(lines) + "\n"


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return json.dumps(value)


def stored(entry_id: str) -> dict[str, Any]:
    """Everything the database holds for an entry: signed versions byte for byte, and its projections."""
    versions = [(v.version, bytes(v.payload), v.digest, v.signatures, v.actor)
                for v in EntryVersion.select().where(EntryVersion.entry_id == entry_id)
                .order_by(EntryVersion.version)]
    org = Organisation.get_by_id(entry_id)
    contacts = sorted((c.contact_id, c.email, c.display_name, c.active, c.emergency, c.source)
                      for c in Contact.select().where(Contact.organisation == entry_id))
    return {"versions": versions, "organisation": (org.version, org.digest, org.public_view, org.reader_view),
            "contacts": contacts}
