# ruff: noqa: RUF001, RUF002  (a table of look-alike letters is made of ambiguous characters)
"""Look-alike domains: names a person reads as an official domain but that are not it.

No maintained PyPI package offers UTS #39 skeletons (confusable-homoglyphs detects mixed scripts but
maps no character to a prototype), so this is a "skeleton-lite" after UTS #39 section 4: NFKD, drop
combining marks, casefold, map a small table of Cyrillic/Greek/Armenian/Latin letters and digits that are
drawn like Latin letters to that letter, collapse the multi-letter look-alikes ("rn" reads as "m",
"vv" as "w"), and finally ignore dots and hyphens, so `police-example.org`, `police.example.org`,
`pol1ce.example.org` and `роlice.example.org` (Cyrillic "р", "о") share the skeleton
`policeexampleorg`. Two different domains with one skeleton are a look-alike pair. Typos that are not
visual confusions (`polise.example.org`) are not detected.
"""

from __future__ import annotations

import unicodedata

import idna

# Single characters drawn like a Latin letter (a deliberately small subset of Unicode's confusables.txt).
_PROTOTYPES = {
    # Cyrillic
    "а": "a", "в": "b", "е": "e", "ё": "e", "һ": "h", "і": "i", "ї": "i", "ј": "j", "к": "k", "м": "m",
    "н": "h", "о": "o", "р": "p", "с": "c", "т": "t", "у": "y", "х": "x", "ѕ": "s", "ԁ": "d", "ԛ": "q",
    "ԝ": "w", "ӏ": "l", "ɡ": "g", "ү": "y", "ո": "n", "օ": "o", "ս": "u", "զ": "q", "հ": "h",
    # Greek
    "α": "a", "β": "b", "ε": "e", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t", "υ": "u",
    "χ": "x", "ω": "w",
    # Latin and digits drawn alike
    "ı": "i", "ł": "l", "ø": "o", "đ": "d", "ħ": "h", "ŀ": "l", "ɩ": "i", "ɑ": "a", "0": "o", "1": "l",
    "i": "l", "3": "e", "5": "s", "8": "b", "|": "l",
}
_SEQUENCES = (("rn", "m"), ("vv", "w"), ("cl", "d"))
_IGNORED = {".", "-", "_"}


def to_unicode(domain: str) -> str:
    """The U-label form of a domain (punycode labels decoded), lower case; unchanged when undecodable."""
    name = domain.strip().rstrip(".").lower()
    try:
        return str(idna.decode(name))
    except (idna.IDNAError, UnicodeError):
        return name


def skeleton(domain: str) -> str:
    """The look-alike skeleton of a domain name (ASCII or Unicode form)."""
    text = unicodedata.normalize("NFKD", to_unicode(domain))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    mapped = "".join(_PROTOTYPES.get(ch, ch) for ch in text if ch not in _IGNORED)
    for sequence, letter in _SEQUENCES:
        mapped = mapped.replace(sequence, letter)
    return mapped


def has_mixed_scripts(domain: str) -> bool:
    """True when one label mixes Latin with Cyrillic or Greek letters (a classic homograph)."""
    for label in to_unicode(domain).split("."):
        scripts = {_script(ch) for ch in label if ch.isalpha()}
        if len(scripts - {"other"}) > 1:
            return True
    return False


def _script(ch: str) -> str:
    name = unicodedata.name(ch, "")
    for script in ("LATIN", "CYRILLIC", "GREEK", "ARMENIAN"):
        if name.startswith(script):
            return script
    return "other"
