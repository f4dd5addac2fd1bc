"""Language and time zone of the viewer, and how dates and times are shown to them.

Language: `?lang=en|az` (kept in a cookie), else the cookie, else the browser's Accept-Language.
Time zone: `?tz=<IANA zone>` (kept in a cookie), else the cookie, else UTC — the page says which zone it
uses, because an officer at 3 a.m. must not guess whether "opens at 08:00" is their time or the ISP's.

Catalogues: `translations/az/LC_MESSAGES/messages.po` and its compiled `.mo` are committed (a test fails
when a message is untranslated or the `.mo` is stale). After changing texts:
    pybabel extract -F directory/web/babel.cfg -k lazy_gettext -k _l -o /tmp/messages.pot directory/web
    pybabel update -i /tmp/messages.pot -d directory/web/translations   # then translate the new entries
    pybabel compile -d directory/web/translations
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from babel import dates
from flask import Flask, Response, current_app, g, request
from flask_babel import Babel, format_datetime, get_locale

from directory.api.errors import JSON_PREFIXES

LANGUAGES = {"en": "English", "az": "Azərbaycanca"}
DEFAULT_TZ = "UTC"
COOKIE_DAYS = 365
TRANSLATIONS = Path(__file__).parent / "translations"


def _valid_zone(name: str | None) -> str | None:
    if not name or len(name) > 64 or name not in _zones():
        return None
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return name


_ZONES: set[str] = set()


def _zones() -> set[str]:
    if not _ZONES:
        _ZONES.update(available_timezones())
    return _ZONES


def zone_names() -> list[str]:
    return sorted(_zones())


def select_locale() -> str:
    asked = request.args.get("lang")
    if asked in LANGUAGES:
        return str(asked)
    kept = request.cookies.get("lang")
    if kept in LANGUAGES:
        return str(kept)
    return request.accept_languages.best_match(list(LANGUAGES)) or "en"


def select_timezone() -> str:
    return (_valid_zone(request.args.get("tz")) or _valid_zone(request.cookies.get("tz")) or DEFAULT_TZ)


def viewer_zone() -> str:
    if "viewer_tz" not in g:
        g.viewer_tz = select_timezone()
    zone: str = g.viewer_tz
    return zone


def when(value: Any, pattern: str = "yyyy-MM-dd HH:mm") -> str:
    """An instant (epoch seconds, ISO 8601 text or aware datetime) in the viewer's zone and language."""
    if value is None or value == "":
        return ""
    if isinstance(value, int | float):
        moment = datetime.fromtimestamp(value, UTC)
    elif isinstance(value, str):
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    else:
        moment = value
    return str(format_datetime(moment, pattern))


def local(value: str | None, pattern: str = "EEE d MMM, HH:mm") -> str:
    """An ISO 8601 instant in its own offset (the organisation's local time), in the viewer's language."""
    if not value:
        return ""
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return str(dates.format_datetime(moment, pattern, tzinfo=moment.tzinfo, locale=current_language()))


def _keep_choices(response: Response) -> Response:
    """`?lang=` and `?tz=` are remembered, so the choice survives following links."""
    if request.path.startswith(JSON_PREFIXES):
        return response
    secure = bool(current_app.config.get("SESSION_COOKIE_SECURE"))
    for name, value in (("lang", request.args.get("lang")), ("tz", request.args.get("tz"))):
        valid = value in LANGUAGES if name == "lang" else _valid_zone(value) is not None
        if value and valid and request.cookies.get(name) != value:
            response.set_cookie(name, str(value), max_age=COOKIE_DAYS * 86400, httponly=True,
                                samesite="Lax", secure=secure)
    return response


def current_language() -> str:
    return str(get_locale() or "en")


def init_app(app: Flask) -> None:
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(TRANSLATIONS)
    Babel(app, locale_selector=select_locale, timezone_selector=viewer_zone)
    app.jinja_env.filters["when"] = when
    app.jinja_env.filters["local"] = local
    app.after_request(_keep_choices)
