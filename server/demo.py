"""The Long Biên demo district on a data directory: what ``anonballot demo`` sets up.

Made-up roster (30 to 80 participants per ward, placeholder names), a round open from now
for seven days, the invitation codes in ``invitations.csv``, the admin token in
``admin.token`` and the three demo trustees' key files under ``trustees/``. The trustee keys
are **demo keys without a passphrase**: a real round has each trustee make their own key.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

from anonballot.keyfile import write_private
from anonballot.testing import DEMO_TRUSTEES, demo_config, demo_roster_sizes, long_bien_district
from anonballot.trustee import TrusteeKey

from .booth import booth_pins
from .roster import RosterEntry
from .service import Service
from .slips import slips_csv

__all__ = ["DEMO_ROUND", "DemoSetup", "setup_demo"]

DEMO_ROUND = "long-bien-demo"
POSITIONS = (
    "Cán bộ, công chức phường",
    "Bí thư chi bộ",
    "Tổ trưởng tổ dân phố",
    "Trưởng ban công tác mặt trận",
)


@dataclass(frozen=True)
class DemoSetup:
    data_dir: Path
    round_id: str
    invitations: Path
    token_file: Path
    trustees_dir: Path
    created: bool
    """False when the data directory already held the demo round (it is reused)."""


def setup_demo(data_dir: str | Path, *, key_bits: int = 3072, seed: int = 0) -> DemoSetup:
    """Set up (or find) the demo district and its open round in ``data_dir``."""
    data_dir = Path(data_dir)
    service = Service(data_dir, key_bits=key_bits)
    paths = DemoSetup(
        data_dir,
        DEMO_ROUND,
        data_dir / "invitations.csv",
        data_dir / "admin.token",
        data_dir / "trustees",
        created=False,
    )
    try:
        if any(rid == DEMO_ROUND for rid, _ in service.round_ids()):
            return paths
        write_private(paths.token_file, service.new_admin_token() + "\n")
        district = long_bien_district()
        service.set_district(district)
        rng = random.Random(seed)  # noqa: S311 (made-up names, not secrets)
        entries = [
            RosterEntry(ward, f"Người tham gia {ward} {n:03d}", rng.choice(POSITIONS))
            for ward, size in demo_roster_sizes(seed).items()
            for n in range(1, size + 1)
        ]
        service.import_roster(entries)
        trustees = [TrusteeKey.generate(tid) for tid, _ in DEMO_TRUSTEES]
        for key in trustees:
            write_private(
                paths.trustees_dir / f"{key.id}.json",
                json.dumps({"demo_key_no_passphrase": True, "key": key.to_json()}, indent=2),
            )
        config, _ = demo_config(wards=len(district.wards), trustees=trustees, round_id=DEMO_ROUND)
        service.create_round(config)
        invitations = service.make_invitations(DEMO_ROUND)
        rows = [{"ward": i.ward, "participant": i.participant, "code": i.code} for i in invitations]
        write_private(paths.invitations, slips_csv(rows))  # as `anonballot invitations` does
        service.round(DEMO_ROUND).open(booth=booth_pins(DEMO_ROUND))
    finally:
        service.close()
    return DemoSetup(**{**paths.__dict__, "created": True})
