"""Message catalogs of the server-rendered report pages (``server/reports/``).

The catalogs are ``server/messages/{lang}.json``, in the booth's format
(``server/static/i18n/``): one flat JSON object per language, ``"key": "text"``, where a
text's ``{name}`` fields are filled in by name and a field without a value stays as written.
Vietnamese is the default and the fallback; English is chosen with ``?lang=en`` (the pages'
language links), which is then remembered in the ``anonballot_lang`` cookie. Every text of
the pages comes from a catalog or from the manifest's labels (criteria, scale levels, wards,
people rated, roles), each in the chosen language with a fallback to ``vi``.

Catalog texts are plain text: the templates escape them, so a catalog never holds markup.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

__all__ = [
    "CATALOGS",
    "COOKIE",
    "DEFAULT_LANG",
    "LANGS",
    "MESSAGES_DIR",
    "Messages",
    "choose_lang",
    "fill",
    "load_catalog",
]

DEFAULT_LANG = "vi"
LANGS = ("vi", "en")
"""The languages with a catalog, in the order the language links show them."""
COOKIE = "anonballot_lang"
"""The cookie that remembers the language chosen with ``?lang=``."""
MESSAGES_DIR = Path(__file__).resolve().parent / "messages"

_FIELD = re.compile(r"\{(\w+)\}")


def load_catalog(path: Path) -> Mapping[str, str]:
    """One catalog file: a flat JSON object of texts (the booth's format)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        raise ValueError(f"{path}: a message catalog is a JSON object of texts")
    return MappingProxyType(data)


def fill(text: str, fields: Mapping[str, object]) -> str:
    """``text`` with its ``{name}`` fields replaced, as the booth's ``t()`` does."""
    return _FIELD.sub(lambda m: str(fields[m[1]]) if m[1] in fields else m[0], text)


CATALOGS: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {lang: load_catalog(MESSAGES_DIR / f"{lang}.json") for lang in LANGS}
)

_LANG_TAG = re.compile(r"[a-z]{2,3}")


def choose_lang(query: str | None, cookie: str | None) -> tuple[str, bool]:
    """The page language and whether to remember it: ``?lang=`` first, then the cookie.

    A language without a catalog falls back to Vietnamese.
    """
    if query is not None:
        lang = query.strip().lower()
        return (lang, True) if lang in CATALOGS else (DEFAULT_LANG, True)
    if cookie is not None and cookie in CATALOGS:
        return cookie, False
    return DEFAULT_LANG, False


@dataclass(frozen=True)
class Messages:
    """The texts and number formats of one language."""

    lang: str = DEFAULT_LANG

    def __post_init__(self) -> None:
        if self.lang not in CATALOGS:
            object.__setattr__(self, "lang", DEFAULT_LANG)

    def t(self, key: str, **fields: object) -> str:
        """The catalog text ``key`` (Vietnamese if this language lacks it), formatted."""
        text = CATALOGS[self.lang].get(key)
        if text is None:
            text = CATALOGS[DEFAULT_LANG][key]
        return fill(text, fields) if fields else text

    def has(self, key: str) -> bool:
        return key in CATALOGS[self.lang] or key in CATALOGS[DEFAULT_LANG]

    def label(self, label: Mapping[str, str]) -> str:
        """A manifest label in this language, else Vietnamese (always present), else any."""
        for tag in (self.lang, DEFAULT_LANG):
            text = label.get(tag)
            if text:
                return text
        for tag, text in label.items():
            if _LANG_TAG.match(tag) and text:
                return text
        return ""

    @property
    def _separators(self) -> tuple[str, str]:
        """(thousands, decimal): Vietnamese writes 1.234,5 and English 1,234.5."""
        return (".", ",") if self.lang == "vi" else (",", ".")

    def num(self, n: int) -> str:
        thousands, _ = self._separators
        return f"{n:,}".replace(",", thousands)

    def pct(self, part: int, whole: int, digits: int = 1) -> str:
        """``part / whole`` as a percentage; "0%" when ``whole`` is 0, "<1%" for a sliver."""
        if whole <= 0 or part <= 0:
            return "0%"
        value = 100 * part / whole
        smallest = 10**-digits
        if value < smallest / 2:
            return "<" + f"{smallest:.{digits}f}".replace(".", self._separators[1]) + "%"
        text = f"{value:.{digits}f}"
        if digits:
            text = text.replace(".", self._separators[1])
        return text + "%"
