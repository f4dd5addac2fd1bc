"""Reading designated users out of LDAP / Active Directory (ldap3), behind the `DirectorySource` protocol.

A source answers one question, "who is in the configured groups right now?", as a `Snapshot`, or
raises. It never returns a partial answer: every page of every search must end with result code
success, or the whole read fails with `IncompleteResult` (TRAPS.md 10-11), because the planner reads a
missing user as "this person left". The connection is read-only, verifies certificates, binds only after
StartTLS and follows no referrals (TRAPS.md 9).
"""

from __future__ import annotations

import contextlib
import re
import ssl
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlparse

from ldap3 import (
    ANONYMOUS,
    BASE,
    NONE,
    SIMPLE,
    SUBTREE,
    SYNC,
    Connection,
    Server,
    Tls,
)
from ldap3.core.exceptions import LDAPAttributeError, LDAPDefinitionError, LDAPException

from directory.errors import DirectoryError
from directory.sync import profiles
from directory.sync.config import SourceConfig
from directory.sync.profiles import Profile, normalise_dn

PAGED_RESULTS = "1.2.840.113556.1.4.319"
# Result codes that mean "this server cannot evaluate the in-chain rule" rather than "something broke".
_UNSUPPORTED_MATCHING = {18, 53}  # inappropriateMatching, unwillingToPerform
_UNIQUE_MEMBER_UID = re.compile(r"#'[01]*'B$")
_MAX_NESTING = 32

Progress = Callable[[int], None]
Connector = Callable[[SourceConfig], Connection]


class DirectoryUnavailable(DirectoryError):
    """The LDAP server could not be read: bind, TLS, network or server error. Nothing was changed."""

    status = 502
    code = "ldap_error"


class IncompleteResult(DirectoryUnavailable):
    """A search ended without success (size or time limit, referral, error): the answer is partial."""

    code = "ldap_incomplete"

    def __init__(self, message: str, result_code: int | None = None) -> None:
        super().__init__(message)
        self.result_code = result_code


@dataclass(frozen=True)
class DirectoryUser:
    """One member of at least one configured group, as the directory describes it."""

    stable_id: str
    dn: str
    # Lower-cased attribute name -> decoded values, in the order the server sent them.
    attributes: Mapping[str, tuple[str, ...]]
    # DNs of the configured groups (spelled as in the configuration) the user belongs to, nested or not.
    groups: frozenset[str]
    disabled: bool = False

    def values(self, name: str) -> tuple[str, ...]:
        return self.attributes.get(name.lower(), ())


@dataclass(frozen=True)
class Snapshot:
    users: tuple[DirectoryUser, ...]
    # Entries read in total, designated or not (the progress indicator and the run record count them).
    entries_read: int = 0
    # (DN, reason) of entries that could not be used at all, e.g. without a stable id.
    rejected: tuple[tuple[str, str], ...] = ()
    notes: tuple[str, ...] = field(default=())


class DirectorySource(Protocol):
    """Anything that can produce a complete snapshot of the designated users of one source."""

    def fetch(self, progress: Progress | None = None) -> Snapshot:
        """Every designated user, or raise DirectoryUnavailable / IncompleteResult: never a partial list."""
        ...


class VerifiedTls(Tls):  # type: ignore[misc]  # ldap3 is untyped
    """ldap3's Tls, with the standard library verifying the chain *and* the host name in the handshake.

    ldap3 2.9.1 switches the context's host name check off and calls `ssl.match_hostname` itself: that
    is deprecated on 3.11 and gone on 3.12, where ldap3's fallback cannot match IP SANs (TRAPS.md 14).
    """

    def wrap_socket(self, connection: Connection, do_handshake: bool = False) -> None:
        # create_default_context: CERT_REQUIRED, check_hostname=True, TLS 1.2 or later.
        context = ssl.create_default_context(cafile=self.ca_certs_file)
        connection.socket = context.wrap_socket(connection.socket, server_side=False,
                                                do_handshake_on_connect=do_handshake,
                                                server_hostname=connection.server.host)


