"""Web sign-in: password and TOTP, lockout, no account enumeration, cookies, CSRF, API separation."""

from __future__ import annotations

import re
from collections.abc import Callable

import pyotp
import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from directory import accounts, runtime
from directory.errors import Unauthenticated
from directory.models.accounts import Account, WebSession
from directory.models.audit import AuditEvent
from directory.web import signin
from tests.conftest import ADMIN, row_counts
from tests.web.conftest import WebAccount, csrf_from, locked, sign_in


def _post(client: FlaskClient, name: str, password: str, code: str = "") -> tuple[int, str]:
    token = csrf_from(client.get("/sign-in").get_data(as_text=True))
    response = client.post("/sign-in", data={"name": name, "password": password, "code": code,
                                             "csrf_token": token})
    found = re.search(r'role="alert"><p>(.*?)</p>', response.get_data(as_text=True))
    return response.status_code, found.group(1) if found else ""


def _signed_in_as(client: FlaskClient) -> str | None:
    found = re.search(r"Signed in as ([^<]+)</a>", client.get("/").get_data(as_text=True))
    return found.group(1) if found else None


def test_publisher_needs_password_and_totp(client: FlaskClient, make_org: Callable[..., str],
                                           web_account: Callable[..., WebAccount]) -> None:
    publisher = web_account("publisher", make_org())
    assert _post(client, publisher.name, publisher.password)[0] == 401  # no code
    assert _post(client, publisher.name, publisher.password, "000000")[0] == 401
    assert _signed_in_as(client) is None
    sign_in(client, publisher)
    assert _signed_in_as(client) == publisher.name


def test_publisher_without_totp_cannot_sign_in(client: FlaskClient, make_org: Callable[..., str],
                                               web_account: Callable[..., WebAccount]) -> None:
    publisher = web_account("publisher", make_org(), totp=False)
    assert _post(client, publisher.name, publisher.password)[0] == 401
    assert _signed_in_as(client) is None


def test_reader_signs_in_with_password_alone_and_signs_out(
        client: FlaskClient, web_account: Callable[..., WebAccount]) -> None:
    reader = web_account("reader")
    sign_in(client, reader)
    cookie = client.get_cookie("session")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Strict"
    token = csrf_from(client.get("/").get_data(as_text=True))
    assert client.post("/sign-out", data={"csrf_token": token}).status_code == 303
    assert _signed_in_as(client) is None


def test_failures_look_alike_and_lock_the_account(client: FlaskClient,
                                                  web_account: Callable[..., WebAccount],
                                                  clock: Callable[[float], None]) -> None:
    reader = web_account("reader")
    unknown = _post(client, "nobody-of-that-name", "whatever password")
    for _ in range(signin.lock_after() - 1):
        assert _post(client, reader.name, "wrong password!") == unknown
    assert not locked(reader)
    assert _post(client, reader.name, "wrong password!") == unknown
    assert locked(reader)
    # Locked: even the right password is refused, with the same answer as for an unknown name.
    assert _post(client, reader.name, reader.password) == unknown
    assert unknown[0] == 401 and "Sign-in failed" in unknown[1]
    unlocks_at = Account.get_by_id(reader.account_id).locked_until
    clock(unlocks_at - 1)
    assert _post(client, reader.name, reader.password) == unknown
    clock(unlocks_at)
    sign_in(client, reader)


def test_signing_out_ends_the_session_on_the_server(app: Flask, client: FlaskClient,
                                                    web_account: Callable[..., WebAccount]) -> None:
    """A copy of the cookie taken before sign-out (a shared workstation, a stolen cookie) signs no one in
    after it; the same account's session in another browser stays."""
    reader = web_account("reader")
    elsewhere = app.test_client()
    sign_in(elsewhere, reader)
    sign_in(client, reader)
    copied = client.get_cookie("session")
    assert copied is not None
    token = csrf_from(client.get("/").get_data(as_text=True))
    assert client.post("/sign-out", data={"csrf_token": token}).status_code == 303

    replay = app.test_client()
    replay.set_cookie("session", copied.value)
    assert _signed_in_as(replay) is None
    assert _signed_in_as(elsewhere) == reader.name
    signouts = AuditEvent.select().where((AuditEvent.action == "signout") &
                                         (AuditEvent.target == f"account:{reader.account_id}"))
    assert signouts.count() == 1


