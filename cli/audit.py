"""``anonballot audit``: check a round record (a folder, a .zip or a server's URL)."""

from __future__ import annotations

import contextlib
import json
import signal
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

from anonballot.audit import AuditReport, SlipsCheck, audit_record, check_slips, span
from anonballot.encoding import check_id, parse_json
from anonballot.errors import InputError
from anonballot.manifest import Manifest
from anonballot.record import Record

from .common import (
    ApiError,
    access_token_option,
    api_error,
    clean_errors,
    current_lang,
    read_access_token,
    say,
    t,
)

MAX_SLIPS_FILE = 32 * 1024 * 1024
"""A slips.csv of a whole country (a million codes) is about 40 MB: a district's is small."""

LARGE_BOARD = 8 * 1024 * 1024
"""Boards larger than this get a progress bar (on a terminal)."""
MAX_RECORD_MIB = 2048
"""The largest record downloaded by default, in MiB (``--max-size``): a district of 200,000
participants makes a record of about 1 GiB."""


@click.command()
@click.argument("record")
@click.option("--json", "as_json", is_flag=True, help="Print the structured report as JSON.")
@click.option("--workers", type=int, default=None, help="Worker processes (default: all cores).")
@click.option(
    "--round",
    "round_id",
    default=None,
    help="With a server's URL: the round whose record to download.",
)
@click.option(
    "--save",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="With a URL: also keep the downloaded record (.zip) here.",
)
@click.option(
    "--slips",
    "slips_file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="The printed codes (slips.csv: ward,participant,code): check that every pseudonym in "
    "the issuance ledger is a printed code, and list the codes never used.",
)
@click.option(
    "--max-size",
    "max_size",
    type=click.IntRange(min=1),
    default=MAX_RECORD_MIB,
    show_default=True,
    help="With a URL: the largest record downloaded, in MiB.",
)
@access_token_option
@clean_errors
def audit(
    record: str, as_json: bool, workers: int | None, round_id: str | None, save: Path | None,
    slips_file: Path | None, max_size: int, access_token_file: Path | None,
) -> None:  # fmt: skip
    """Check a round record: A1 to A13. Exit 0 pass, 1 fail, 2 bad input.

    RECORD is a folder, a .zip, or a URL: a server's URL with --round ROUND, or the URL of
    a round (.../api/rounds/ROUND) or of its record (.../api/rounds/ROUND/record). A URL's
    record is downloaded first. A restricted round's full record needs an access token
    (--access-token-file or ANONBALLOT_ACCESS_TOKEN); without one, its public part is
    downloaded and audited: A1 to A9 and A13, and A10 to A12 are reported as not checked.

    With --slips, the printed codes are checked against the issuance ledger (the codes stay
    on this machine): a pseudonym of no printed code fails the audit (exit 1).
    """
    slips = _read_slips(slips_file) if slips_file is not None else None
    source = click.get_current_context().get_parameter_source("max_size")
    if not record.startswith(("http://", "https://")):
        if round_id is not None or save is not None:
            raise InputError("--round and --save go with a URL")
        if access_token_file is not None:
            raise InputError("--access-token-file goes with a URL")
        if source is not click.core.ParameterSource.DEFAULT:
            raise InputError("--max-size goes with a URL")
        _audit(Path(record), as_json, workers, slips)
        return
    import tempfile

    url = record_url(record, round_id)
    token = read_access_token(access_token_file)
    limit = max_size * 1024 * 1024
    # The downloaded record is removed on every way out: an error, Ctrl-C, and a SIGTERM,
    # made to unwind like Ctrl-C while the folder exists.
    with _terminate_unwinds(), tempfile.TemporaryDirectory(prefix="anonballot-audit-") as tmp:
        path = Path(tmp) / "record.zip"
        try:
            download(url, path, token, limit)
        except ApiError as exc:
            if exc.code != "restricted" or token is not None:
                raise
            # protocol section 9.2: the public part proves A1 to A9 without the results
            say("audit_restricted", err=True)
            url += "?part=public"
            download(url, path, None, limit)
        say("audit_downloaded", url=url, size=path.stat().st_size, err=True)
        if save is not None:
            import shutil

            shutil.copyfile(path, save)
            say("audit_saved", path=save, err=True)
        _audit(path, as_json, workers, slips)


