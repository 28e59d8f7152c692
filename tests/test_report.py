"""The leader's own report, the standing committee's report, and ``anonballot report``.

The leader's and the committee's views run on made-up rounds (``_series_data``): a ward below
``min_group``, a new office holder, plans signed with the made-up organizer key. The command
runs end to end on two simulated rounds of the demo district (the second following the
first), whose organizer key is the made-up one so that their plans can be signed: it writes
a PDF (read back with ``pdftotext``), a workbook and the counts as JSON, and refuses a
tampered record, a record without results and a path that is no record.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest
from _records import pdf_text
from _series_data import CRITERIA, ORGANIZER, make_manifest, make_results

from anonballot.cli.report import order_rounds
from anonballot.encoding import b64u_encode, jcs
from anonballot.manifest import Manifest
from anonballot.plans import Plan, PlanExport, PlanItem, Progress, ProgressUpdate
from anonballot.series import Series
from anonballot.server.i18n import Messages
from anonballot.server.reports.committee import committee_view, render_committee_report
from anonballot.server.reports.leader import points_text, render_leader_report
from anonballot.statements import Results
from anonballot.testing import simulate

# -- made-up rounds ---------------------------------------------------------------------------

MAY = {"a": [("a-sec", "secretary"), ("a-chair", "chairman")], "b": [("b-sec", "secretary")]}
NOVEMBER = {"a": [("a-sec", "secretary"), ("a-chair2", "chairman")], "b": [("b-sec", "secretary")]}
"""In November a new chairman holds the post in ward a (a new id); ward b stays below
``min_group`` (5) in May."""


def series(valid_may: dict[str, int] | None = None) -> Series:
    m1 = make_manifest("r-may", MAY)
    m2 = make_manifest("r-nov", NOVEMBER)
    r1 = make_results(m1, valid_may or {"a": 9, "b": 3}, seed=1)
    r2 = make_results(m2, {"a": 8, "b": 7}, seed=2)
    return Series([(m1, r1), (m2, r2)])


def plan_export(manifest: Manifest, subject: str, *, progress: bool) -> PlanExport:
    plan = Plan(
        manifest.mid,
        manifest.round_id,
        subject,
        (
            PlanItem("muc-1", CRITERIA[2], "Chưa sâu sát <cơ sở>", "Tiếp dân mỗi thứ Năm.",
                     dt.date(2026, 10, 31), "Sổ tiếp dân."),
            PlanItem("muc-2", None, "Giải quyết đơn thư còn chậm.", "Trả lời trong 15 ngày.",
                     dt.date(2026, 10, 31), "Sổ theo dõi đơn thư."),
        ),
        1,
    )  # fmt: skip
    signed = [plan.sign(ORGANIZER)]
    updates = []
    if progress:
        done = ProgressUpdate("muc-1", "done", "Đủ 8 buổi tiếp dân.", dt.date(2026, 9, 1))
        updates.append(Progress(manifest.mid, subject, plan.digest, (done,)).sign(ORGANIZER))
    return PlanExport.build(manifest, signed, updates)


# -- the leader's own report ------------------------------------------------------------------


def test_a_leader_s_report_shows_distribution_comments_change_and_plans() -> None:
    s = series()
    may, nov = s.manifests
    plans = [plan_export(may, "a-sec", progress=True), plan_export(nov, "a-sec", progress=False)]
    page = render_leader_report(series=s, subject="a-sec", lang="vi", plans=plans)
    assert page.startswith("<!doctype html>")
    assert '<html lang="vi">' in page
    results = s.results[-1].subjects["a-sec"]
    for texts in results.comments.values():
        for comment in texts:
            assert comment in page
    assert page.count('class="bar-row"') == len(CRITERIA)
    assert 'id="l-a-sec-change"' in page  # the change since May, per criterion
    expected = s.change("a-sec", CRITERIA[0], "tot")
    assert points_text(Messages("vi"), expected) in page
    for export in plans:
        plan = export.plan("a-sec")
        assert plan is not None
        assert b64u_encode(plan.digest) in page  # to check against plans.json
    assert "đã hoàn thành" in page
    assert "Đủ 8 buổi tiếp dân." in page
    assert "Chưa sâu sát &lt;cơ sở&gt;" in page  # escaped
    assert "Mới nhận chức vụ" not in page
    english = render_leader_report(series=s, subject="a-sec", lang="en", plans=plans)
    assert "Change since the previous round" in english
    assert "done" in english


def test_a_hidden_group_shows_no_distribution_and_no_comments() -> None:
    s = series()
    m1 = s.manifests[0]
    one = Series([(m1, s.results[0])])
    page = render_leader_report(series=one, subject="b-sec", lang="en", standalone=False)
    assert page.lstrip().startswith("<article")
    assert 'data-shown="no"' in page
    assert "bar-row" not in page
    assert '<svg class="bar"' not in page
    for texts in one.results[0].subjects["b-sec"].comments.values():
        for comment in texts:
            assert comment not in page
    assert "fewer than the round" in page
    assert "first round" in page
    # shown in November, hidden in May: no change between the two
    page = render_leader_report(series=s, subject="b-sec", lang="en")
    assert 'data-shown="yes"' in page
    assert "l-b-sec-change" not in page
    assert "fewer valid ballots than the minimum group size" in page


def test_a_new_office_holder_is_not_compared_with_the_predecessor() -> None:
    s = series()
    plans = [plan_export(s.manifests[0], "a-chair", progress=True)]
    page = render_leader_report(series=s, subject="a-chair2", lang="vi", plans=plans)
    assert "Mới nhận chức vụ" in page
    assert "l-a-chair2-change" not in page
    assert "không so sánh với kết quả của người tiền nhiệm" in page
    assert "Tiếp dân mỗi thứ Năm." not in page  # the predecessor's plan is not theirs


def test_a_subject_of_an_earlier_round_only_has_no_report() -> None:
    from anonballot.errors import NotFound

    with pytest.raises(NotFound):
        render_leader_report(series=series(), subject="a-chair", lang="vi")


# -- the standing committee's report ----------------------------------------------------------


def test_the_committee_report_applies_min_group_everywhere() -> None:
    s = series()
    view = committee_view(s, Messages("en"))
    district = view.summaries[0]
    assert district.left_out is None  # November shows both wards
    assert district.changes is not None
    # the district's change stands on ward a only: the ward shown in both rounds
    assert "a ward" in district.change_note
    assert "b ward" not in district.change_note
    people = {p.subject: p for p in view.people}
    assert people["a-chair2"].new_in_post
    assert people["a-chair2"].points is None
    assert people["b-sec"].points is None  # hidden in May
    assert people["a-sec"].points is not None
    may = [b for block in view.trend if block.key == "b-sec" for row in block.rows
           for b in row.bars[:1]]  # fmt: skip
    assert may
    assert all(b is None for b in may)
    page = render_committee_report(series=s, lang="en")
    for person in ("a-sec", "a-chair2", "b-sec"):
        assert f"Person {person}" in page
    assert "Person a-chair<" not in page  # no longer rated: no line of their own


def test_summary_counts_name_ballots_and_ratings_apart() -> None:
    s = series()
    view = committee_view(s, Messages("vi"))
    district = view.summaries[0]
    assert district.distribution.ballots == 8 + 7
    assert district.distribution.ratings == 2 * 8 + 7
    assert district.counts.startswith("15 phiếu hợp lệ · 23 lượt đánh giá mỗi tiêu chí")


def test_rounds_follow_the_previous_chain() -> None:
    import dataclasses

    from anonballot.manifest import PreviousRound

    rounds: list[tuple[Manifest, Results]] = []
    for n in range(3):
        m = make_manifest(f"r{n}", MAY)
        if rounds:
            before = rounds[-1][0]
            m = dataclasses.replace(m, previous=PreviousRound(before.round_id, before.mid))
        rounds.append((m, make_results(m, {"a": 9, "b": 9}, seed=n)))
    ordered = order_rounds(rounds[2], [rounds[1], rounds[0]])
    assert [m.round_id for m, _ in ordered] == ["r0", "r1", "r2"]
    loose = [(make_manifest("x", MAY), rounds[0][1])]
    assert [m.round_id for m, _ in order_rounds(rounds[2], [rounds[1], *loose])] == [
        "r1", "x", "r2",
    ]  # fmt: skip


# -- anonballot report, end to end ------------------------------------------------------------


class _Organizer:
    """Stands in for SigningKey in the simulation: the made-up organizer key, so that the
    test can sign plans for the simulated rounds."""

    @staticmethod
    def generate() -> object:
        return ORGANIZER


@pytest.fixture(scope="module")
def records(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("report")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("anonballot.testing.simulation.SigningKey", _Organizer)
        may = simulate(folder / "may", wards=2, voters=8, key_bits=2048, seed=3,
                       round_id="long-bien-2026-05")  # fmt: skip
        from anonballot.manifest import PreviousRound

        simulate(folder / "november", wards=2, voters=8, key_bits=2048, seed=4,
                 round_id="long-bien-2026-11",
                 previous=PreviousRound(may.round_id, may.mid))  # fmt: skip
    return folder


def run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 (our own command)
        [sys.executable, "-m", "anonballot.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, **env},
    )


def read_round(folder: Path) -> tuple[Manifest, Results]:
    manifest = Manifest.from_signed(json.loads((folder / "manifest.json").read_bytes()))
    results = Results.from_signed(json.loads((folder / "results.json").read_bytes()), manifest)
    return manifest, results


@pytest.mark.slow
def test_report_writes_pdf_xlsx_and_json(records: Path) -> None:
    may, _ = read_round(records / "may")
    november, _ = read_round(records / "november")
    plans = records / "plans-may.json"
    plans.write_bytes(jcs(plan_export(may, "bo-de-secretary", progress=True).to_json()))
    # --previous given, oldest first by the manifests' chain
    result = run(
        ["report", "november", "--previous", "may", "--plans", "plans-may.json",
         "--out", "out/report.pdf", "--xlsx", "report.xlsx", "--json", "summary.json",
         "--workers", "1"],
        records,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "long-bien-2026-11" in result.stdout

    flat = pdf_text(records / "out" / "report.pdf")
    for ward in november.wards:
        assert ward.name["vi"] in flat
    for person in november.subjects:
        assert person.name["vi"] in flat
    assert november.mid in flat
    assert may.mid in flat
    assert "Đạt: mọi kiểm tra A1–A13 đều đạt" in flat
    plan = plan_export(may, "bo-de-secretary", progress=True).plan("bo-de-secretary")
    assert plan is not None
    assert b64u_encode(plan.digest) in flat.replace(" ", "")
    assert "lượt đánh giá" in flat
    assert "phiếu hợp lệ" in flat
    pages = subprocess.run(  # noqa: S603 (a fixed program on our own file)
        ["pdfinfo", str(records / "out" / "report.pdf")],  # noqa: S607
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "A4" in pages

    wb = openpyxl.load_workbook(records / "report.xlsx")
    flat_sheet = wb[wb.sheetnames[-1]]
    rows = list(flat_sheet.iter_rows(min_row=2, values_only=True))
    criteria = [c.id for c in november.questionnaire.criteria]
    assert len(rows) == len(november.subjects) * len(criteria)
    assert {(r[3], r[5]) for r in rows} == {
        (s.id, m.label(c.label)) for s in november.subjects for c in november.questionnaire.criteria
        for m in [Messages("vi")]
    }  # fmt: skip
    assert all(not (isinstance(v, str) and v.startswith("=")) for r in rows for v in r)

    summary = json.loads((records / "summary.json").read_text(encoding="utf-8"))
    assert summary["rounds"] == ["long-bien-2026-05", "long-bien-2026-11"]
    for i, name in enumerate(("may", "november")):
        results = json.loads((records / name / "results.json").read_bytes())["results"]
        for sid, entry in results["subjects"].items():
            for cid, per_level in entry["criteria"].items():
                for level, n in per_level.items():
                    assert summary["subjects"][sid]["criteria"][cid][level][i] == n


@pytest.mark.slow
def test_report_refuses_a_tampered_record(records: Path, tmp_path: Path) -> None:
    tampered = tmp_path / "november"
    shutil.copytree(records / "november", tampered)
    board = tampered / "board.jsonl"
    lines = board.read_bytes().splitlines(keepends=True)
    lines.pop(1)  # a ballot dropped
    board.write_bytes(b"".join(lines))
    result = run(["report", str(tampered), "--previous", str(records / "may"),
                  "--out", "report.pdf", "--workers", "1"], tmp_path)  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert str(tampered) in result.stderr
    assert "audit" in result.stderr
    assert not (tmp_path / "report.pdf").exists()


def test_report_refuses_what_is_not_a_whole_record(records: Path, tmp_path: Path) -> None:
    public = tmp_path / "public"
    shutil.copytree(records / "may", public)
    (public / "results.json").unlink()
    shutil.rmtree(public / "releases")
    for args, words in (
        ([str(public)], "no results"),
        ([str(tmp_path / "nothing")], "no such file"),
    ):
        result = run(["report", *args, "--out", "r.pdf"], tmp_path)
        assert result.returncode == 2, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
        assert words in result.stderr
    result = run(["report", str(records / "may"), "--out", "r.pdf"], tmp_path,
                 ANONBALLOT_CHROMIUM="no-such-chromium")  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: the PDF needs Chromium: install it (Debian: apt-get install chromium), "
        "or set ANONBALLOT_CHROMIUM"
    )
