"""LDAP filter injection: every value the sync puts into a filter is escaped (RFC 4515)."""

from __future__ import annotations

import pytest
from ldap3.utils.conv import escape_filter_chars

from directory.sync import profiles

HOSTILE = ["cn=x)(uid=*", "*", "cn=a\\29(objectClass=*)", "cn=x))(|(cn=*", "cn=\x00nul",
           "cn=admin)(|(memberOf=*)", "cn=(x),dc=example,dc=org"]


def _balanced(text: str) -> bool:
    depth = 0
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            return False
    return depth == 0


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize("build", [profiles.member_of_clause, profiles.in_chain_clause])
def test_group_dns_are_escaped_in_filters(build, value):
    clause = build(value)
    inner = clause[1:-1].split("=", 1)[1] if "=" in clause else ""
    assert inner.endswith(escape_filter_chars(value))
    assert "*" not in inner and "(" not in inner and ")" not in inner and "\x00" not in inner
    assert _balanced(clause)
    combined = profiles.both("(objectClass=person)", profiles.any_of([clause, build("cn=ok")]))
    assert _balanced(combined) and combined.count("(") == 5
