"""``anonballot audit``: check a round record (a folder, a .zip or a server's URL)."""

from __future__ import annotations

import contextlib
import json
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

from anonballot.audit import audit_record, render_report
from anonballot.encoding import check_id
from anonballot.errors import InputError

from .common import ApiError, access_token_option, api_error, clean_errors, read_access_token

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
    max_size: int, access_token_file: Path | None,
) -> None:  # fmt: skip
    """Check a round record: A1 to A12. Exit 0 pass, 1 fail, 2 bad input.

    RECORD is a folder, a .zip, or a URL: a server's URL with --round ROUND, or the URL of
    a round (.../api/rounds/ROUND) or of its record (.../api/rounds/ROUND/record). A URL's
    record is downloaded first. A restricted round's full record needs an access token
    (--access-token-file or ANONBALLOT_ACCESS_TOKEN); without one, its public part is
    downloaded and audited: A1 to A9, and A10 to A12 are reported as not checked.
    """
    source = click.get_current_context().get_parameter_source("max_size")
    if not record.startswith(("http://", "https://")):
        if round_id is not None or save is not None:
            raise InputError("--round and --save go with a URL")
        if access_token_file is not None:
            raise InputError("--access-token-file goes with a URL")
        if source is not click.core.ParameterSource.DEFAULT:
            raise InputError("--max-size goes with a URL")
        _audit(Path(record), as_json, workers)
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
            click.echo(
                "note: kết quả của đợt này không công khai; kiểm tra phần công khai của hồ sơ "
                "(A1 đến A9), A10 đến A12 cần mã truy cập (--access-token-file). The results "
                "of this round are restricted: auditing the public part of the record (A1 "
                "to A9); A10 to A12 need an access token (--access-token-file).",
                err=True,
            )
            url += "?part=public"
            download(url, path, None, limit)
        click.echo(f"downloaded {url} ({path.stat().st_size} bytes)", err=True)
        if save is not None:
            import shutil

            shutil.copyfile(path, save)
            click.echo(f"record saved to {save}", err=True)
        _audit(path, as_json, workers)


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
        status = answer.status_code
        if 300 <= status < 400:
            raise transfer.redirect_error(answer)
        if status >= 400:
            body = transfer.receive(answer, transfer.MAX_ERROR_ANSWER, "the error answer")
            raise api_error(status, body)
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


def _audit(record: Path, as_json: bool, workers: int | None) -> None:
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
    if as_json:
        click.echo(json.dumps(report.to_json(), ensure_ascii=False, indent=2))
    else:
        click.echo(render_report(report))
    sys.exit(0 if report.passed else 1)


def _board_size(record: Path) -> int:
    for candidate in (
        (record / "board.jsonl", *record.glob("*/board.jsonl")) if record.is_dir() else ()
    ):
        if candidate.is_file():
            return candidate.stat().st_size
    return record.stat().st_size if record.is_file() else 0


COMMANDS: tuple[click.Command, ...] = (audit,)
"""The commands this module adds to ``anonballot`` (cli/main.py adds them)."""
