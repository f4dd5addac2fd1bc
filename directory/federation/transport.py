"""HTTP to peers, bounded: TLS verified, connect and read timeouts, a total deadline and a size cap.

`Transport` is the interface pulls use; `HttpTransport` is the real one (stdlib `http.client`, so TLS
verification is the standard library's default context). Plain http:// is refused unless the
`FEDERATION_ALLOW_HTTP` setting is on, and even then only for loopback hosts (tests, local development).
A peer that answers slowly forever is cut off by the deadline, one that answers too much by the cap.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import socket
import ssl
import threading
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlsplit

from directory import runtime
from directory.errors import DirectoryError

CHUNK = 65536


class TransportError(DirectoryError):
    """The peer could not be reached or its answer was cut off; nothing it sent is used."""

    status = 502
    code = "peer_unreachable"


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


class Transport(Protocol):
    def get(self, url: str, headers: dict[str, str]) -> HttpResponse: ...


@dataclass(frozen=True)
class Limits:
    connect_timeout: float
    read_timeout: float
    deadline: float
    max_bytes: int
    allow_http: bool

    @classmethod
    def from_settings(cls) -> Limits:
        values = runtime.settings()
        return cls(float(values["FEDERATION_CONNECT_TIMEOUT"]), float(values["FEDERATION_READ_TIMEOUT"]),
                   float(values["FEDERATION_DEADLINE"]), int(values["FEDERATION_MAX_RESPONSE_BYTES"]),
                   bool(values["FEDERATION_ALLOW_HTTP"]))


def check_url(url: str, allow_http: bool) -> None:
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname and allow_http and _loopback(parts.hostname):
        return
    raise TransportError(f"peer URL must be https:// (plain http only for loopback with "
                         f"FEDERATION_ALLOW_HTTP): {url}")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class HttpTransport:
    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits.from_settings()

    def get(self, url: str, headers: dict[str, str]) -> HttpResponse:
        check_url(url, self.limits.allow_http)
        parts = urlsplit(url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        conn = self._connection(parts.scheme, parts.hostname or "", parts.port)
        expired = threading.Event()
        watchdog: threading.Timer | None = None
        try:
            conn.connect()
            sock = conn.sock
            # The watchdog enforces the total deadline even against a peer that trickles bytes just
            # faster than the read timeout (headers included, which http.client reads line by line).
            watchdog = threading.Timer(self.limits.deadline, _cut, (sock, expired))
            watchdog.daemon = True
            watchdog.start()
            sock.settimeout(self.limits.read_timeout)
            conn.request("GET", target, headers={**headers, "Accept": "application/json"})
            response = conn.getresponse()
            length = response.getheader("Content-Length")
            if length and length.isdigit() and int(length) > self.limits.max_bytes:
                raise TransportError(f"response of {length} bytes exceeds the limit of "
                                     f"{self.limits.max_bytes} bytes")
            body = self._read(response)
            if expired.is_set():  # shutdown makes a blocked read return EOF: the body may be cut short
                raise TransportError(f"peer did not answer within {self.limits.deadline:g} s")
            return HttpResponse(response.status, body, {k.lower(): v for k, v in response.getheaders()})
        except (OSError, http.client.HTTPException, ValueError) as exc:
            if expired.is_set():
                raise TransportError(f"peer did not answer within {self.limits.deadline:g} s") from exc
            raise TransportError(f"peer request failed: {exc or type(exc).__name__}") from exc
        finally:
            if watchdog is not None:
                watchdog.cancel()
            conn.close()

    def _connection(self, scheme: str, host: str, port: int | None) -> http.client.HTTPConnection:
        timeout = min(self.limits.connect_timeout, self.limits.deadline)
        if scheme == "https":
            return http.client.HTTPSConnection(host, port, timeout=timeout,
                                               context=ssl.create_default_context())
        return http.client.HTTPConnection(host, port, timeout=timeout)

    def _read(self, response: http.client.HTTPResponse) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            chunk = response.read1(CHUNK)
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > self.limits.max_bytes:
                raise TransportError(f"response exceeds the limit of {self.limits.max_bytes} bytes")
            chunks.append(chunk)


def _cut(sock: socket.socket, expired: threading.Event) -> None:
    expired.set()
    with contextlib.suppress(OSError):  # already closed: the request finished as the deadline passed
        sock.shutdown(socket.SHUT_RDWR)
