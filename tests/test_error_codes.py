"""The browser's error-code vocabulary (``server/static/js/error-codes.js``) against Python's.

The rule, so that the pages and the library name every failure the same way:

- **Python's codes** are the string literals given as an error code anywhere in the Python
  sources (``code="..."`` arguments and ``code = "..."`` class attributes in ``anonballot/``,
  ``server/`` and ``cli/``, and the server's ``error(status, "...", ...)`` answers); a code
  built from an f-string template (``code=f"no_{name}"``) counts for every documented code
  that the template matches.
- **Documented API codes** are the codes of the error table of ``docs/server.md`` (and the
  ``{"error": "..."}`` examples there).
- ``API_ERRORS`` (what the pages understand in a server's refusal) holds every documented
  code and nothing Python cannot produce; each has ``error.<code>`` in the vi and en booth
  catalogs.
- ``OPENING_REASONS`` is exactly the set of codes Python raises as ``OpenError`` (protocol
  section 7.3); each has ``reason.<code>`` and ``reason.<code>.short`` in vi and en.
- ``CRYPTO_ERRORS`` (the browser's own verdicts, ``CryptoError``) are Python codes for the
  same failures, and every ``new CryptoError(..., "<code>")`` in the pages uses one of them.
- ``LOCAL_ERRORS`` (no answer, a malformed answer, ...) are situations only a browser meets:
  no Python code, each with ``error.<code>`` in vi and en.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
JS = ROOT / "server" / "static" / "js"
I18N = ROOT / "server" / "static" / "i18n"
PY_SOURCES = ["anonballot", "server", "cli"]

_LITERAL = re.compile(r'\bcode\s*=\s*"([a-z][a-z0-9_]*)"')
_ANSWER = re.compile(r'\berror\(\s*\d{3},\s*"([a-z][a-z0-9_]*)"')
_TEMPLATE = re.compile(r'\bcode\s*=\s*f"([a-z0-9_{}]+)"')
_OPEN_ERROR = re.compile(r'\bOpenError\((?:[^()]|\([^()]*\))*?\bcode="([a-z_]+)"', re.S)


def _python_files() -> list[Path]:
    files = {p.resolve() for folder in PY_SOURCES for p in (ROOT / folder).rglob("*.py")}
    return sorted(files)


@cache
def python_codes() -> frozenset[str]:
    """Every code the Python side can produce (see the module's docstring)."""
    codes: set[str] = set()
    templates: list[re.Pattern[str]] = []
    for path in _python_files():
        text = path.read_text(encoding="utf-8")
        codes |= set(_LITERAL.findall(text)) | set(_ANSWER.findall(text))
        for template in _TEMPLATE.findall(text):
            templates.append(re.compile(re.sub(r"\{[^}]*\}", "[a-z_]+", template) + r"\Z"))
    assert templates, "no f-string code template found: the rule above needs revisiting"
    codes |= {c for c in documented_codes() if any(t.match(c) for t in templates)}
    return frozenset(codes)


@cache
def documented_codes() -> frozenset[str]:
    text = (ROOT / "docs" / "server.md").read_text(encoding="utf-8")
    table = re.findall(r"^\| `([a-z_]+)` \| \d{3} \|", text, re.M)
    examples = re.findall(r'\{"error": "([a-z_]+)"', text)
    assert len(table) >= 30, "the error table of docs/server.md was not found"
    return frozenset(table) | frozenset(examples)


def js_list(name: str) -> list[str]:
    text = (JS / "error-codes.js").read_text(encoding="utf-8")
    match = re.search(rf"export const {name} = [^\[]*\[(.*?)\]", text, re.S)
    assert match, name
    values = re.findall(r'"([a-z_]+)"', match.group(1))
    assert len(values) == len(set(values)), f"{name} lists a code twice"
    return values


def catalog(lang: str) -> dict[str, str]:
    value: dict[str, str] = json.loads((I18N / f"{lang}.json").read_text(encoding="utf-8"))
    return value


def test_python_codes_are_found() -> None:
    codes = python_codes()
    # a few of every kind: class attributes, keyword arguments, a server answer, a template
    assert {"bad_encoding", "code_used", "internal_error", "no_results", "wrong_ward"} <= codes


def test_api_errors_are_the_documented_codes_python_produces() -> None:
    api = set(js_list("API_ERRORS"))
    assert sorted(documented_codes() - api) == []  # the pages understand every documented code
    assert sorted(api - python_codes()) == []  # and invent none
    assert sorted(documented_codes() - python_codes()) == []  # the documentation is honest


def test_opening_reasons_are_python_s() -> None:
    raised: set[str] = set()
    for path in _python_files():
        raised |= set(_OPEN_ERROR.findall(path.read_text(encoding="utf-8")))
    assert set(js_list("OPENING_REASONS")) == raised
    assert len(raised) == 7  # protocol section 7.3


def test_crypto_errors_are_python_codes_and_the_only_ones_thrown() -> None:
    crypto = set(js_list("CRYPTO_ERRORS"))
    assert sorted(crypto - python_codes()) == []
    thrown: set[str] = set()
    for path in JS.glob("*.js"):
        text = path.read_text(encoding="utf-8")
        thrown |= set(
            re.findall(r'new CryptoError\((?:[^()]|\([^()]*\))*?,\s*"([a-z_]+)"\)', text, re.S)
        )
    assert thrown, "no CryptoError found in the pages"
    assert sorted(thrown - crypto) == []


def test_local_errors_are_not_python_codes() -> None:
    local = set(js_list("LOCAL_ERRORS"))
    assert local
    assert sorted(local & python_codes()) == []
    assert sorted(local & set(js_list("API_ERRORS"))) == []


def test_every_code_has_a_message_in_vi_and_en() -> None:
    for lang in ("vi", "en"):
        texts = catalog(lang)
        missing = [
            f"error.{code}"
            for code in js_list("API_ERRORS") + js_list("LOCAL_ERRORS")
            if not texts.get(f"error.{code}")
        ]
        for code in js_list("OPENING_REASONS"):
            missing += [k for k in (f"reason.{code}", f"reason.{code}.short") if not texts.get(k)]
        assert missing == [], lang
