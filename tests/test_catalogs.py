"""Every JSON message catalog under ``server/`` is the one catalog format, in vi and en alike.

The format (the booth's ``server/static/i18n/{vi,en}.json``, and any report or CLI catalog
kept as ``server/**/i18n/*.json`` or ``server/**/messages/*.json``) is a flat JSON object
``"area.key": "text with {name} placeholders"``. A key may come in CLDR plural forms
(``key.one``, ``key.other``, ...; i18n.js picks one by ``Intl.PluralRules``), which count as
the key itself: a language that splits a key gives its ``.other`` form, and a language
without plural forms (Vietnamese) gives the key alone.

For every folder of catalogs: vi and en exist, have the same keys (plural forms folded), and
every text of a key, in either language and in any plural form, has the same placeholders.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path

import pytest

SERVER = Path(__file__).resolve().parent.parent / "server"
PLURAL = re.compile(r"\.(zero|one|two|few|many|other)\Z")
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def catalog_folders() -> list[Path]:
    found = {
        p.parent
        for pattern in ("**/i18n/*.json", "**/messages/*.json")
        for p in SERVER.glob(pattern)
    }
    return sorted(found)


def load(path: Path) -> dict[str, str]:
    value = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(value, dict), f"{path}: a catalog is one flat JSON object"
    for key, text in value.items():
        assert re.fullmatch(r"[a-z0-9_]+(\.[a-z0-9_]+)*", key), f"{path}: key {key!r}"
        assert isinstance(text, str), f"{path}: {key} is not text"
    return value


def forms(texts: dict[str, str]) -> dict[str, dict[str, str]]:
    """key -> {form ("" for the key alone, else the plural category): text}."""
    out: dict[str, dict[str, str]] = defaultdict(dict)
    for key, text in texts.items():
        match = PLURAL.search(key)
        if match and (key[: match.start()] in texts or f"{key[: match.start()]}.other" in texts):
            out[key[: match.start()]][match.group(1)] = text
        else:
            out[key][""] = text
    return out


def test_catalogs_are_found() -> None:
    assert SERVER / "static" / "i18n" in catalog_folders()


@pytest.mark.parametrize("folder", catalog_folders(), ids=lambda p: str(p.relative_to(SERVER)))
def test_vi_and_en_agree(folder: Path) -> None:
    vi, en = (forms(load(folder / f"{lang}.json")) for lang in ("vi", "en"))
    assert sorted(vi.keys() ^ en.keys()) == []
    for lang, all_forms in (("vi", vi), ("en", en)):
        for key, texts in all_forms.items():
            if set(texts) != {""}:
                assert "other" in texts, f"{lang} {key}: plural forms need .other"
                assert "" not in texts, f"{lang} {key}: both plain and plural forms"
    for key in vi:
        placeholders = {
            f"{lang}{'.' + form if form else ''}": set(PLACEHOLDER.findall(text))
            for lang, all_forms in (("vi", vi), ("en", en))
            for form, text in all_forms[key].items()
        }
        assert len({frozenset(p) for p in placeholders.values()}) == 1, (key, placeholders)


# One word for each thing, in the booth, the report pages, the CLI and the invitation slips
# (issue 9): a participant reads the slip, then the booth, then the turnout and the results,
# and must not wonder whether two words are two things.
TERMS = {
    "mã mời": "the invitation code",
    "giấy mời": "the invitation slip",
    "kích hoạt mã mời": "collecting the token with the code",
    "thẻ bỏ phiếu": "the token",
    "Hạn kích hoạt mã mời": "the issuance window",
    "Thời gian bỏ phiếu": "the voting window",
    "phiếu": "the ballot",
    "bảng công khai": "the public board",
    "mã nhận dạng của đợt": "the round's fingerprint (mid)",
}
RETIRED = {
    "phiếu xác thực": "thẻ bỏ phiếu",  # the token is not a "phiếu": that is the ballot
    "thời gian nhận phiếu": "Hạn kích hoạt mã mời",  # read as "when ballots are received"
    "bảng tin": "bảng công khai",  # a news board
    "phiếu mời": "giấy mời",
    "mã tham gia": "mã mời",
    "mã định danh của đợt": "mã nhận dạng của đợt",
    "eligibility token": "voting token",
}


def test_one_word_for_each_thing() -> None:
    texts = [SERVER / "templates" / "slips.html", SERVER.parent / "cli" / "messages" / "vi.json"]
    texts += [p for folder in catalog_folders() for p in folder.glob("*.json")]
    found = [
        f"{path.relative_to(SERVER.parent)}: {old!r}, say {new!r}"
        for path in texts
        for old, new in RETIRED.items()
        if old in path.read_text(encoding="utf-8").lower()
    ]
    assert found == []
    booth = (SERVER / "static" / "i18n" / "vi.json").read_text(encoding="utf-8").lower()
    assert [term for term in TERMS if term.lower() not in booth] == []
