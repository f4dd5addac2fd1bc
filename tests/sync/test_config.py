"""The sync configuration file: the issue's example loads, and every mistake names file, source and key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from directory.errors import ConfigurationError
from directory.sync.config import load_source, load_sources
from tests.sync.conftest import toml_source

EXAMPLE = """
[[source]]
name = "corp"
url = "ldaps://ldap.corp.example:636"
start_tls = false
ca_file = "{ca}"
bind_dn = "cn=directory-sync,ou=services,dc=corp,dc=example"
password_env = "CORP_LDAP_PASSWORD"
base_dn = "ou=people,dc=corp,dc=example"
user_filter = "(objectClass=inetOrgPerson)"
profile = "openldap"
disabled_filter = "(pwdAccountLockedTime=*)"
organisation = "urn:cpd:node-a.example:1234"
schedule_minutes = 60
max_deactivation_ratio = 0.2
allow_insecure = false

[source.attributes]
display_name = "displayName"
email = "mail"
phone = "telephoneNumber"
title = "title"
languages = "preferredLanguage"

[[source.groups]]
dn = "cn=cyber-liaison,ou=groups,dc=corp,dc=example"
request_types = ["subscriber_info", "traffic_data", "preservation"]

[[source.groups]]
dn = "cn=emergency-desk,ou=groups,dc=corp,dc=example"
request_types = ["emergency_disclosure"]
emergency = true
"""


@pytest.fixture
def ca_file(tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    path.write_text("not parsed here")
    return path


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sync.toml"
    path.write_text(text)
    return path


def source(ca: Path, /, **changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "name": "corp", "url": "ldaps://ldap.corp.example", "ca_file": str(ca), "bind_dn": "cn=sync,dc=corp",
        "password_env": "PW", "base_dn": "ou=people,dc=corp,dc=example",
        "organisation": "urn:x", "groups": [{"dn": "cn=g,ou=groups,dc=corp,dc=example",
                                             "request_types": ["preservation"]}]}
    values.update(changes)
    return {k: v for k, v in values.items() if v is not None}


def test_the_issue_example_loads(tmp_path: Path, ca_file: Path) -> None:
    config = load_source(write(tmp_path, EXAMPLE.format(ca=ca_file)), "corp")

    assert config.profile == "openldap" and config.membership == "member" and config.uses_tls
    assert [g.request_types for g in config.groups] == [("subscriber_info", "traffic_data", "preservation"),
                                                       ("emergency_disclosure",)]
    assert config.groups[1].emergency is True
    assert config.attributes["email"] == ("mail",)
    # Nested groups are searched under the deepest DN holding the users and all groups.
    assert config.group_base_dn == "dc=corp,dc=example"
    assert config.source_tag == "ldap:corp"


def test_active_directory_defaults(tmp_path: Path, ca_file: Path) -> None:
    config = load_source(write(tmp_path, toml_source(source(ca_file, profile="active_directory"))), "corp")

    assert (config.membership, config.nested_groups) == ("member_of", "in_chain")
    assert config.disabled_filter is None  # the userAccountControl bit is checked instead
    assert "objectCategory=person" in config.user_filter


@pytest.mark.parametrize(("changes", "key", "problem"), [
    ({"urll": "x"}, "urll", "unknown key"),
    ({"base_dn": None}, "base_dn", "is required"),
    ({"url": "http://ldap.corp.example"}, "url", "ldap://host"),
    ({"url": "ldap://ldap.corp.example"}, "url", "unencrypted"),
    ({"url": "ldaps://h", "start_tls": True}, "start_tls", "already TLS"),
    ({"password_file": "/x"}, "password_file", "not both"),
    ({"password_env": None}, "bind_dn", "needs password_env or password_file"),
    ({"bind_dn": None}, "bind_dn", "required when a password"),
    ({"max_deactivation_ratio": 1.5}, "max_deactivation_ratio", "between 0 and 1"),
    ({"schedule_minutes": True}, "schedule_minutes", "must be an integer"),
    ({"profile": "novell"}, "profile", "one of openldap, active_directory"),
    ({"user_filter": "(objectClass=person"}, "user_filter", "not a valid LDAP filter"),
    ({"base_dn": "not a dn"}, "base_dn", "not a valid DN"),
    ({"nested_groups": "in_chain", "membership": "member_of"}, "nested_groups", "Active Directory rule"),
    ({"nested_groups": "walk"}, "nested_groups", 'membership = "member_of"'),
    ({"groups": []}, "groups", "at least one group"),
    ({"groups": [{"dn": "cn=g,dc=x", "request_types": ["wiretap"]}]}, "groups[0].request_types",
     "unknown request type 'wiretap'"),
    ({"groups": [{"dn": "cn=g,dc=x"}]}, "groups[0].request_types", "give request types"),
    ({"attributes": {"email": "mail;;bad"}}, "attributes.email", "attribute name"),
    ({"attributes": {"nickname": "cn"}}, "attributes.nickname", "unknown key"),
    ({"name": "Corp Directory"}, "name", "lower-case"),
    ({"ca_file": "/nonexistent/ca.pem"}, "ca_file", "does not exist"),
])
def test_errors_name_the_file_the_source_and_the_key(tmp_path: Path, ca_file: Path, changes: dict[str, Any],
                                                     key: str, problem: str) -> None:
    path = write(tmp_path, toml_source(source(ca_file, **changes)))

    with pytest.raises(ConfigurationError) as error:
        load_sources(path)

    message = error.value.message
    assert message.startswith(f"{path}: source ")
    assert f"key '{key}'" in message
    assert problem in message


def test_file_level_errors(tmp_path: Path, ca_file: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read"):
        load_sources(tmp_path / "missing.toml")
    with pytest.raises(ConfigurationError, match="not valid TOML"):
        load_sources(write(tmp_path, "[[source]\n"))
    text = toml_source(source(ca_file)) + toml_source(source(ca_file))
    with pytest.raises(ConfigurationError, match="'corp': key 'name': defined twice"):
        load_sources(write(tmp_path, text))
    with pytest.raises(ConfigurationError, match=r"no source named 'other' \(configured: corp\)"):
        load_source(write(tmp_path, toml_source(source(ca_file))), "other")


def test_the_password_is_read_when_needed_and_never_kept(tmp_path: Path, ca_file: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    secret = tmp_path / "secret"
    secret.write_text("from-a-file\n")
    from_env = load_source(write(tmp_path, toml_source(source(ca_file))), "corp")
    from_file = load_source(write(tmp_path, toml_source(source(ca_file, password_env=None,
                                                               password_file=str(secret)))), "corp")

    with pytest.raises(ConfigurationError, match="environment variable PW is not set"):
        from_env.read_password()
    monkeypatch.setenv("PW", "from-the-environment")
    assert from_env.read_password() == "from-the-environment"
    assert from_file.read_password() == "from-a-file"
    assert "from-the-environment" not in repr(from_env) and "from-a-file" not in repr(from_file)
