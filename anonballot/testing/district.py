"""The Long Biên demo district (product.md), its trustees and a demo round configuration.

The people rated in the demo district have placeholder names, never real people's names.
"""

from __future__ import annotations

import datetime as dt
import random

from ..district import District, Role, Subject, Ward
from ..errors import InputError
from ..manifest import RESTRICTED, PreviousRound, RoundConfig, Window
from ..questionnaire import default_questionnaire
from ..trustee import TrusteeKey

__all__ = [
    "DEMO_TRUSTEES",
    "LONG_BIEN_WARDS",
    "ROLES",
    "demo_config",
    "demo_roster_sizes",
    "long_bien_district",
]

LONG_BIEN_WARDS: tuple[tuple[str, str], ...] = (
    ("bo-de", "Bồ Đề"),
    ("cu-khoi", "Cự Khối"),
    ("duc-giang", "Đức Giang"),
    ("gia-thuy", "Gia Thụy"),
    ("giang-bien", "Giang Biên"),
    ("long-bien", "Long Biên"),
    ("ngoc-lam", "Ngọc Lâm"),
    ("ngoc-thuy", "Ngọc Thụy"),
    ("phuc-dong", "Phúc Đồng"),
    ("phuc-loi", "Phúc Lợi"),
    ("sai-dong", "Sài Đồng"),
    ("thach-ban", "Thạch Bàn"),
    ("thuong-thanh", "Thượng Thanh"),
    ("viet-hung", "Việt Hưng"),
)


ROLES = (
    Role("secretary", {"vi": "Bí thư Đảng ủy phường", "en": "Ward Party committee secretary"}),
    Role("chairman", {"vi": "Chủ tịch UBND phường", "en": "Ward People's Committee chairman"}),
)


def long_bien_district() -> District:
    """Long Biên's 14 wards, two roles each, with placeholder names for the people rated."""
    wards = tuple(
        Ward(wid, {"vi": f"Phường {name}", "en": f"{name} ward"}) for wid, name in LONG_BIEN_WARDS
    )
    subjects = []
    for wid, name in LONG_BIEN_WARDS:
        subjects.append(
            Subject(
                f"{wid}-secretary",
                wid,
                "secretary",
                {
                    "vi": f"Bí thư Đảng ủy phường {name} (tên mẫu)",
                    "en": f"Party secretary of {name} ward (placeholder)",
                },
            )
        )
        subjects.append(
            Subject(
                f"{wid}-chairman",
                wid,
                "chairman",
                {
                    "vi": f"Chủ tịch UBND phường {name} (tên mẫu)",
                    "en": f"People's Committee chairman of {name} ward (placeholder)",
                },
            )
        )
    return District(
        {"vi": "Quận Long Biên", "en": "Long Biên district"}, wards, ROLES, tuple(subjects)
    )


def demo_roster_sizes(seed: int = 0) -> dict[str, int]:
    """A made-up roster size of 30 to 80 participants per ward, reproducible from ``seed``."""
    rng = random.Random(seed)  # noqa: S311 (made-up demo data, not a secret)
    return {wid: rng.randint(30, 80) for wid, _ in LONG_BIEN_WARDS}


DEMO_TRUSTEES: tuple[tuple[str, dict[str, str]], ...] = (
    ("tuyen-giao", {"vi": "Ban Tuyên giáo Quận ủy", "en": "District Propaganda board"}),
    ("to-chuc", {"vi": "Ban Tổ chức Quận ủy", "en": "District Organization board"}),
    ("kiem-tra", {"vi": "Ủy ban Kiểm tra Quận ủy", "en": "District Inspection committee"}),
)


def demo_config(
    *,
    wards: int = 14,
    trustees: list[TrusteeKey] | None = None,
    threshold: int = 2,
    round_id: str = "long-bien-demo",
    now: dt.datetime | None = None,
    days: int = 7,
    results_access: str = RESTRICTED,
    previous: PreviousRound | None = None,
) -> tuple[RoundConfig, list[TrusteeKey]]:
    """A round of the first ``wards`` demo wards, open from ``now`` for ``days`` days.

    ``results_access`` defaults to a new round's (restricted); ``previous`` names the round
    this one follows (the same demo district and subject ids make the two a series).
    """
    full = long_bien_district()
    if not 1 <= wards <= len(full.wards):
        raise InputError(f"--wards: expected 1..{len(full.wards)}, found {wards}")
    keep = {w.id for w in full.wards[:wards]}
    district = District(
        full.name,
        full.wards[:wards],
        full.roles,
        tuple(s for s in full.subjects if s.ward in keep),
    )
    if trustees is None:
        trustees = [TrusteeKey.generate(tid) for tid, _ in DEMO_TRUSTEES]
    names = dict(DEMO_TRUSTEES)
    now = now or dt.datetime.now(dt.UTC)
    start = (now - dt.timedelta(minutes=5)).replace(microsecond=0)
    window = Window(
        start.isoformat().replace("+00:00", "Z"),
        (start + dt.timedelta(days=days)).isoformat().replace("+00:00", "Z"),
    )
    config = RoundConfig(
        round_id=round_id,
        title={
            "vi": "Lấy ý kiến góp ý người đứng đầu các phường (mô phỏng)",
            "en": "Rating the heads of the wards (simulation)",
        },
        origin=f"district.example/log/{round_id}",
        issuance=window,
        voting=window,
        questionnaire=default_questionnaire(),
        district=district,
        trustees=tuple(t.public(names.get(t.id, {"vi": t.id})) for t in trustees),
        threshold=threshold,
        results_access=results_access,
        previous=previous,
    )
    return config, trustees
