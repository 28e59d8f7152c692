"""The ``anonballot`` command: argument parsing plus one library call per command.

Errors print one line and exit 1 (a check failed) or 2 (unusable input); never a traceback.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

from anonballot.audit import audit_record, render_report
from anonballot.errors import InputError
from anonballot.simulate import simulate as run_simulation

from .common import clean_errors

LARGE_BOARD = 8 * 1024 * 1024
"""Boards larger than this get a progress bar (on a terminal)."""


@click.group()
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
@click.argument("record", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the structured report as JSON.")
@click.option("--workers", type=int, default=None, help="Worker processes (default: all cores).")
@clean_errors
def audit(record: Path, as_json: bool, workers: int | None) -> None:
    """Check a round record (folder or .zip): A1 to A12. Exit 0 pass, 1 fail, 2 bad input."""
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
from . import serving  # noqa: E402, F401

if __name__ == "__main__":  # pragma: no cover
    main()
