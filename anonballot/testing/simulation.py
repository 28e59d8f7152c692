"""Random honest answers, and a whole round of the Long Biên demo district, in-process,
written as a round record (``anonballot simulate``).

Honest participants with random ratings and some Vietnamese comments; a few issue a token
and never cast; two of the three trustees release. The answers are reproducible from
``seed``; keys and blinding are always fresh randomness.

Every simulated round rates the same demo district with the same subject ids, so two
simulated rounds with different ``round_id`` make a series; ``previous`` links the second
to the first as ``round clone`` does on a server.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..codes import generate_code
from ..encoding import JSONValue
from ..engine import Round
from ..errors import InputError
from ..manifest import PUBLIC, Manifest, PreviousRound
from ..participant import Participant
from ..record import write_record
from ..signing import SigningKey
from ..storage import MemoryStore
from ..trustee import TrusteeKey
from .district import DEMO_TRUSTEES, demo_config

__all__ = ["COMMENTS", "SimulationSummary", "random_answers", "simulate"]

COMMENTS = (
    "Gương mẫu, gần dân, giải quyết công việc kịp thời.",
    "Cần quan tâm hơn đến vệ sinh môi trường ở các tổ dân phố.",
    "Đề nghị tổ chức tiếp dân định kỳ vào cuối tuần.",
    "Tác phong làm việc nghiêm túc, đúng giờ.",
    "Còn chậm trong việc xử lý đơn thư của người dân.",
    "Đoàn kết tốt với tập thể cấp ủy.",
    "Nên công khai hơn các khoản thu chi của phường.",
    "  Cần lắng nghe ý kiến của tổ trưởng tổ dân phố nhiều hơn.  ",
)


def random_answers(
    manifest: Manifest, ward: str, rng: random.Random
) -> dict[str, dict[str, JSONValue]]:
    """Honest random answers for every subject of ``ward``, with some comments."""
    q = manifest.questionnaire
    levels = list(q.answer_ids)
    weights = [5, 4, 2, 1] + [1] * (len(levels) - 4) if len(levels) >= 4 else [1] * len(levels)
    answers: dict[str, dict[str, JSONValue]] = {}
    for subject in manifest.subjects_of(ward):
        ratings: dict[str, JSONValue] = {c.id: rng.choices(levels, weights)[0] for c in q.criteria}
        comments: dict[str, JSONValue] = {}
        for field in q.comments:
            if rng.random() < 0.2:
                comments[field.id] = rng.choice(COMMENTS)
        answers[subject.id] = {"ratings": ratings, "comments": comments}
    return answers


@dataclass(frozen=True)
class SimulationSummary:
    record: Path
    round_id: str
    mid: str
    wards: int
    eligible: int
    issued: int
    cast: int
    invalid: int
    trustees_released: list[str]


def simulate(
    out: str | os.PathLike[str],
    *,
    wards: int = 14,
    voters: int = 50,
    trustees: int = 3,
    threshold: int = 2,
    key_bits: int = 3072,
    seed: int | None = None,
    round_id: str = "long-bien-demo",
    results_access: str = PUBLIC,
    previous: PreviousRound | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SimulationSummary:
    """Run a whole round in-process and write its record to ``out`` (folder or ``.zip``).

    The record is always the whole record, releases and results included, whatever
    ``results_access`` the manifest states. The default is public: the simulation hands
    everything it made to whoever runs it, and a manifest saying "restricted" over a record
    published whole would describe another round.
    """
    if not 1 <= trustees <= len(DEMO_TRUSTEES):
        raise InputError(f"--trustees: expected 1..{len(DEMO_TRUSTEES)}, found {trustees}")
    if not 1 <= threshold <= trustees:
        raise InputError(f"--threshold: expected 1..{trustees}, found {threshold}")
    if voters < 1:
        raise InputError("--voters: expected at least 1")
    rng = random.Random(seed)  # noqa: S311 (simulated answers, not secrets)
    trustee_keys = [TrusteeKey.generate(tid) for tid, _ in DEMO_TRUSTEES[:trustees]]
    config, _ = demo_config(
        wards=wards, trustees=trustee_keys, threshold=threshold, round_id=round_id,
        results_access=results_access, previous=previous,
    )  # fmt: skip
    engine = Round.create(MemoryStore(), config, organizer=SigningKey.generate(), key_bits=key_bits)
    roster = [(generate_code(), ward.id) for ward in config.district.wards for _ in range(voters)]
    engine.add_invitations(roster)
    signed = engine.open()
    manifest = engine.manifest
    issued = cast = 0
    for n, (code, ward) in enumerate(roster, start=1):
        behaviour = rng.random()
        if behaviour >= 0.04:  # below: never takes part
            participant = Participant(signed, engine.ward_for_code(code))
            participant.finish_token(engine.issue(code, participant.request_token()))
            issued += 1
            if behaviour >= 0.08:  # below: collects a token and never casts
                leaf = participant.make_leaf(random_answers(manifest, ward, rng))
                participant.check_receipt(engine.cast(leaf).to_json())
                cast += 1
        # after every roster entry, cast or not, so that progress reaches the roster's end
        if progress is not None:
            progress(n, len(roster))
    engine.close()
    releasing = trustee_keys[: max(threshold, min(2, trustees))]
    for key in releasing:
        engine.add_release(key.release(engine.mid))
    results = engine.tally()
    path = write_record(out, config.round_id, engine.record_files(), engine.board_leaves())
    return SimulationSummary(
        record=path,
        round_id=config.round_id,
        mid=engine.mid,
        wards=wards,
        eligible=len(roster),
        issued=issued,
        cast=cast,
        invalid=len(results.invalid),
        trustees_released=[k.id for k in releasing],
    )
