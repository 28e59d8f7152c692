"""The ``anonballot`` command: argument parsing plus one library call per command.

Errors print one line and exit 1 (a check failed) or 2 (unusable input); never a traceback.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

from anonballot.audit import audit_record, render_report
from anonballot.encoding import check_id
from anonballot.errors import InputError
from anonballot.testing import simulate as run_simulation

from .common import api_error, clean_errors

LARGE_BOARD = 8 * 1024 * 1024
"""Boards larger than this get a progress bar (on a terminal)."""


class OneLineErrors(click.Group):
    """The ``anonballot`` group: a usage error is one line and exit status 2, like every
    other error of the command (click would print the usage block first)."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        if not kwargs.get("standalone_mode", True):
            return super().main(*args, **kwargs)
        try:
            return super().main(*args, **{**kwargs, "standalone_mode": False})
        except click.UsageError as exc:
            hint = f" (see: {exc.ctx.command_path} --help)" if exc.ctx is not None else ""
            click.echo(f"error: {exc.format_message()}{hint}", err=True)
            sys.exit(2)
        except click.ClickException as exc:
            click.echo(f"error: {exc.format_message()}", err=True)
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("error: aborted", err=True)
            sys.exit(1)


@click.group(cls=OneLineErrors)
@click.version_option(package_name="anonballot")
def main() -> None:
    """anonballot: anonymous, verifiable e-ballots."""


@main.command()
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(path_type=Path),
    help="Where to write the round record: a folder, or a file ending in .zip.",
)
@click.option("--wards", default=14, show_default=True, help="How many demo wards take part.")
@click.option("--voters", default=50, show_default=True, help="Participants per ward.")
@click.option("--trustees", default=3, show_default=True, help="How many trustees.")
@click.option("--threshold", default=2, show_default=True, help="Releases needed to open.")
@click.option("--key-bits", default=3072, show_default=True, help="RSA issuer key size.")
@click.option("--seed", type=int, default=None, help="Make the answers reproducible.")
@click.option("--force", is_flag=True, help="Replace an existing record at --out.")
@clean_errors
def simulate(
    out: Path, wards: int, voters: int, trustees: int, threshold: int, key_bits: int,
    seed: int | None, force: bool,
) -> None:  # fmt: skip
    """Run a whole simulated round of the Long Biên demo district and write its record."""
    if out.exists() and not force:
        # fix: click.UsageError printed a usage block of four lines; errors are one line
        raise InputError(f"{out} exists; use --force to replace it", code="exists")
    summary = run_simulation(
        out, wards=wards, voters=voters, trustees=trustees, threshold=threshold,
        key_bits=key_bits, seed=seed,
    )  # fmt: skip
    click.echo(
        f"round {summary.round_id}: {summary.wards} wards, {summary.eligible} eligible, "
        f"{summary.issued} tokens issued, {summary.cast} ballots cast "
        f"({summary.invalid} invalid); released by {', '.join(summary.trustees_released)}"
    )
    click.echo(f"record written to {summary.record}")


@main.command()
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
@clean_errors
def audit(
    record: str, as_json: bool, workers: int | None, round_id: str | None, save: Path | None
) -> None:
    """Check a round record: A1 to A12. Exit 0 pass, 1 fail, 2 bad input.

    RECORD is a folder, a .zip, or a URL: a server's URL with --round ROUND, or the URL of
    a round (.../api/rounds/ROUND) or of its record (.../api/rounds/ROUND/record). A URL's
    record is downloaded first.
    """
    if not record.startswith(("http://", "https://")):
        if round_id is not None or save is not None:
            raise InputError("--round and --save go with a URL")
        _audit(Path(record), as_json, workers)
        return
    import tempfile

    url = record_url(record, round_id)
    with tempfile.TemporaryDirectory(prefix="anonballot-audit-") as tmp:
        path = Path(tmp) / "record.zip"
        download(url, path)
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


def download(url: str, dest: Path) -> None:
    """Stream ``url`` into ``dest``; the server's refusal becomes an :class:`ApiError`."""
    import httpx

    with httpx.stream("GET", url, timeout=60) as answer:
        if answer.status_code >= 400:
            raise api_error(answer.status_code, answer.read())
        with dest.open("wb") as out:
            for chunk in answer.iter_bytes(1024 * 1024):
                out.write(chunk)


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
    sys.exit(report.exit_status)


def _board_size(record: Path) -> int:
    for candidate in (
        (record / "board.jsonl", *record.glob("*/board.jsonl")) if record.is_dir() else ()
    ):
        if candidate.is_file():
            return candidate.stat().st_size
    return record.stat().st_size if record.is_file() else 0


# The other commands register themselves on ``main`` when their modules load.
from . import organizer, participant, serving, trustee  # noqa: E402, F401