def record_url(url: str, round_id: str | None) -> str:
    """The record's URL from a server URL and ``--round``, or a round's or record's URL."""
    import re
    import urllib.parse

    parts = urllib.parse.urlsplit(url)
    if parts.query or parts.fragment:
        raise InputError(f"{url}: expected a URL without ? or #")
    path = parts.path.rstrip("/")
    match = re.fullmatch(r"(?P<base>.*)/api/rounds/(?P<id>[^/]+)(?:/record)?", path)
    if match:
        found = urllib.parse.unquote(match["id"])
        if round_id is not None and round_id != found:
            raise InputError(f"the URL names round {found}, --round names {round_id}")
        base, round_id = match["base"], found
    elif round_id is None:
        raise InputError(
            "with a server's URL, name the round: --round ROUND "
            "(or give .../api/rounds/ROUND/record)"
        )
    else:
        base = path
    check_id(round_id, "round")
    return urllib.parse.urlunsplit(
        (parts.scheme, parts.netloc, f"{base}/api/rounds/{round_id}/record", "", "")
    )


def download(url: str, dest: Path, token: str | None, limit: int) -> None:
    """Stream ``url`` into ``dest``, at most ``limit`` bytes, within the bounds of
    :mod:`.transfer`; the server's refusal becomes an :class:`ApiError`."""
    from . import transfer

    headers = {"authorization": f"Bearer {token}"} if token else {}
    with transfer.client(headers=headers) as http, http.stream("GET", url) as answer:
        transfer.refuse_unless_ok(answer, api_error)
        with dest.open("wb") as out:
            what = f"the record (--max-size {limit // (1024 * 1024)} MiB)"
            transfer.receive(answer, limit, what, out)


