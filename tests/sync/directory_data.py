"""Generated directory content: a corporate tree of users in nested OUs, groups, sync accounts, and
users with hostile values. Used by the slapd tests and by `bench/ldap_sync.py`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from tests.sync.slapd import LIMITED_DN, LIMITED_PW, SUFFIX, SYNC_DN, SYNC_PW

Entry = tuple[str, Mapping[str, str | Sequence[str]]]

LIAISON_TYPES = ["subscriber_info", "traffic_data", "preservation"]
TAKEDOWN_TYPES = ["takedown"]


@dataclass
class Tree:
    """What was loaded, so tests can state expectations without re-reading the server."""

    base: str
    people: str
    groups: str
    users: dict[str, str] = field(default_factory=dict)  # uid -> DN
    members: dict[str, list[str]] = field(default_factory=dict)  # group DN -> uids
    entries: list[Entry] = field(default_factory=list)

    def group(self, cn: str) -> str:
        return f"cn={cn},{self.groups}"

    def designated(self, *cns: str) -> set[str]:
        return {uid for cn in cns for uid in self.members[self.group(cn)]}


def base_entries() -> list[Entry]:
    return [
        (SUFFIX, {"objectClass": ["dcObject", "organization"], "dc": "corp", "o": "Corp"}),
        (f"ou=services,{SUFFIX}", {"objectClass": "organizationalUnit", "ou": "services"}),
        (SYNC_DN, {"objectClass": ["organizationalRole", "simpleSecurityObject"], "cn": "sync",
                   "userPassword": SYNC_PW}),
        (LIMITED_DN, {"objectClass": ["organizationalRole", "simpleSecurityObject"], "cn": "limited",
                      "userPassword": LIMITED_PW}),
    ]


def person(uid: str, number: int, **extra: str | Sequence[str]) -> dict[str, str | Sequence[str]]:
    attributes: dict[str, str | Sequence[str]] = {
        "objectClass": "inetOrgPerson", "uid": uid, "cn": f"User {number}", "sn": f"Surname{number}",
        "givenName": f"Given{number}", "displayName": f"Given{number} Surname{number}",
        "mail": f"{uid}@corp.example", "telephoneNumber": f"+44 20 7946 {number % 10000:04d}",
        "title": "Analyst", "preferredLanguage": "en-GB",
    }
    attributes.update(extra)
    return attributes


def corporate_tree(name: str, users: int, *, regions: int = 3, teams: int = 4, hostile: bool = False,
                   groups: Mapping[str, range] | None = None) -> Tree:
    """`ou=<name>` holding `users` people spread over region/team OUs and groups of them by index."""
    base = f"ou={name},{SUFFIX}"
    tree = Tree(base=base, people=f"ou=people,{base}", groups=f"ou=groups,{base}")
    tree.entries += [(base, {"objectClass": "organizationalUnit", "ou": name}),
                     (tree.people, {"objectClass": "organizationalUnit", "ou": "people"}),
                     (tree.groups, {"objectClass": "organizationalUnit", "ou": "groups"})]
    for region in range(regions):
        region_dn = f"ou=region-{region},{tree.people}"
        tree.entries.append((region_dn, {"objectClass": "organizationalUnit", "ou": f"region-{region}"}))
        for team in range(teams):
            tree.entries.append((f"ou=team-{team},{region_dn}",
                                 {"objectClass": "organizationalUnit", "ou": f"team-{team}"}))
    per_team = -(-users // (regions * teams))
    for number in range(users):
        uid = f"u{number:05d}"
        slot = number // per_team
        dn = f"uid={uid},ou=team-{slot % teams},ou=region-{slot // teams},{tree.people}"
        tree.users[uid] = dn
        tree.entries.append((dn, person(uid, number)))
    if hostile:
        _add_hostile(tree)
    for cn, indexes in (groups or {}).items():
        uids = [f"u{i:05d}" for i in indexes]
        if cn == "cyber-liaison" and hostile:
            uids += [uid for uid in tree.users if uid.startswith("h-")]
        add_group(tree, cn, uids)
    return tree


def add_group(tree: Tree, cn: str, uids: list[str], nested: Sequence[str] = ()) -> None:
    dn = tree.group(cn)
    tree.members[dn] = list(uids)
    members = [tree.users[u] for u in uids] + list(nested)
    tree.entries.append((dn, {"objectClass": "groupOfNames", "cn": cn, "member": members}))


HOSTILE: dict[str, dict[str, str | Sequence[str]]] = {
    # Filter metacharacters in every searchable attribute: must never change what a search matches.
    "h-filter": {"cn": "*)(uid=*", "displayName": "*)(uid=*))(|(uid=*", "sn": "*"},
    # Terminal escapes, a bell, a right-to-left override and a NUL-free newline inside a name.
    "h-control": {"displayName": "Evil\x1b[31m\u202eeman\x07\nName", "title": "Head\tof\x0bDesk"},
    # A 10,000-character name, a script tag as title, an invalid phone beside a valid one, and a
    # syntactically broken address beside a usable one.
    "h-huge": {"displayName": "A" * 10_000, "title": "<script>alert(1)</script>",
               "telephoneNumber": ["not-a-number", "+44 20 7946 0999"],
               "mail": ["<script>@corp.example", "h-huge@corp.example"]},
    # No address at all: cannot be a contact, skipped with a reason.
    "h-nomail": {"mail": []},
    # A private address and an official one: the official one is listed.
    "h-private": {"mail": ["someone@freemail.example", "h-private@corp.example"]},
}


def _add_hostile(tree: Tree) -> None:
    for offset, (uid, extra) in enumerate(HOSTILE.items()):
        dn = f"uid={uid},ou=team-0,ou=region-0,{tree.people}"
        attributes = person(uid, 9000 + offset, **extra)
        if not attributes.get("mail"):
            del attributes["mail"]
        tree.users[uid] = dn
        tree.entries.append((dn, attributes))
