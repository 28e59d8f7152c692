"""``anonballot report``: the standing committee's report of a round, offline, from records.

Every record is audited first (checks A1 to A13, protocol section 9.2): the report states
only what an auditor can recompute. A record whose audit fails stops the command (exit 1,
one line naming it); a record without results (the public part of a restricted round) is
refused, as the report needs the confidential part. The rounds given with ``--previous``
are put in the order of the manifests' ``previous`` chain (protocol section 4.2) when every
one of them is on it, else in the order given; the current round is always last.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import click

from anonballot.audit import AuditReport, audit_record
from anonballot.encoding import parse_json
from anonballot.errors import InputError
from anonballot.manifest import Manifest
from anonballot.plans import PlanExport
from anonballot.record import Record
from anonballot.series import Series
from anonballot.statements import Results

from .common import CheckFailed, clean_errors, say, t

__all__ = ["COMMANDS", "order_rounds", "read_round"]

MAX_PLANS_FILE = 16 * 1024 * 1024


def read_round(path: Path) -> tuple[Manifest, Results]:
    """The signed manifest and results of the record at ``path``.

    Refuses (:class:`InputError`) a record without ``results.json``: the public part of a
    restricted round has no results to report.
    """
    with Record(path) as record:
        _whole(path, record)
        manifest = Manifest.from_signed(parse_json(record.read("manifest.json")))
        results = Results.from_signed(parse_json(record.read("results.json")), manifest)
    return manifest, results


def _whole(path: Path, record: Record) -> None:
    if not record.exists("results.json"):
        raise InputError(t("report_public_part", path=path))


def order_rounds(
    current: tuple[Manifest, Results], previous: Sequence[tuple[Manifest, Results]]
) -> list[tuple[Manifest, Results]]:
    """The rounds oldest first, the current one last: the ``previous`` rounds in the order of
    the manifests' ``previous`` chain back from the current round when it reaches every one
    of them, else in the order given."""
    by_mid = {m.mid: (m, r) for m, r in previous}
    chain: list[tuple[Manifest, Results]] = []
    link = current[0].previous
    while link is not None and link.mid in by_mid and len(chain) < len(previous):
        found = by_mid[link.mid]
        chain.append(found)
        link = found[0].previous
    if len(chain) == len(previous) and len(by_mid) == len(previous):
        return [*reversed(chain), current]
    return [*previous, current]


def _audit(path: Path, workers: int | None) -> AuditReport:
    report = audit_record(path, workers=workers)
    if not report.passed:
        raise CheckFailed(t("report_audit_failed", path=path, checks=", ".join(report.failed())))
    return report


def _plans(path: Path, manifests: Sequence[Manifest]) -> PlanExport:
    if path.stat().st_size > MAX_PLANS_FILE:
        raise InputError(t("too_large", path=path, most=MAX_PLANS_FILE))
    value = parse_json(path.read_bytes())
    mid = value.get("round") if isinstance(value, dict) else None
    for manifest in manifests:
        if manifest.mid == mid:
            return PlanExport.from_json(value, manifest)
    raise InputError(t("plans_no_round", path=path))


@click.command()
@click.argument("record", type=click.Path(path_type=Path))
@click.option(
    "--previous",
    "previous",
    multiple=True,
    type=click.Path(path_type=Path),
    help="A record of an earlier round of the series (repeat for each).",
)
@click.option(
    "--plans",
    "plans_files",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="A plans.json of any of the rounds (repeat for each).",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Where to write the report (PDF).",
)
@click.option(
    "--xlsx",
    "xlsx_out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Also write the report as a workbook (.xlsx).",
)
@click.option(
    "--json",
    "json_out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Also write the counts of every round as JSON.",
)
@click.option(
    "--lang", type=click.Choice(["vi", "en"]), default="vi", show_default=True, help="Language."
)
@click.option("--workers", type=int, default=None, help="Audit worker processes (default: all).")
@clean_errors
def report(
    record: Path,
    previous: tuple[Path, ...],
    plans_files: tuple[Path, ...],
    out: Path,
    xlsx_out: Path | None,
    json_out: Path | None,
    lang: str,
    workers: int | None,
) -> None:
    """Write the standing committee's report of the round of RECORD (PDF, A4), after
    auditing every record given. Exit 0 written, 1 a record fails its audit, 2 bad input."""
    from anonballot.server.reports.committee import committee_view, render_committee_report
    from anonballot.server.reports.pdf import CSS_NAME, find_chromium, html_to_pdf
    from anonballot.server.reports.xlsx import committee_workbook

    paths = [*previous, record]
    for path in paths:  # not a whole record: exit 2 before anything else
        with Record(path) as whole:
            _whole(path, whole)
    find_chromium()  # before the audits: a missing program is known at once
    audits = [_audit(p, workers) for p in paths]
    rounds = [read_round(p) for p in paths]
    series = Series(order_rounds(rounds[-1], rounds[:-1]))
    plans = [_plans(p, series.manifests) for p in plans_files]

    html = render_committee_report(
        series=series, lang=lang, plans=plans, audits=audits, css_href=CSS_NAME
    )
    html_to_pdf(html, out)
    written = [str(out)]
    if xlsx_out is not None:
        from anonballot.server.i18n import Messages

        data = committee_workbook(committee_view(series, Messages(lang), plans, audits))
        xlsx_out.write_bytes(data)
        written.append(str(xlsx_out))
    if json_out is not None:
        text = json.dumps(series.to_summary_json(), ensure_ascii=False, indent=2)
        json_out.write_text(text + "\n", encoding="utf-8")
        written.append(str(json_out))
    say(
        "report_written", round=series.current.round_id, rounds=len(series.round_ids),
        subjects=len(series.current.subjects), files=", ".join(written),
    )  # fmt: skip


COMMANDS = (report,)
