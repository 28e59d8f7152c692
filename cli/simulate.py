"""``anonballot simulate``: a whole simulated round of the demo district, written as a record."""

from __future__ import annotations

from pathlib import Path

import click

from anonballot.errors import InputError
from anonballot.testing import simulate as run_simulation

from .common import clean_errors


@click.command()
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
        # an InputError, not click.UsageError: errors are one line, never a usage block
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


COMMANDS: tuple[click.Command, ...] = (simulate,)
"""The commands this module adds to ``anonballot`` (cli/main.py adds them)."""