@contextlib.contextmanager
def _terminate_unwinds() -> Iterator[None]:
    """While inside: SIGTERM raises SystemExit (status 143) in the main thread, as Ctrl-C
    raises KeyboardInterrupt, so that every ``with`` block unwinds and cleans up."""

    def unwind(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    try:
        previous = signal.signal(signal.SIGTERM, unwind)
    except ValueError:  # not the main thread: the caller's signals are not ours to change
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _read_slips(path: Path) -> list[tuple[str, str, str]]:
    """``slips.csv`` as ``anonballot invitations`` writes it: ward, participant, code."""
    import csv
    import io

    if path.stat().st_size > MAX_SLIPS_FILE:
        raise InputError(t("slips_too_large", path=path, most=MAX_SLIPS_FILE))
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(t("slips_not_utf8", path=path)) from exc
    rows = list(csv.DictReader(io.StringIO(text)))
    if not rows or not {"ward", "participant", "code"} <= set(rows[0]):
        raise InputError(t("slips_columns", path=path))
    return [(r["ward"] or "", r["participant"] or "", r["code"] or "") for r in rows]


def _audit(
    record: Path, as_json: bool, workers: int | None,
    slips: list[tuple[str, str, str]] | None = None,
) -> None:  # fmt: skip
    console = Console(stderr=True)
    if console.is_terminal and not as_json and _board_size(record) > LARGE_BOARD:
        with Progress(
            "[progress.description]{task.description}", BarColumn(), DownloadColumn(),
            TimeRemainingColumn(), console=console, transient=True,
        ) as bar:  # fmt: skip
            task = bar.add_task("auditing board", total=None)
            report = audit_record(
                record, workers=workers,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )  # fmt: skip
    else:
        report = audit_record(record, workers=workers)
    checked = check_slips(record, slips) if slips is not None else None
    passed = report.passed and (checked is None or checked.passed)
    if as_json:
        value = report.to_json(streamed=True)  # the comments written from disk
        if checked is not None:
            value["slips"] = {
                "passed": checked.passed, "printed": checked.printed, "used": checked.used,
                "unknown": dict(checked.unknown), "unused": {w: list(p) for w, p in
                                                             checked.unused.items()},
            }  # fmt: skip
        out = sys.stdout
        for piece in json.JSONEncoder(ensure_ascii=False, indent=2).iterencode(value):
            out.write(piece)
        out.write("\n")
    else:
        manifest = _manifest(record)
        lines = _render_checks(report)
        if report.recomputed is not None and manifest is not None:
            # the counts only: the comments stay on disk
            lines += _plain_results(report.recomputed.counts.to_json(), manifest)
        if checked is not None:
            lines += _render_slips(checked, manifest)
        lines += _verdict(report, checked)
        click.echo("\n".join(lines))
    sys.exit(0 if passed else 1)


def _manifest(record: Path) -> Manifest | None:
    try:
        with Record(record) as opened:
            return Manifest.from_signed(parse_json(opened.read("manifest.json")))
    except Exception:  # the audit above has said what is wrong with it
        return None


def _render_checks(report: AuditReport) -> list[str]:
    """Each check in plain words with its mark, and what failed (the detail is technical)."""
    lines = [t("audit_of", record=report.record)]
    if report.round_id:
        lines.append(t("audit_round", round=report.round_id, mid=report.mid))
    for check in report.checks.values():
        counts = ", ".join(f"{t('count.' + k)} {v}" for k, v in check.counts.items())
        mark = t(f"audit_{check.status}")
        lines.append(f"{check.id:>4} {mark}  {t('check.' + check.id)}"
                     + (f"  [{counts}]" if counts else ""))  # fmt: skip
        for key, names in check.names.items():  # A13: the witnesses that cosigned
            lines.append(f"        {t('count.' + key)}: {', '.join(names) or '-'}")
        if not check.checked:
            lines.append("        " + t("audit_needs_confidential"))
        elif not check.passed or check.id == "A11":  # A11 lists the ballots that do not count
            for failure in check.failures[:10]:
                where = (
                    t("audit_leaf", n=failure["leaf_index"]) if "leaf_index" in failure
                    else str(failure.get("file", ""))
                )  # fmt: skip
                lines.append(f"        {where}: {failure['detail']}".rstrip())
            hidden = check.failure_count - min(len(check.failures), 10)
            if not check.passed and hidden > 0:
                lines.append("        " + t("audit_more", n=hidden))
    return lines


def _verdict(report: AuditReport, checked: SlipsCheck | None) -> list[str]:
    """The last line says it all: the checks that failed, or that all passed."""
    skipped = report.not_checked()
    failed = report.failed() + (["slips"] if checked is not None and not checked.passed else [])
    if failed:
        return [t("audit_verdict_failed", checks=", ".join(failed))]
    if skipped:
        ran = [cid for cid in report.checks if cid not in skipped]
        return [
            t("audit_verdict_partial", ran=span(ran, t("to")), skipped=span(skipped, t("to"))),
            t("audit_public_part", skipped=span(skipped, t("to"))),
        ]
    return [t("audit_verdict_passed")]


def _plain_results(results: Mapping[str, Any], manifest: Manifest) -> list[str]:
    """The recomputed results in plain words: per ward its ballots, per person rated the
    ratings over every criterion (the full counts are in results.json and --json)."""
    lang = current_lang()

    def label(value: dict[str, str]) -> str:
        return value.get(lang) or value["vi"]

    q = manifest.questionnaire
    levels = [(s.id, label(s.label)) for s in q.scale]
    if q.abstain is not None:
        levels.append((q.abstain.id, label(q.abstain.label)))
    lines = ["", t("plain_heading")]
    wards = results.get("wards") or {}
    subjects = results.get("subjects") or {}
    for ward in manifest.wards:
        w = wards.get(ward.id) or {}
        lines.append(t(
            "plain_ward", ward=label(ward.name), valid=w.get("valid", 0),
            invalid=w.get("invalid", 0), issued=w.get("issued", 0), eligible=w.get("eligible", 0),
        ))  # fmt: skip
        for subject in manifest.subjects_of(ward.id):
            counts = subjects.get(subject.id) or {}
            criteria = counts.get("criteria") or {}
            total = {level: sum(c.get(level, 0) for c in criteria.values()) for level, _ in levels}
            shown = ", ".join(f"{name} {total[level]}" for level, name in levels)
            lines.append(t(
                "plain_subject", name=label(subject.name), levels=shown,
                ratings=sum(total.values()), ballots=counts.get("ballots", 0),
            ))  # fmt: skip
    return [*lines, ""]


def _render_slips(checked: SlipsCheck, manifest: Manifest | None) -> list[str]:
    names = {w.id: (w.name.get(current_lang()) or w.name["vi"]) for w in manifest.wards} if (
        manifest is not None
    ) else {}  # fmt: skip
    lines = ["", t("slips_heading", printed=checked.printed, used=checked.used)]
    for ward, count in checked.unknown.items():
        if count:
            lines.append("  " + t("slips_unknown", ward=names.get(ward, ward), n=count))
    for ward, labels in checked.unused.items():
        if labels:
            lines.append("  " + t("slips_unused", ward=names.get(ward, ward), n=len(labels),
                                  labels=", ".join(labels[:20]) + (" ..." if len(labels) > 20
                                                                   else "")))  # fmt: skip
    lines.append(t("slips_passed") if checked.passed else t("slips_failed"))
    return [*lines, ""]


def _board_size(record: Path) -> int:
    for candidate in (
        (record / "board.jsonl", *record.glob("*/board.jsonl")) if record.is_dir() else ()
    ):
        if candidate.is_file():
            return candidate.stat().st_size
    return record.stat().st_size if record.is_file() else 0


COMMANDS: tuple[click.Command, ...] = (audit,)
"""The commands this module adds to ``anonballot`` (cli/main.py adds them)."""
