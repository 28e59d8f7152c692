"""``anonballot simulate``: a whole simulated round of the demo district, written as a record."""

from __future__ import annotations

from pathlib import Path

import click

from anonballot.encoding import parse_json
from anonballot.errors import AnonBallotError, InputError
from anonballot.manifest import PUBLIC, RESULTS_ACCESS, Manifest, PreviousRound
from anonballot.record import Record
from anonballot.testing import simulate as run_simulation

from .common import clean_errors, say, t


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
@click.option(
    "--round-id",
    default="long-bien-demo",
    show_default=True,
    help="The round's id: two simulated rounds with different ids make a series.",
)
@click.option(
    "--previous",
    "previous_record",
    type=click.Path(path_type=Path),
    default=None,
    help="An earlier simulated record (folder or .zip) this round follows in the series.",
)
@click.option(
    "--results-access",
    type=click.Choice(RESULTS_ACCESS),
    default=PUBLIC,
    show_default=True,
    help="What the manifest states; the whole record is written either way.",
)
@click.option("--force", is_flag=True, help="Replace an existing record at --out.")
@clean_errors
def simulate(
    out: Path, wards: int, voters: int, trustees: int, threshold: int, key_bits: int,
    seed: int | None, round_id: str, previous_record: Path | None, results_access: str,
    force: bool,
) -> None:  # fmt: skip
    """Run a whole simulated round of the Long Biên demo district and write its record.

    Every simulated round rates the same people (the demo district's subject ids), so rounds
    with different --round-id make a series; --previous RECORD links this one to an earlier
    one (its manifest's previous member names that round's round_id and mid).
    """
    if out.exists() and not force:
        # an InputError, not click.UsageError: errors are one line, never a usage block
        raise InputError(t("exists", path=out), code="exists")
    previous = _previous_round(previous_record, round_id) if previous_record else None
    summary = run_simulation(
        out, wards=wards, voters=voters, trustees=trustees, threshold=threshold,
        key_bits=key_bits, seed=seed, round_id=round_id, results_access=results_access,
        previous=previous,
    )  # fmt: skip
    say(
        "simulated", round=summary.round_id, wards=summary.wards, eligible=summary.eligible,
        issued=summary.issued, cast=summary.cast, invalid=summary.invalid,
        trustees=", ".join(summary.trustees_released),
    )  # fmt: skip
    if previous is not None:
        say("follows", round=previous.round_id, mid=previous.mid)
    say("simulated_record", path=summary.record)


def _previous_round(record: Path, round_id: str) -> PreviousRound:
    """The round of the record at ``record``, as this round's predecessor."""
    try:
        with Record(record) as r:
            manifest = Manifest.from_signed(parse_json(r.read("manifest.json")))
    except AnonBallotError as exc:
        raise InputError(f"--previous {record}: {exc.detail}", code=exc.code) from exc
    if manifest.round_id == round_id:
        raise InputError(t("previous_itself", path=record, round=round_id))
    return PreviousRound(manifest.round_id, manifest.mid)


COMMANDS: tuple[click.Command, ...] = (simulate,)
"""The commands this module adds to ``anonballot`` (cli/main.py adds them)."""