def connect(config: SourceConfig) -> Connection:
    """A bound, read-only ldap3 connection with verified TLS (TRAPS.md 9)."""
    url = urlparse(config.url)
    ldaps = url.scheme == "ldaps"
    tls = VerifiedTls(validate=ssl.CERT_REQUIRED, ca_certs_file=config.ca_file) if config.uses_tls else None
    server = Server(url.hostname or "", port=url.port or (636 if ldaps else 389), use_ssl=ldaps, tls=tls,
                    get_info=NONE, connect_timeout=config.timeout_seconds)
    password = config.read_password()
    conn = Connection(
        server, user=config.bind_dn, password=password,
        authentication=SIMPLE if config.bind_dn else ANONYMOUS,
        # SYNC keeps the last answer on the connection, so one connection must never serve two threads
        # (TRAPS.md 13). It never does: every fetch opens its own and closes it before returning, so
        # concurrent syncs (scheduler, CLI) each own one. SAFE_SYNC would deep-copy every page for a
        # protection this design does not need, and costs more than the whole plan of a large sync.
        client_strategy=SYNC,
        read_only=True, auto_referrals=False, raise_exceptions=False,
        receive_timeout=config.timeout_seconds, return_empty_attributes=False,
    )
    # Opened and bound step by step rather than with auto_bind: StartTLS strictly before the bind (the
    # default auto_bind would send the password in clear), and a failure closes the socket instead of
    # leaving it to the garbage collector.
    try:
        conn.open()
        if config.start_tls and not conn.start_tls():
            raise DirectoryUnavailable(f"StartTLS with {config.url} failed: {_describe(conn.result)}")
        if not conn.bind():
            raise DirectoryUnavailable(f"bind to {config.url} as {config.bind_dn or 'anonymous'} failed: "
                                       f"{_describe(conn.result)}")
    except BaseException:
        with contextlib.suppress(Exception):
            conn.unbind()
        raise
    return conn


def _describe(result: Mapping[str, Any] | None) -> str:
    if not result:
        return "no answer"
    message = f" ({result['message']})" if result.get("message") else ""
    return f"{result.get('description')}{message}"


