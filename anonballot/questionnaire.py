"""The questionnaire ``Q`` of a round (protocol section 4.1): the rating scale, the optional
abstain level, the criteria and the comment fields, plus the default form of product.md.

The real form attached to the district's plan is not public; :func:`default_questionnaire`
is the editable default that the demo and a real district both start from.
"""

from __future__ import annotations

from dataclasses import dataclass

from ._shape import Label, integer, list_of, obj, unique, wrap
from .encoding import JSONValue, check_id, check_label
from .errors import ManifestError

__all__ = ["CommentField", "Criterion", "Questionnaire", "ScaleLevel", "default_questionnaire"]


@dataclass(frozen=True)
class ScaleLevel:
    id: str
    label: Label

    def to_json(self) -> dict[str, JSONValue]:
        return {"id": self.id, "label": dict(self.label)}


@dataclass(frozen=True)
class Criterion:
    id: str
    label: Label

    def to_json(self) -> dict[str, JSONValue]:
        return {"id": self.id, "label": dict(self.label)}


@dataclass(frozen=True)
class CommentField:
    id: str
    label: Label
    max_chars: int
    """Most code points a comment may have."""

    def to_json(self) -> dict[str, JSONValue]:
        return {"id": self.id, "label": dict(self.label), "max_chars": self.max_chars}


@dataclass(frozen=True)
class Questionnaire:
    """``Q``: the scale, the optional abstain level, criteria and comment fields."""

    scale: tuple[ScaleLevel, ...]
    abstain: ScaleLevel | None
    criteria: tuple[Criterion, ...]
    comments: tuple[CommentField, ...]

    def __post_init__(self) -> None:
        if not self.scale:
            raise ManifestError("questionnaire.scale: at least one level is required")
        if not self.criteria:
            raise ManifestError("questionnaire.criteria: at least one criterion is required")
        levels = [s.id for s in self.scale] + ([self.abstain.id] if self.abstain else [])
        unique(levels, "questionnaire.scale and abstain")
        unique([c.id for c in self.criteria], "questionnaire.criteria")
        unique([c.id for c in self.comments], "questionnaire.comments")

    @property
    def answer_ids(self) -> tuple[str, ...]:
        """Every value a rating may take: the scale ids, then the abstain id if any."""
        return tuple(s.id for s in self.scale) + ((self.abstain.id,) if self.abstain else ())

    def to_json(self) -> dict[str, JSONValue]:
        return {
            "scale": [s.to_json() for s in self.scale],
            "abstain": self.abstain.to_json() if self.abstain else None,
            "criteria": [c.to_json() for c in self.criteria],
            "comments": [c.to_json() for c in self.comments],
        }

    @classmethod
    def from_json(cls, value: object) -> Questionnaire:
        q = obj(value, {"scale", "abstain", "criteria", "comments"}, "questionnaire")

        def level(v: object, what: str) -> ScaleLevel:
            o = obj(v, {"id", "label"}, what)
            return ScaleLevel(wrap(check_id, o["id"], what), wrap(check_label, o["label"], what))

        scale = tuple(
            level(v, f"questionnaire.scale[{i}]")
            for i, v in enumerate(list_of(q["scale"], "questionnaire.scale", min_len=1))
        )
        abstain = None if q["abstain"] is None else level(q["abstain"], "questionnaire.abstain")
        criteria = tuple(
            Criterion(*_label_item(v, f"questionnaire.criteria[{i}]"))
            for i, v in enumerate(list_of(q["criteria"], "questionnaire.criteria", min_len=1))
        )
        comments = []
        for i, v in enumerate(list_of(q["comments"], "questionnaire.comments")):
            what = f"questionnaire.comments[{i}]"
            o = obj(v, {"id", "label", "max_chars"}, what)
            comments.append(
                CommentField(
                    wrap(check_id, o["id"], what),
                    wrap(check_label, o["label"], what),
                    integer(o["max_chars"], f"{what}.max_chars", low=1, high=65536),
                )
            )
        return cls(scale, abstain, criteria, tuple(comments))


def _label_item(value: object, what: str) -> tuple[str, Label]:
    o = obj(value, {"id", "label"}, what)
    return wrap(check_id, o["id"], what), wrap(check_label, o["label"], what)


MAX_COMMENT = 1000
"""The default form's ``max_chars`` of each comment field."""


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
    # 1,000 characters a field (a long paragraph): the largest ballot of a ward of two
    # people rated, every field full of the costliest characters, makes a leaf of about
    # 51,000 bytes, under the 65,535 a leaf may have (protocol section 6.3) with room for
    # more trustees; 2,000 did not fit (about 98,600). A ward of three people rated fits
    # up to about 860 (anonballot.leaf.check_leaves_fit says so when a round is created).
    comments = tuple(
        CommentField(field_id, label, MAX_COMMENT)
        for field_id, label in (
            ("uu-diem", {"vi": "Ưu điểm", "en": "Strengths"}),
            ("ton-tai-han-che", {"vi": "Tồn tại, hạn chế", "en": "Shortcomings"}),
            ("de-xuat-kien-nghi", {"vi": "Đề xuất, kiến nghị", "en": "Proposals"}),
        )
    )
    return Questionnaire(scale, abstain, criteria, comments)
