"""English and Azerbaijani: switching, remembering, and a translation catalogue that is complete."""

from __future__ import annotations

from collections.abc import Callable
from io import BytesIO
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po
from flask.testing import FlaskClient

import directory.web

WEB = Path(directory.web.__file__).parent
CATALOGUE = WEB / "translations" / "az" / "LC_MESSAGES"
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "_l": None}


def test_azerbaijani_page_renders_and_is_remembered(client: FlaskClient,
                                                    make_org: Callable[..., str]) -> None:
    entry_id = make_org()
    response = client.get("/?lang=az")
    html = response.get_data(as_text=True)
    assert '<html lang="az">' in html and "Əlaqə nöqtəsi tapın" in html and "Axtarış" in html  # noqa: RUF001
    assert "lang=az" in response.headers["Set-Cookie"]
    page = client.get(f"/organisations/{entry_id}").get_data(as_text=True)  # the cookie keeps the choice
    assert "Təcili əlaqə kanalları" in page and "Xidmət provayderi" in page  # noqa: RUF001
    assert "Emergency channels" not in page
    assert "Emergency channels" in client.get(f"/organisations/{entry_id}?lang=en").get_data(as_text=True)


def test_browser_language_is_used_without_a_choice(client: FlaskClient) -> None:
    html = client.get("/", headers={"Accept-Language": "az-AZ,az;q=0.9,en;q=0.5"}).get_data(as_text=True)
    assert '<html lang="az">' in html


def test_every_message_is_translated_and_the_compiled_catalogue_is_current() -> None:
    with (CATALOGUE / "messages.po").open("rb") as handle:
        po = read_po(handle)
    found = {message[0] if isinstance(message, tuple) else message for _, _, message, _, _ in
             extract_from_dir(WEB, method_map=[("**.py", "python"), ("templates/**.html", "jinja2")],
                              keywords=KEYWORDS)}
    missing = sorted(m for m in found if m not in po)
    assert not missing, f"untranslated (run pybabel extract/update, see directory/web/i18n.py): {missing}"
    untranslated = [m.id for m in po if m.id and (not m.string or m.fuzzy or
                                                   (isinstance(m.string, tuple) and not all(m.string)))]
    assert not untranslated
    compiled = BytesIO()
    write_mo(compiled, po)
    assert (CATALOGUE / "messages.mo").read_bytes() == compiled.getvalue(), "messages.mo is stale: recompile"
    with (CATALOGUE / "messages.mo").open("rb") as handle:
        assert len(read_mo(handle)) == len(po)