class LdapSource:
    """The ldap3 implementation; `connector` builds the connection (a MOCK_SYNC one in unit tests)."""

    def __init__(self, config: SourceConfig, connector: Connector = connect) -> None:
        self.config = config
        self.profile: Profile = profiles.PROFILES[config.profile]
        self.connector = connector
        self.notes: list[str] = []
        self.entries_read = 0

    def fetch(self, progress: Progress | None = None) -> Snapshot:
        self.notes, self.entries_read = [], 0
        try:
            conn = self.connector(self.config)
        except LDAPException as exc:
            raise DirectoryUnavailable(f"cannot connect or bind to {self.config.url}: {exc}") from exc
        try:
            return self._read(conn, progress)
        except LDAPException as exc:
            # Connection lost mid-way, socket timeouts, protocol errors: all mean "no answer".
            raise DirectoryUnavailable(f"LDAP error while reading {self.config.url}: {exc}") from exc
        finally:
            # The read already succeeded or failed; a failed goodbye changes neither.
            with contextlib.suppress(LDAPException):
                conn.unbind()

    def _read(self, conn: Connection, progress: Progress | None) -> Snapshot:
        config = self.config
        wanted: dict[str, frozenset[str]]  # configured group DN -> normalised DNs that make a member
        if config.membership == "member":
            wanted = {g.dn: self._member_list(conn, g.dn) for g in config.groups}
            scope_filter = config.user_filter
        else:
            closures = {g.dn: self._closure(conn, g.dn) for g in config.groups}
            wanted = {dn: frozenset(c) for dn, c in closures.items()}
            everyone = sorted({orig for c in closures.values() for orig in c.values()})
            scope_filter = profiles.both(config.user_filter,
                                         profiles.any_of([profiles.member_of_clause(g) for g in everyone]))
        disabled = self._disabled_ids(conn, scope_filter)
        entries = self._search(conn, config.base_dn, scope_filter, self._attributes(), progress=progress)
        users, rejected = self._users(entries, wanted, disabled)
        return Snapshot(users=tuple(users), entries_read=self.entries_read, rejected=tuple(rejected),
                        notes=tuple(self.notes))

    def _attributes(self) -> list[str]:
        names = [self.profile.id_attribute, *self.profile.extra_attributes]
        for key, default in self.profile.default_attributes.items():
            names.extend(self.config.attributes.get(key, default))
        if self.config.membership == "member_of":
            # OpenLDAP returns memberOf (an operational attribute) only when asked by name (TRAPS.md 12).
            names.append("memberOf")
        return list(dict.fromkeys(names))

    def _users(self, entries: Iterable[tuple[str, Mapping[str, Sequence[bytes]]]],
               wanted: Mapping[str, frozenset[str]], disabled: set[str],
               ) -> tuple[list[DirectoryUser], list[tuple[str, str]]]:
        users: list[DirectoryUser] = []
        rejected: list[tuple[str, str]] = []
        seen: set[str] = set()
        by_member_of = self.config.membership == "member_of"
        for dn, raw in entries:
            # In member_of mode the search scope holds group members only, so nearly every entry read
            # is used: decode its values once, up front.
            attributes = _decoded(raw)
            if by_member_of:
                keys = {normalise_dn(v) for v in attributes.get("memberof", ())}
            else:
                keys = {normalise_dn(dn)}
            groups = frozenset(g for g, members in wanted.items() if keys & members)
            if not groups:
                continue  # not designated: the search scope holds everyone, the groups pick the contacts
            stable_id = self._stable_id(raw)
            if stable_id is None:
                rejected.append((dn, f"no usable {self.profile.id_attribute}"))
                continue
            if stable_id in seen:
                rejected.append((dn, f"duplicate {self.profile.id_attribute} {stable_id}"))
                continue
            seen.add(stable_id)
            users.append(DirectoryUser(
                stable_id=stable_id, dn=dn, attributes=attributes, groups=groups,
                disabled=stable_id in disabled or self.profile.is_disabled(raw)))
        return users, rejected

    def _stable_id(self, raw: Mapping[str, Sequence[bytes]]) -> str | None:
        wanted = self.profile.id_attribute.lower()
        values = next((vs for k, vs in raw.items() if k.lower() == wanted), [])
        if len(values) != 1:
            return None
        value = values[0]
        try:
            return self.profile.decode_id(value if isinstance(value, bytes) else str(value).encode())
        except (ValueError, UnicodeDecodeError):
            return None

    def _disabled_ids(self, conn: Connection, scope_filter: str) -> set[str]:
        if not self.config.disabled_filter:
            return set()
        found = self._search(conn, self.config.base_dn,
                             profiles.both(scope_filter, self.config.disabled_filter),
                             [self.profile.id_attribute], count=False)
        return {i for _, raw in found if (i := self._stable_id(raw)) is not None}

    def _member_list(self, conn: Connection, group_dn: str) -> frozenset[str]:
        group = self._read_group(conn, group_dn, ["member", "uniqueMember"])
        members = profiles.first_values(group, "member") + [
            _UNIQUE_MEMBER_UID.sub("", v) for v in profiles.first_values(group, "uniqueMember")]
        return frozenset(normalise_dn(m) for m in members)

    def _read_group(self, conn: Connection, group_dn: str,
                    attributes: list[str]) -> Mapping[str, Sequence[bytes]]:
        try:
            found = self._search(conn, group_dn, "(objectClass=*)", attributes, scope=BASE, count=False)
        except IncompleteResult as exc:
            if exc.result_code == 32:  # noSuchObject
                # A vanished group would otherwise read as "all its members left".
                raise DirectoryUnavailable(f"configured group {group_dn} does not exist in the directory "
                                           "(deleted, renamed, or not visible to the sync account)") from exc
            raise
        if len(found) != 1:
            raise DirectoryUnavailable(f"configured group {group_dn} could not be read")
        return found[0][1]

    def _closure(self, conn: Connection, group_dn: str) -> dict[str, str]:
        """Normalised DN -> DN of the group and every group nested in it (as deep as configured)."""
        self._read_group(conn, group_dn, ["objectClass"])
        closure = {normalise_dn(group_dn): group_dn}
        if self.config.nested_groups == "none":
            return closure
        if self.config.nested_groups == "in_chain":
            nested = self._in_chain(conn, group_dn)
            # A server that does not know the rule answers "success, no entries" (OpenLDAP, ldap3's
            # mock), which would silently drop nested members. Any server that evaluates it returns at
            # least the direct children, so those are checked with a plain equality search.
            direct = self._children(conn, [group_dn])
            if nested is not None and direct.keys() <= nested.keys():
                closure.update(nested)
                return closure
            self.notes.append("the server did not evaluate the in-chain rule; groups nested in "
                              f"{group_dn} were resolved level by level")
        closure.update(self._walk(conn, group_dn))
        return closure

    def _in_chain(self, conn: Connection, group_dn: str) -> dict[str, str] | None:
        search_filter = profiles.both(self.profile.group_filter, profiles.in_chain_clause(group_dn))
        try:
            found = self._search(conn, self.config.group_base_dn, search_filter, ["1.1"], count=False)
        except (LDAPDefinitionError, LDAPAttributeError):
            # ldap3 itself refuses the extensible match (a schema without the rule rejects it before
            # sending).
            return None
        except IncompleteResult as exc:
            if exc.result_code in _UNSUPPORTED_MATCHING:
                return None
            raise
        return {normalise_dn(dn): dn for dn, _ in found}

    def _children(self, conn: Connection, parents: list[str]) -> dict[str, str]:
        """Groups that are direct members of any of `parents` (their memberOf names a parent)."""
        search_filter = profiles.both(self.profile.group_filter, profiles.any_of(
            [profiles.member_of_clause(dn) for dn in parents]))
        found = self._search(conn, self.config.group_base_dn, search_filter, ["1.1"], count=False)
        return {normalise_dn(dn): dn for dn, _ in found}

    def _walk(self, conn: Connection, group_dn: str) -> dict[str, str]:
        """Nested groups found by following memberOf one level at a time, with cycles cut."""
        found: dict[str, str] = {normalise_dn(group_dn): group_dn}
        frontier = [group_dn]
        for _ in range(_MAX_NESTING):
            if not frontier:
                return found
            children = self._children(conn, frontier)
            frontier = [dn for key, dn in children.items() if key not in found]
            found.update(children)
        raise DirectoryUnavailable(f"groups nested in {group_dn} go deeper than {_MAX_NESTING} levels")

    def _search(self, conn: Connection, base: str, search_filter: str, attributes: list[str], *,
                scope: str = SUBTREE, count: bool = True, progress: Progress | None = None,
                ) -> list[tuple[str, Mapping[str, Sequence[bytes]]]]:
        """All entries of a paged search, or IncompleteResult: every page's result code is checked."""
        entries: list[tuple[str, Mapping[str, Sequence[bytes]]]] = []
        cookie: bytes | None = None
        while True:
            # SYNC (see connect) and ldap3's mock keep the answer on the connection, which is ours alone.
            conn.search(base, search_filter, scope, attributes=attributes, paged_size=self.config.page_size,
                        paged_cookie=cookie, time_limit=self.config.time_limit_seconds)
            result, response = conn.result, conn.response
            _check_result(result, base)
            for item in response or ():
                if item.get("type") != "searchResEntry":
                    # A continuation reference means part of the tree lives on another server.
                    raise IncompleteResult(f"search of {base} returned a referral ({item.get('uri')}); "
                                           "referrals are not followed, so the result is incomplete", 10)
                entries.append((item["dn"], item["raw_attributes"]))
            if count:
                self.entries_read += len(response or ())
                if progress is not None:
                    progress(self.entries_read)
            cookie = _paged_cookie(result)
            if not cookie:
                return entries


