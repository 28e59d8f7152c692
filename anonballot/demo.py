"""The default questionnaire and the Long Biên demo district (product.md).

The real form attached to the district's plan is not public; :func:`default_questionnaire`
is an editable default. The people rated in the demo district have placeholder names,
never real people's names.
"""

from __future__ import annotations

import random

from .manifest import (
    CommentField,
    Criterion,
    District,
    Questionnaire,
    Role,
    ScaleLevel,
    Subject,
    Ward,
)

__all__ = ["LONG_BIEN_WARDS", "default_questionnaire", "demo_roster_sizes", "long_bien_district"]

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


def default_questionnaire() -> Questionnaire:
    """The editable default form: four levels plus "no opinion", 7 criteria, 3 comments."""
    scale = (
        ScaleLevel("tot", {"vi": "Tốt", "en": "Good"}),
        ScaleLevel("kha", {"vi": "Khá", "en": "Fairly good"}),
        ScaleLevel("trung-binh", {"vi": "Trung bình", "en": "Average"}),
        ScaleLevel("kem", {"vi": "Kém", "en": "Weak"}),
    )
    abstain = ScaleLevel("khong-danh-gia", {"vi": "Không đánh giá", "en": "No opinion"})
    criteria = (
        Criterion(
            "ban-linh-chinh-tri",
            {"vi": "Bản lĩnh chính trị, tư tưởng", "en": "Political steadfastness and ideology"},
        ),
        Criterion("dao-duc-loi-song", {"vi": "Đạo đức, lối sống", "en": "Ethics and lifestyle"}),
        Criterion(
            "tac-phong-lam-viec",
            {"vi": "Tác phong, lề lối làm việc", "en": "Working style and manner"},
        ),
        Criterion(
            "y-thuc-to-chuc-ky-luat",
            {"vi": "Ý thức tổ chức kỷ luật", "en": "Sense of organisation and discipline"},
        ),
        Criterion(
            "trach-nhiem-neu-guong",
            {"vi": "Trách nhiệm nêu gương", "en": "Responsibility to set an example"},
        ),
        Criterion(
            "doan-ket-quan-he-nhan-dan",
            {
                "vi": "Đoàn kết, quan hệ với Nhân dân",
                "en": "Solidarity and relations with the people",
            },
        ),
        Criterion(
            "ket-qua-thuc-hien-nhiem-vu",
            {"vi": "Kết quả thực hiện nhiệm vụ", "en": "Results in carrying out duties"},
        ),
    )
    comments = (
        CommentField("uu-diem", {"vi": "Ưu điểm", "en": "Strengths"}, 2000),
        CommentField("ton-tai-han-che", {"vi": "Tồn tại, hạn chế", "en": "Shortcomings"}, 2000),
        CommentField("de-xuat-kien-nghi", {"vi": "Đề xuất, kiến nghị", "en": "Proposals"}, 2000),
    )
    return Questionnaire(scale, abstain, criteria, comments)


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
