"""The web pages under attack: CSRF on every form route, open redirects through `next=`, path traversal
in the file-serving routes, session fixation, sign-in brute force and account enumeration."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.security.conftest import World, data_counts
from tests.web.conftest import csrf_from, web_account

__all__ = ["web_account"]  # the fixture, imported so this suite can use it


def _post_rules(client: Any) -> list[str]:
    return [r.rule for r in client.application.url_map.iter_rules()
            if "POST" in r.methods and not r.rule.startswith(("/api/", "/federation/"))]


def test_every_form_route_refuses_a_missing_or_forged_csrf_token(client: Any, world: World,
                                                                 web_account: Any) -> None:
    from tests.web.conftest import sign_in

    rules = _post_rules(client)
    assert "/sign-in" in rules
    sign_in(client, web_account("admin"))
    client.get("/")
    before = data_counts()
    for rule in rules:
        url = re.sub(r"<(?:[^:>]+:)?(\w+)>", lambda m: {"entry_id": world.victim, "decision": "approve",
                                                      "version": "1"}.get(m.group(1), "1"), rule)
        for data in ({}, {"csrf_token": "forged"}):
            response = client.post(url, data={**data, "name": "x", "switchboard_phone": "+49 30 666"})
            assert response.status_code in {400, 403}, (url, response.status_code)
    assert data_counts() == before


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil.example",
                                    "/%2F%2Fevil.example", "javascript:alert(1)", "\t//evil.example",
                                    "http:/evil.example", "///evil.example"])
def test_next_never_leaves_the_site(client: Any, web_account: Any, target: str) -> None:
    reader = web_account("reader")
    page = client.get(f"/sign-in?next={target}")
    assert "evil.example" not in page.get_data(as_text=True).replace(f"next={target}", "")
    token = csrf_from(page.get_data(as_text=True))
    response = client.post("/sign-in", data={"name": reader.name, "password": reader.password,
                                             "csrf_token": token, "next": target})
    assert response.status_code == 303
    location = response.headers["Location"]
    # Same site: a path, never a scheme or a network location (percent-encoded slashes stay a path).
    assert location.startswith("/") and not location.startswith(("//", "/\\"))
    assert urlsplit(location).netloc == "" and "\\" not in location


TRAVERSALS = ["/static/../../directory/config.py", "/static/..%2f..%2fdirectory%2fconfig.py",
              "/assets/../../../etc/passwd", "/assets/..%2f..%2f..%2fetc%2fpasswd",
              "/static/%2e%2e/%2e%2e/pyproject.toml", "/assets/....//....//etc/passwd",
              "/static//etc/passwd", "/assets/%c0%ae%c0%ae/etc/passwd"]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_file_routes_do_not_traverse(client: Any, path: str) -> None:
    response = client.get(path)
    if response.status_code == 308:  # werkzeug merges slashes: the redirect stays on the site
        target = urlsplit(response.headers["Location"])
        assert target.netloc in {"", "localhost"} and "//" not in target.path
        response = client.get(target.path)
    assert response.status_code in {400, 404}, path
    body = response.get_data()
    assert b"root:" not in body and b"SETTINGS" not in body and b"[project]" not in body


def test_session_is_renewed_at_sign_in(client: Any, web_account: Any) -> None:
    from tests.web.conftest import sign_in

    client.get("/sign-in")
    client.set_cookie("session", "attacker-chosen", domain="localhost")
    reader = web_account("reader")
    sign_in(client, reader)
    cookie = client.get_cookie("session")
    assert cookie is not None and cookie.value != "attacker-chosen"


def test_brute_force_locks_the_account_and_unknown_names_look_the_same(client: Any, web_account: Any) -> None:
    reader = web_account("reader")

    def attempt(name: str, password: str) -> tuple[int, str]:
        token = csrf_from(client.get("/sign-in").get_data(as_text=True))
        response = client.post("/sign-in", data={"name": name, "password": password, "csrf_token": token})
        found = re.search(r'role="alert"><p>(.*?)</p>', response.get_data(as_text=True))
        return response.status_code, found.group(1) if found else ""

    unknown = attempt("nobody-here", "wrong password 1")
    wrong = attempt(reader.name, "wrong password 1")
    assert unknown == wrong and unknown[0] == 401
    for n in range(12):
        attempt(reader.name, f"wrong password {n}")
    assert attempt(reader.name, reader.password)[0] in {401, 429}  # locked: the right password fails too
