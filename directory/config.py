"""Settings declared as data: name, default, help. Read once, from `DIRECTORY_*` environment variables.

`Settings.from_env()` is called by the entry points (wsgi, CLI); `create_app(config)` receives the result
or a dict of overrides for tests. Nothing reads the environment at import time.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from directory.errors import ConfigurationError


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str
    parse: Callable[[str], Any] = str


def _bool(value: str) -> bool:
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"not a boolean: {value!r}")


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise ValueError(f"must be at least 1: {value!r}")
    return number


SETTINGS: tuple[Setting, ...] = (
    Setting("ENV", "development", "`development` or `production`; production refuses to start without "
            "a secret key and marks cookies Secure."),
    Setting("INSTANCE_PATH", "instance", "Folder for the SQLite database, the node key and the generated "
            "development secret."),
    Setting("DATABASE_URL", "", "peewee database URL; empty means `sqlite:///<instance>/directory.db`. "
            "Use `postgresql://user@host:5432/db` for PostgreSQL."),
    Setting("SECRET_KEY", "", "Key for session cookies and CSRF tokens. Required in production; in "
            "development a random key is generated into the instance folder."),
    Setting("NODE_ID", "http://127.0.0.1:8080", "This node's id: its HTTPS origin, used in entry ids "
            "(`urn:cpd:<host>:<uuid>`) and federation."),
    Setting("NODE_COUNTRIES", "", "Federation scope: countries (ISO 3166-1 alpha-2, comma-separated) this "
            "node may register; empty means any. Published in the node descriptor."),
    Setting("NODE_KINDS", "", "Federation scope: organisation kinds (comma-separated) this node may "
            "register; empty means any."),
    Setting("FEDERATION_CHECKPOINT_SECONDS", 86400, "Validity of this node's signed checkpoints; peers "
            "mark its entries source_stale when no newer checkpoint arrives in time.", int),
    Setting("FEDERATION_PAGE_SIZE", 500, "Journal entries per federation page (served and requested).",
            int),
    Setting("FEDERATION_MAX_RESPONSE_BYTES", 33554432, "Largest response accepted from a peer, in bytes.",
            int),
    Setting("FEDERATION_CONNECT_TIMEOUT", 10.0, "Seconds to connect to a peer.", float),
    Setting("FEDERATION_READ_TIMEOUT", 30.0, "Seconds a peer may stay silent while answering.", float),
    Setting("FEDERATION_DEADLINE", 120.0, "Seconds one request to a peer may take in total.", float),
    Setting("FEDERATION_ALLOW_HTTP", False, "Allow plain http:// peer URLs on loopback addresses (tests, "
            "local development); peers are otherwise https:// with verified certificates.", _bool),
    Setting("FEDERATION_PULL_MINUTES", 15, "How often the scheduler pulls each peer.", int),
    Setting("DEFAULT_PAGE_SIZE", 20, "Page size when a list request gives none.", int),
    Setting("MAX_PAGE_SIZE", 100, "Largest page size a client may ask for.", int),
    Setting("MAX_CONTENT_LENGTH", 262144, "Largest request body in bytes (413 above).", int),
    Setting("ENTRY_MAX_DAYS", 365, "Longest validity (`not_after` - `iat`) of an entry version, in days.",
            int),
    Setting("READ_QUOTA", 1000, "Restricted reads allowed per account per 24 hours (429 above).", int),
    Setting("ANON_RATE", 120, "Anonymous search/resolve requests allowed per client address per minute.",
            int),
    Setting("TOKEN_DAYS", 365, "Lifetime of new API tokens, in days.", int),
    Setting("CONFIRM_DAYS", 180, "Freshness: an entry must be re-confirmed this often.", int),
    Setting("EMERGENCY_TEST_DAYS", 90, "Freshness: emergency channels must be tested this often.", int),
    Setting("WARN_DAYS", 30, "Freshness: warn this many days before any expiry.", int),
    Setting("LDAP_VERIFY_INTERVALS", 2, "Freshness: contacts from an LDAP source are stale when the source "
            "has not been read completely for this many of its schedule intervals.", int),
    Setting("ADMIN_EMAIL", "", "Address told about stale/expired entries, failed syncs and federation "
            "rejections, besides admin accounts that have an email."),
    Setting("SMTP_URL", "", "Outgoing mail, `smtp://user:pass@host:port?starttls=true`; empty disables "
            "delivery (messages stay in the outbox).", str),
    Setting("MAIL_FROM", "directory@localhost", "Sender address of notifications."),
    Setting("SYNC_CONFIG", "", "Path of the LDAP sync TOML file; empty disables LDAP sync."),
    Setting("TRUSTED_PROXIES", 0, "Number of reverse proxies in front of the app whose "
            "X-Forwarded-For to trust (0: use the socket address).", int),
    Setting("CALLBACK_APPROVAL", True, "Changes to the call-back path (switchboard phone, official email "
            "domains, a contact's email, keys) by publishers or admins wait for a second admin's approval.",
            _bool),
    Setting("VERIFY_MAX_AGE_DAYS", 14, "Requester verification: a signed message older than this many days "
            "is a caution (a copy of an old signed request can be sent again), not verified.", _positive),
    Setting("SIGNIN_LOCK_AFTER", 5, "Web sign-in: failed attempts in a row that lock an account.",
            _positive),
    Setting("SIGNIN_LOCK_MINUTES", 15, "Web sign-in: how long such a lock lasts.", _positive),
    Setting("SESSION_HOURS", 12, "Web sign-in: the longest a signed-in session lasts (one working shift "
            "by default); signing in again starts a new one.", _positive),
    Setting("LOG_LEVEL", "INFO", "Python log level of the application logger."),
)

PREFIX = "DIRECTORY_"


def from_env(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Every setting, parsed, from the environment over its default."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        raw = env.get(PREFIX + setting.name)
        if raw is None:
            values[setting.name] = setting.default
            continue
        try:
            values[setting.name] = setting.parse(raw)
        except ValueError as exc:
            raise ConfigurationError(f"{PREFIX}{setting.name}: {exc}") from exc
    return values


def resolve(overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Defaults, then environment, then explicit overrides (tests); derived paths filled in."""
    values = from_env()
    values.update(overrides or {})
    unknown = set(values) - {s.name for s in SETTINGS}
    if unknown:
        raise ConfigurationError(f"unknown settings: {', '.join(sorted(unknown))}")
    instance = Path(values["INSTANCE_PATH"]).resolve()
    values["INSTANCE_PATH"] = str(instance)
    if not values["DATABASE_URL"]:
        values["DATABASE_URL"] = f"sqlite:///{instance / 'directory.db'}"
    if values["ENV"] not in {"development", "production"}:
        raise ConfigurationError("DIRECTORY_ENV must be `development` or `production`")
    return values


def secret_key(values: Mapping[str, Any]) -> str:
    """The configured secret, or in development a random one kept in the instance folder.

    Production never falls back: a missing key is a configuration error, not a default secret.
    """
    if values["SECRET_KEY"]:
        return str(values["SECRET_KEY"])
    if values["ENV"] == "production":
        raise ConfigurationError("DIRECTORY_SECRET_KEY is required when DIRECTORY_ENV=production")
    path = Path(values["INSTANCE_PATH"]) / "dev-secret-key"
    if not path.exists():
        import secrets

        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    return path.read_text().strip()
