"""The Long Biên demo district on a data directory: what ``anonballot demo`` sets up.

Made-up roster (30 to 80 participants per ward, placeholder names), a round open from now
for seven days, the invitation codes in ``invitations.csv``, the admin token in
``admin.token`` and the three demo trustees' key files under ``trustees/``. The trustee keys
are **demo keys without a passphrase**: a real round has each trustee make their own key.

Each demo trustee board also has a witness (protocol section 6.9): its key in
``witnesses/<trustee id>.key``, its state in ``witnesses/<trustee id>/``, named in the round's
manifest with the address ``http://127.0.0.1:<port>`` (the server's port plus 1, 2, 3 when
the demo was set up), two of three for the quorum. :func:`start_demo_witnesses` runs them in
threads of the demo's process, so the demo round's checkpoints carry cosignatures; a real
round's witnesses run on the trustee boards' own machines (docs/operations.md).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import random
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from anonballot.keyfile import write_private
from anonballot.testing import DEMO_TRUSTEES, demo_config, demo_roster_sizes, long_bien_district
from anonballot.trustee import TrusteeKey
from anonballot.witness import PolicyWitness, WitnessKey, WitnessPolicy

from .booth import booth_pins
from .roster import RosterEntry
from .service import Service
from .slips import slips_csv

__all__ = ["DEMO_ROUND", "DemoSetup", "setup_demo", "start_demo_witnesses"]

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


def setup_demo(
    data_dir: str | Path,
    *,
    key_bits: int = 3072,
    seed: int = 0,
    port: int = 8000,
    database: str | None = None,
) -> DemoSetup:
    """Set up (or find) the demo district and its open round in ``data_dir`` (and
    ``database``, a PostgreSQL URL, if given); the demo witnesses take the ports after
    ``port`` (the server's)."""
    data_dir = Path(data_dir)
    service = Service(data_dir, key_bits=key_bits, database=database)
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
        witnesses = _demo_witnesses(data_dir / "witnesses", [t.id for t in trustees], port)
        service.create_round(dataclasses.replace(config, witnesses=witnesses))
        invitations = service.make_invitations(DEMO_ROUND)
        rows = [{"ward": i.ward, "participant": i.participant, "code": i.code} for i in invitations]
        write_private(paths.invitations, slips_csv(rows))  # as `anonballot invitations` does
        service.round(DEMO_ROUND).open(booth=booth_pins(DEMO_ROUND))
    finally:
        service.close()
    return DemoSetup(**{**paths.__dict__, "created": True})


def _witness_name(trustee_id: str) -> str:
    return f"nhan-chung.{trustee_id}.demo"


def _demo_witnesses(folder: Path, trustee_ids: list[str], port: int) -> WitnessPolicy:
    """A witness key for each demo trustee board (written under ``folder``), as a policy."""
    listed = []
    for i, trustee_id in enumerate(trustee_ids, start=1):
        key = WitnessKey.generate(_witness_name(trustee_id))
        write_private(folder / f"{trustee_id}.key", key.private_text())
        listed.append(PolicyWitness(key.verifier, f"http://127.0.0.1:{port + i}"))
    return WitnessPolicy(tuple(listed), quorum=min(2, len(listed)))


@contextlib.contextmanager
def start_demo_witnesses(data_dir: str | Path, database: str | None = None) -> Iterator[list[str]]:
    """Run the demo round's witnesses (those its manifest names whose keys are under
    ``data_dir/witnesses``) in threads, each at its address's port on 127.0.0.1; yields
    their addresses. Nothing when the round names none (a demo set up before witnesses)."""
    import uvicorn

    from .witness import SqliteWitnessStore, create_witness_app

    data_dir = Path(data_dir)
    service = Service(data_dir, database=database)
    try:
        manifest = service.round(DEMO_ROUND).manifest
    finally:
        service.close()
    policy = manifest.witnesses
    keys = {}
    for path in sorted((data_dir / "witnesses").glob("*.key")):
        key = WitnessKey.from_private_text(path.read_text(encoding="utf-8"))
        keys[key.name] = (key, path.with_suffix(""))
    servers, stores, urls = [], [], []
    try:
        for witness in policy.witnesses if policy is not None else ():
            if witness.name not in keys:
                continue
            key, state = keys[witness.name]
            store = SqliteWitnessStore(state)
            stores.append(store)
            app = create_witness_app(key, {manifest.origin: manifest.log_key}, store)
            port = urlsplit(witness.url).port or 80
            config = uvicorn.Config(
                app, host="127.0.0.1", port=port, access_log=False, log_level="warning"
            )
            server = uvicorn.Server(config)
            thread = threading.Thread(target=server.run, name=f"witness-{port}", daemon=True)
            thread.start()
            servers.append((server, thread))
            urls.append(witness.url)
        yield urls
    finally:
        for server, _ in servers:
            server.should_exit = True
        for _, thread in servers:
            thread.join(10)
        for store in stores:
            store.close()