def test_sessions_past_their_length_are_deleted_at_the_next_sign_in(
        client: FlaskClient, web_account: Callable[..., WebAccount],
        clock: Callable[[float], None]) -> None:
    reader = web_account("reader")
    clock(1_800_000_000)
    sign_in(client, reader)
    clock(1_800_000_000 + signin.session_seconds())
    sign_in(client, web_account("reader"))
    assert [s.created_at for s in WebSession.select()] == [1_800_000_000 + signin.session_seconds()]


def test_disabling_an_account_ends_its_sessions_for_good(client: FlaskClient,
                                                         web_account: Callable[..., WebAccount]) -> None:
    """Enabling the account again does not revive a session someone else may hold: it signs in anew."""
    reader = web_account("reader")
    sign_in(client, reader)
    accounts.set_disabled(reader.account_id, True, ADMIN)
    assert _signed_in_as(client) is None
    accounts.set_disabled(reader.account_id, False, ADMIN)
    assert _signed_in_as(client) is None
    sign_in(client, reader)
    assert _signed_in_as(client) == reader.name


def test_the_lockout_follows_the_node_settings(client: FlaskClient,
                                              web_account: Callable[..., WebAccount],
                                              clock: Callable[[float], None],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """An administrator may set a stricter policy: two failures lock for an hour."""
    monkeypatch.setitem(runtime.settings(), "SIGNIN_LOCK_AFTER", 2)
    monkeypatch.setitem(runtime.settings(), "SIGNIN_LOCK_MINUTES", 60)
    reader = web_account("reader")
    clock(1_800_000_000)
    _post(client, reader.name, "wrong password!")
    assert not locked(reader)
    _post(client, reader.name, "wrong password!")
    assert locked(reader)
    assert Account.get_by_id(reader.account_id).locked_until == 1_800_000_000 + 3600


def test_a_session_ends_after_the_configured_hours(client: FlaskClient,
                                                   web_account: Callable[..., WebAccount],
                                                   clock: Callable[[float], None],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(runtime.settings(), "SESSION_HOURS", 1)
    reader = web_account("reader")
    clock(1_800_000_000)
    sign_in(client, reader)
    clock(1_800_000_000 + 3599)
    assert _signed_in_as(client) == reader.name
    clock(1_800_000_000 + 3600)
    assert _signed_in_as(client) is None


def test_a_changed_password_ends_open_sessions(client: FlaskClient,
                                               web_account: Callable[..., WebAccount]) -> None:
    from directory import accounts

    reader = web_account("reader")
    sign_in(client, reader)
    accounts.set_password(reader.account_id, "another long password", ADMIN)
    assert _signed_in_as(client) is None


def test_a_new_totp_secret_ends_open_sessions(client: FlaskClient, make_org: Callable[..., str],
                                              web_account: Callable[..., WebAccount]) -> None:
    """A second factor is replaced when the old one is lost or exposed: sessions signed in with it end,
    as they do when the password changes."""
    publisher = web_account("publisher", make_org())
    sign_in(client, publisher)
    assert _signed_in_as(client) == publisher.name
    signin.enable_totp(publisher.account_id, ADMIN)
    assert _signed_in_as(client) is None


def test_form_without_csrf_token_is_refused(client: FlaskClient,
                                            web_account: Callable[..., WebAccount]) -> None:
    reader = web_account("reader")
    client.get("/sign-in")
    before = row_counts()
    response = client.post("/sign-in", data={"name": reader.name, "password": reader.password})
    assert response.status_code == 400 and response.mimetype == "text/html"
    assert "This form has expired" in response.get_data(as_text=True)
    response = client.post("/sign-in", data={"name": reader.name, "password": reader.password,
                                             "csrf_token": "forged"})
    assert response.status_code == 400
    assert _signed_in_as(client) is None and row_counts() == before


def test_session_cookie_is_never_accepted_by_the_api(client: FlaskClient, make_org: Callable[..., str],
                                                     web_account: Callable[..., WebAccount]) -> None:
    entry_id = make_org()
    sign_in(client, web_account("reader"))
    assert "Erika Mustermann" in client.get(f"/organisations/{entry_id}").get_data(as_text=True)
    body = client.get(f"/api/v1/organisations/{entry_id}").get_json()
    assert "contacts" not in body  # anonymous level: the browser's cookie authorises nothing here
    assert client.get("/api/v1/accounts").status_code == 401


def test_sign_in_redirects_only_within_the_site(client: FlaskClient,
                                                web_account: Callable[..., WebAccount]) -> None:
    reader = web_account("reader")
    for target, expected in (("//evil.example/", "/"), ("/\t/evil.example", "/"), ("/\\evil.example", "/"),
                             ("https://evil.example/", "/"), ("/verify", "/verify")):
        token = csrf_from(client.get("/sign-in").get_data(as_text=True))
        response = client.post("/sign-in", data={"name": reader.name, "password": reader.password,
                                                 "csrf_token": token, "next": target})
        assert response.headers["Location"] == expected, target


def test_cli_sets_password_and_enables_totp(app: object, settings: dict[str, object],
                                            web_account: Callable[..., WebAccount],
                                            client: FlaskClient) -> None:
    from directory.cli.accounts import accounts_group

    admin = web_account("admin", totp=False)
    env = {f"DIRECTORY_{k}": str(v).lower() if isinstance(v, bool) else str(v)
           for k, v in settings.items()}
    result = CliRunner(env=env).invoke(accounts_group, ["set-password", str(admin.account_id)],
                                       input="a brand new password\na brand new password\n")
    assert result.exit_code == 0, result.output
    result = CliRunner(env=env).invoke(accounts_group, ["enable-totp", str(admin.account_id)])
    assert result.exit_code == 0, result.output
    uri, secret = result.output.strip().splitlines()[-2:]
    assert uri.startswith("otpauth://totp/") and f"secret={secret}" in uri
    code = pyotp.TOTP(secret).at(runtime.now())
    assert _post(client, admin.name, "a brand new password", code)[0] == 303


def test_a_totp_code_signs_in_once(app, make_org: Callable[..., str],
                                    web_account: Callable[..., WebAccount], clock) -> None:
    publisher = web_account("publisher", make_org())
    assert publisher.totp_secret is not None
    totp = pyotp.TOTP(publisher.totp_secret)
    now = (runtime.now() // 30) * 30 + 5  # early in a time step
    clock(now)
    code = totp.at(now)
    first, second = app.test_client(), app.test_client()
    sign_in(first, publisher, code)
    assert _signed_in_as(first) == publisher.name
    # The same code again, still inside its window (e.g. read over a shoulder): refused like any failure.
    assert _post(second, publisher.name, publisher.password, code) == (401, signin.FAILED)
    assert _signed_in_as(second) is None
    # An older code still inside the drift window is refused too: steps only move forward.
    assert _post(second, publisher.name, publisher.password, totp.at(now - 30))[0] == 401
    clock(now + 30)
    sign_in(second, publisher, totp.at(now + 30))  # the next step's code works
    assert _signed_in_as(second) == publisher.name
    assert Account.get_by_id(publisher.account_id).totp_last_step == (now + 30) // 30


def test_an_attempt_racing_a_lockout_neither_signs_in_nor_undoes_it(
        app: object, web_account: Callable[..., WebAccount], monkeypatch: pytest.MonkeyPatch) -> None:
    """Attempts check their passwords in parallel (argon2 is slow). Failures that lock the account while
    one attempt is still checking must hold: that attempt, even with the right password, is refused and
    does not write back the unlocked state it read before them (guessing in bursts defeated the lock)."""
    reader = web_account("reader")
    check = accounts.check_password

    def racing(account: Account, password: str) -> bool:
        monkeypatch.setattr(accounts, "check_password", check)  # only the first check is overtaken
        for _ in range(signin.lock_after()):
            with pytest.raises(Unauthenticated):
                signin.sign_in(reader.name, "wrong password!", "", None)
        assert locked(reader)
        return check(account, password)

    monkeypatch.setattr(accounts, "check_password", racing)
    with pytest.raises(Unauthenticated):
        signin.sign_in(reader.name, reader.password, "", None)
    assert locked(reader)


def test_guesses_from_a_signed_in_visitor_count_against_the_address_limit(
        client: FlaskClient, web_account: Callable[..., WebAccount]) -> None:
    """The per-address limit on sign-in attempts (against guessing across many accounts) holds for a
    visitor who is signed in already: one reader's session must not lift it for guesses at others."""
    sign_in(client, web_account("reader"))
    runtime.settings()["ANON_RATE"] = 2  # the sign-in above spent one
    statuses = [_post(client, f"someone-{n}", "a guessed password")[0] for n in range(3)]
    assert statuses[0] == 401 and statuses[-1] == 429
