"""Remediation plans and progress (``anonballot/plans.py``): validation, round trips, and
tampering (any changed byte of a signed plan, progress or plans.json makes it raise)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from _hypothesis import examples
from _jsonview import arr
from _series_data import CRITERIA, ORGANIZER, make_manifest
from hypothesis import given, settings
from hypothesis import strategies as st

from anonballot.encoding import b64u_encode, jcs, parse_json, sha256
from anonballot.errors import AnonBallotError, EncodingError, InputError, InvalidSignature
from anonballot.plans import (
    MAX_ITEMS,
    MAX_TEXT,
    Plan,
    PlanExport,
    PlanItem,
    Progress,
    ProgressUpdate,
)
from anonballot.signing import SigningKey

MANIFEST = make_manifest(
    "long-bien-2026-05",
    {
        "bo-de": [("bo-de-secretary", "secretary"), ("bo-de-chairman", "chairman")],
        "cu-khoi": [("cu-khoi-secretary", "secretary")],
    },
)


def item(n: int = 1, **changes: object) -> PlanItem:
    base = PlanItem(
        id=f"muc-{n}",
        criterion=CRITERIA[n % len(CRITERIA)],
        shortcoming="Chưa sâu sát cơ sở, ít tiếp dân định kỳ.",
        actions="Tiếp dân mỗi thứ Năm; báo cáo kết quả hằng tháng với Đảng ủy phường.",
        deadline=dt.date(2026, 10, 31),
        check="Sổ tiếp dân và biên bản họp chi bộ khu dân cư.",
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def plan(subject: str = "bo-de-secretary", items: int = 2, version: int = 1) -> Plan:
    return Plan(
        round=MANIFEST.mid,
        round_id=MANIFEST.round_id,
        subject=subject,
        items=tuple(item(n) for n in range(1, items + 1)),
        version=version,
    )


def progress(p: Plan) -> Progress:
    return Progress(
        round=p.round,
        subject=p.subject,
        plan=p.digest,
        updates=(
            ProgressUpdate(
                "muc-1", "partly", "Đã tiếp dân 6 buổi, còn 2 buổi.", dt.date(2026, 7, 1)
            ),
            ProgressUpdate("muc-1", "done", "Đủ 8 buổi tiếp dân.", dt.date(2026, 9, 1)),
            ProgressUpdate("muc-2", "not_done", "Chưa bắt đầu.", dt.date(2026, 9, 1)),
        ),
    )


# -- round trips ------------------------------------------------------------------------------


def test_a_signed_plan_round_trips_with_vietnamese_text() -> None:
    p = plan()
    signed = p.sign(ORGANIZER)
    assert set(signed) == {"plan", "signature"}
    assert Plan.from_signed(parse_json(jcs(signed)), MANIFEST) == p
    assert Plan.from_json(p.to_json()) == p
    assert p.digest == sha256(jcs(p.to_json()))
    assert arr(p.to_json()["items"])[0]["deadline"] == "2026-10-31"
    assert "Chưa sâu sát" in jcs(signed).decode("utf-8")


def test_an_item_may_name_a_criterion_or_a_shortcoming_only() -> None:
    only_criterion = item(1, shortcoming=None)
    only_shortcoming = item(2, criterion=None)
    assert "shortcoming" not in only_criterion.to_json()  # absent, never null
    assert "criterion" not in only_shortcoming.to_json()
    p = dataclasses.replace(plan(), items=(only_criterion, only_shortcoming))
    assert Plan.from_signed(p.sign(ORGANIZER), MANIFEST) == p
    with pytest.raises(InputError, match="criterion, a shortcoming"):
        item(3, criterion=None, shortcoming=None)


def test_progress_and_the_export_round_trip() -> None:
    p1, p2 = plan(), plan("cu-khoi-secretary", items=1, version=2)
    pr = progress(p1)
    assert Progress.from_signed(pr.sign(ORGANIZER), MANIFEST) == pr
    pr.check_plan(p1)
    latest = pr.latest("muc-1")
    assert latest is not None
    assert latest.status == "done"
    assert pr.latest("muc-9") is None
    export = PlanExport.build(
        MANIFEST, [p2.sign(ORGANIZER), p1.sign(ORGANIZER)], [pr.sign(ORGANIZER)]
    )
    assert [s.plan.subject for s in export.plans] == ["bo-de-secretary", "cu-khoi-secretary"]
    again = PlanExport.from_json(parse_json(jcs(export.to_json())), MANIFEST)
    assert again == export
    assert again.plan("cu-khoi-secretary") == p2
    assert again.plan("bo-de-chairman") is None
    assert again.progress_of("bo-de-secretary") == pr
    assert again.progress_of("cu-khoi-secretary") is None


# -- validation -------------------------------------------------------------------------------


def test_texts_must_be_nfc_non_empty_and_bounded() -> None:
    decomposed = unicodedata.normalize("NFD", "Tiếp dân")
    with pytest.raises(EncodingError, match="NFC"):
        item(actions=decomposed)
    with pytest.raises(InputError, match="empty"):
        item(check="   ")
    with pytest.raises(InputError, match=f"at most {MAX_TEXT}"):
        item(shortcoming="ư" * (MAX_TEXT + 1))
    assert item(shortcoming="ư" * MAX_TEXT).shortcoming == "ư" * MAX_TEXT
    with pytest.raises(InputError, match="control character"):
        item(actions="a\x00b")
    assert item(actions="Một\nHai\tBa").actions == "Một\nHai\tBa"
    with pytest.raises(EncodingError, match="identifier"):
        item(criterion="Bản lĩnh")
    with pytest.raises(InputError, match="expected a date"):
        item(deadline=dt.datetime(2026, 10, 31, tzinfo=dt.UTC))


def test_a_plan_is_bounded_and_its_items_distinct() -> None:
    with pytest.raises(InputError, match=f"at most {MAX_ITEMS}"):
        plan(items=MAX_ITEMS + 1)
    assert len(plan(items=MAX_ITEMS).items) == MAX_ITEMS
    with pytest.raises(InputError, match="same id"):
        dataclasses.replace(plan(), items=(item(1), item(1)))
    with pytest.raises(InputError, match="version"):
        plan(version=0)
    with pytest.raises(EncodingError, match="base64url"):
        dataclasses.replace(plan(), round="not a mid")
    with pytest.raises(InputError, match="without items"):
        plan(items=0).sign(ORGANIZER)
    with pytest.raises(InputError, match="status"):
        ProgressUpdate("muc-1", "almost", "Gần xong.", dt.date(2026, 7, 1))
    updates = progress(plan()).updates
    with pytest.raises(InputError, match="oldest first"):
        dataclasses.replace(progress(plan()), updates=updates[::-1])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"deadline": "2026-13-01"}, "not a date"),
        ({"deadline": "2026-1-31"}, "YYYY-MM-DD"),
        ({"criterion": None}, "identifier"),  # absent, never null
        ({"extra": "x"}, "unexpected extra"),
        ({"actions": 5}, "expected text"),
    ],
)
def test_from_json_says_what_is_wrong(change: dict[str, object], message: str) -> None:
    value: dict[str, Any] = plan().to_json()
    value["items"][0] |= change
    with pytest.raises(InputError, match=message):
        Plan.from_json(value)


def test_from_signed_checks_the_manifest() -> None:
    other = make_manifest("long-bien-2026-11", {"bo-de": [("bo-de-secretary", "secretary")]})
    with pytest.raises(InputError, match="another round"):
        Plan.from_signed(plan().sign(ORGANIZER), other)
    with pytest.raises(InputError, match="not rated"):
        Plan.from_signed(plan("nobody").sign(ORGANIZER), MANIFEST)
    unknown = dataclasses.replace(plan(), items=(item(1, criterion="khong-co"),))
    with pytest.raises(InputError, match="not in the questionnaire"):
        Plan.from_signed(unknown.sign(ORGANIZER), MANIFEST)
    renamed = dataclasses.replace(plan(), round_id="khac")
    with pytest.raises(InputError, match="names round"):
        Plan.from_signed(renamed.sign(ORGANIZER), MANIFEST)
    stranger = SigningKey(bytes(32))
    with pytest.raises(InvalidSignature):
        Plan.from_signed(plan().sign(stranger), MANIFEST)
    with pytest.raises(InvalidSignature):
        Progress.from_signed(progress(plan()).sign(stranger), MANIFEST)


def test_the_export_holds_one_plan_per_person_and_progress_against_its_plans() -> None:
    p = plan()
    with pytest.raises(InputError, match="same person"):
        PlanExport.build(MANIFEST, [p.sign(ORGANIZER), plan(version=2).sign(ORGANIZER)])
    with pytest.raises(InputError, match="names no plan"):
        PlanExport.build(MANIFEST, [plan(version=2).sign(ORGANIZER)], [progress(p).sign(ORGANIZER)])
    stray = dataclasses.replace(
        progress(p), updates=(ProgressUpdate("muc-9", "done", "Xong.", dt.date(2026, 7, 1)),)
    )
    with pytest.raises(InputError, match="no item"):
        PlanExport.build(MANIFEST, [p.sign(ORGANIZER)], [stray.sign(ORGANIZER)])
    export = PlanExport.build(MANIFEST, [p.sign(ORGANIZER)]).to_json()
    with pytest.raises(InputError, match="another round"):
        PlanExport.from_json(export | {"round": b64u_encode(bytes(32))}, MANIFEST)


# -- tampering --------------------------------------------------------------------------------


def _tampered(data: bytes, position: int, byte: int) -> bytes:
    return data[:position] + bytes([byte]) + data[position + 1 :]


def test_every_changed_byte_of_a_signed_plan_is_refused() -> None:
    data = jcs(plan().sign(ORGANIZER))
    for position in range(len(data)):
        changed = _tampered(data, position, data[position] ^ 0x01)
        with pytest.raises(AnonBallotError):
            Plan.from_signed(parse_json(changed), MANIFEST)


@given(st.data())
@settings(max_examples=examples(200))
def test_any_changed_byte_of_plans_json_is_refused(data: st.DataObject) -> None:
    p = plan()
    export = PlanExport.build(MANIFEST, [p.sign(ORGANIZER)], [progress(p).sign(ORGANIZER)])
    original = jcs(export.to_json())
    position = data.draw(st.integers(0, len(original) - 1))
    byte = data.draw(st.integers(0, 255).filter(lambda b: b != original[position]))
    with pytest.raises(AnonBallotError):
        PlanExport.from_json(parse_json(_tampered(original, position, byte)), MANIFEST)


def test_the_example_of_docs_plans_md_verifies() -> None:
    """docs/plans.md's plans.json was made by this file's ``plan``, ``item`` and ``progress``
    (with a second item tied to a shortcoming only), for ``MANIFEST``: it verifies."""
    text = (Path(__file__).parent.parent / "docs" / "plans.md").read_text(encoding="utf-8")
    example = text.split("```json\n", 1)[1].split("```", 1)[0]
    export = PlanExport.from_json(parse_json(example), MANIFEST)
    accepted = export.plan("bo-de-secretary")
    assert accepted is not None
    assert b64u_encode(accepted.digest) in text  # the digest the progress names
    assert export.progress_of("bo-de-secretary") is not None