def _decoded(raw: Mapping[str, Sequence[bytes]]) -> dict[str, tuple[str, ...]]:
    """Lower-cased attribute name -> values as text (profiles.decode, inlined: this runs per value)."""
    decoded: dict[str, tuple[str, ...]] = {}
    for name, values in raw.items():
        try:
            decoded[name.lower()] = tuple([value.decode("utf-8", "replace") for value in values])
        except AttributeError:  # text values, as some fakes give them
            decoded[name.lower()] = tuple(profiles.decode(value) for value in values)
    return decoded


def _check_result(result: Mapping[str, Any] | None, base: str) -> None:
    # Success is the only acceptable outcome: sizeLimitExceeded (4) and timeLimitExceeded (3) arrive
    # with a truncated list and no exception (TRAPS.md 10), a referral (10) with no entries at all.
    if result is None:
        raise IncompleteResult(f"search of {base} returned no result: connection lost?")
    code = result.get("result")
    if code != 0:
        description = result.get("description") or "error"
        message = f" ({result['message']})" if result.get("message") else ""
        raise IncompleteResult(f"search of {base} ended with {description} (result code {code}){message}",
                               code if isinstance(code, int) else None)


def _paged_cookie(result: Mapping[str, Any]) -> bytes | None:
    control = (result.get("controls") or {}).get(PAGED_RESULTS) or {}
    cookie = (control.get("value") or {}).get("cookie")
    return cookie if cookie else None
