"""SSRF: the node fetches only configured peers' URLs, follows no redirect, and never fetches an
organisation's `website` (or any other URL an entry holds)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest

from directory.federation.transport import HttpTransport, Limits, TransportError, check_url
from tests.conftest import auth


class Listener:
    """A loopback socket that records whether anything connected to it."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.3)
        self.port = self.sock.getsockname()[1]

    def contacted(self) -> bool:
        try:
            conn, _ = self.sock.accept()
        except TimeoutError:
            return False
        conn.close()
        return True


@pytest.fixture
def listener() -> Iterator[Listener]:
    found = Listener()
    yield found
    found.sock.close()


def test_organisation_urls_are_never_fetched(client: Any, make_org: Any, token_for: Any,
                                             listener: Listener) -> None:
    url = f"https://127.0.0.1:{listener.port}/"
    try:
        entry_id = make_org(website=url, services=[{"name": "Portal", "type": "hosting", "urls": [url]}])
    except Exception:  # a validator refusing loopback URLs is fine too: then nothing can be fetched
        entry_id = make_org()
    reader = token_for("reader")
    client.get(f"/api/v1/organisations/{entry_id}", headers=auth(reader))
    client.get("/api/v1/search?q=Example", headers=auth(reader))
    client.post("/api/v1/verify", json={"email": "erika.mustermann@telecom.example",
                                        "request_type": "preservation"}, headers=auth(reader))
    client.get(f"/organisations/{entry_id}")
    assert not listener.contacted()


class _Redirect(BaseHTTPRequestHandler):
    target = ""

    def do_GET(self) -> None:
        self.send_response(302)
        self.send_header("Location", self.target)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_peer_redirects_are_not_followed(listener: Listener) -> None:
    _Redirect.target = f"http://127.0.0.1:{listener.port}/stolen"
    server = HTTPServer(("127.0.0.1", 0), _Redirect)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        transport = HttpTransport(Limits(2.0, 2.0, 5.0, 1 << 20, True))
        answer = transport.get(f"http://127.0.0.1:{server.server_address[1]}/federation/v1/checkpoint", {})
        assert answer.status == 302
        assert not listener.contacted()
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("url", ["http://10.0.0.1/", "http://169.254.169.254/latest/meta-data/",
                                 "file:///etc/passwd", "gopher://127.0.0.1:25/", "ftp://peer.example/",
                                 "http://peer.example/"])
def test_peer_urls_must_be_https_except_loopback_in_tests(url: str) -> None:
    with pytest.raises(TransportError):
        check_url(url, True)
    with pytest.raises(TransportError):
        check_url(url.replace("http://", "http://", 1), False)
