"""The round manifest (protocol section 4): building, validation, signing and ``mid``.

A :class:`Manifest` is the validated, immutable form of the JSON object ``M``. It is built
from a :class:`RoundConfig` (what the organizer chooses) plus what the round's keys and
roster contribute when the round opens, or parsed from JSON with :meth:`Manifest.from_json`,
which checks every rule of section 4. ``to_json()`` gives back exactly the object that was
parsed, so ``mid`` is stable.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, NewType

from .encoding import (
    JSONValue,
    b64u_decode,
    b64u_encode,
    check_id,
    check_label,
    check_time,
    jcs,
    parse_time,
    sha256,
)
from .errors import EncodingError, ManifestError
from .hazmat.note import check_key_name
from .signing import SigningKey, sign_object, verify_object

__all__ = [
    "CommentField",
    "Criterion",
    "District",
    "Manifest",
    "Questionnaire",
    "Role",
    "RoundConfig",
    "ScaleLevel",
    "Subject",
    "SubjectId",
    "Trustee",
    "Ward",
    "WardId",
    "Window",
]

WardId = NewType("WardId", str)
SubjectId = NewType("SubjectId", str)

Label = dict[str, str]


def _obj(
    value: object, keys: set[str], what: str, optional: set[str] | None = None
) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ManifestError(f"{what}: expected an object")
    have = set(value)
    missing = keys - have
    extra = have - keys - (optional or set())
    if missing:
        raise ManifestError(f"{what}: missing {', '.join(sorted(missing))}")
    if extra:
        raise ManifestError(f"{what}: unexpected {', '.join(sorted(extra))}")
    return value


def _list(value: object, what: str, *, min_len: int = 0) -> list[Any]:
    if not isinstance(value, list):
        raise ManifestError(f"{what}: expected a list")
    if len(value) < min_len:
        raise ManifestError(f"{what}: expected at least {min_len} entries")
    return value


def _int(value: object, what: str, *, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ManifestError(f"{what}: expected an integer")
    if value < low or (high is not None and value > high):
        bound = f"{low}..{high}" if high is not None else f">= {low}"
        raise ManifestError(f"{what}: expected {bound}, found {value}")
    return value


def _unique(ids: Sequence[str], what: str) -> None:
    seen: set[str] = set()
    for i in ids:
        if i in seen:
            raise ManifestError(f"{what}: identifier {i!r} appears twice")
        seen.add(i)


def _b64(value: object, what: str, length: int | None = None) -> bytes:
    try:
        return b64u_decode(value, length=length, what=what)
    except EncodingError as exc:
        raise ManifestError(exc.detail) from exc


def _wrap(fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except EncodingError as exc:
        raise ManifestError(exc.detail) from exc


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
        _unique(levels, "questionnaire.scale and abstain")
        _unique([c.id for c in self.criteria], "questionnaire.criteria")
        _unique([c.id for c in self.comments], "questionnaire.comments")

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
        q = _obj(value, {"scale", "abstain", "criteria", "comments"}, "questionnaire")

        def level(v: object, what: str) -> ScaleLevel:
            o = _obj(v, {"id", "label"}, what)
            return ScaleLevel(_wrap(check_id, o["id"], what), _wrap(check_label, o["label"], what))

        scale = tuple(
            level(v, f"questionnaire.scale[{i}]")
            for i, v in enumerate(_list(q["scale"], "questionnaire.scale", min_len=1))
        )
        abstain = None if q["abstain"] is None else level(q["abstain"], "questionnaire.abstain")
        criteria = tuple(
            Criterion(*_label_item(v, f"questionnaire.criteria[{i}]"))
            for i, v in enumerate(_list(q["criteria"], "questionnaire.criteria", min_len=1))
        )
        comments = []
        for i, v in enumerate(_list(q["comments"], "questionnaire.comments")):
            what = f"questionnaire.comments[{i}]"
            o = _obj(v, {"id", "label", "max_chars"}, what)
            comments.append(
                CommentField(
                    _wrap(check_id, o["id"], what),
                    _wrap(check_label, o["label"], what),
                    _int(o["max_chars"], f"{what}.max_chars", low=1, high=65536),
                )
            )
        return cls(scale, abstain, criteria, tuple(comments))


def _label_item(value: object, what: str) -> tuple[str, Label]:
    o = _obj(value, {"id", "label"}, what)
    return _wrap(check_id, o["id"], what), _wrap(check_label, o["label"], what)


@dataclass(frozen=True)
class Role:
    id: str
    title: Label

    def to_json(self) -> dict[str, JSONValue]:
        return {"id": self.id, "title": dict(self.title)}


@dataclass(frozen=True)
class Ward:
    id: str
    name: Label
    eligible: int = 0
    """How many roster entries the ward has (fixed when the round opens)."""
    issuer_key: bytes = b""
    """DER SubjectPublicKeyInfo of the ward's RSA issuer key for this round."""

    def to_json(self) -> dict[str, JSONValue]:
        return {
            "id": self.id,
            "name": dict(self.name),
            "eligible": self.eligible,
            "issuer_key": b64u_encode(self.issuer_key),
        }


@dataclass(frozen=True)
class Subject:
    """A person rated: one role in one ward."""

    id: str
    ward: str
    role: str
    name: Label

    def to_json(self) -> dict[str, JSONValue]:
        return {"id": self.id, "ward": self.ward, "role": self.role, "name": dict(self.name)}


@dataclass(frozen=True)
class Trustee:
    id: str
    name: Label
    hpke_key: bytes
    """X25519 public key (32 bytes) that shares are sealed to."""
    signing_key: bytes
    """Ed25519 public key (32 bytes) that signs the trustee's release."""

    def __post_init__(self) -> None:
        if len(self.hpke_key) != 32 or len(self.signing_key) != 32:
            raise ManifestError(f"trustee {self.id}: keys are 32 bytes each")

    def to_json(self) -> dict[str, JSONValue]:
        return {
            "id": self.id,
            "name": dict(self.name),
            "hpke_key": b64u_encode(self.hpke_key),
            "signing_key": b64u_encode(self.signing_key),
        }

    @classmethod
    def from_json(cls, value: object, what: str = "trustee") -> Trustee:
        o = _obj(value, {"id", "name", "hpke_key", "signing_key"}, what)
        return cls(
            _wrap(check_id, o["id"], f"{what}.id"),
            _wrap(check_label, o["name"], f"{what}.name"),
            _b64(o["hpke_key"], f"{what}.hpke_key", 32),
            _b64(o["signing_key"], f"{what}.signing_key", 32),
        )


@dataclass(frozen=True)
class Window:
    opens: str
    closes: str

    def __post_init__(self) -> None:
        if _wrap(parse_time, self.opens) >= _wrap(parse_time, self.closes):
            raise ManifestError(
                f"window {self.opens} .. {self.closes}: opens must be before closes"
            )

    def contains(self, now: Any) -> bool:
        """``opens <= now < closes`` for an aware datetime ``now``."""
        return bool(parse_time(self.opens) <= now < parse_time(self.closes))

    def to_json(self) -> dict[str, JSONValue]:
        return {"opens": self.opens, "closes": self.closes}

    @classmethod
    def from_json(cls, value: object, what: str) -> Window:
        o = _obj(value, {"opens", "closes"}, what)
        return cls(
            _wrap(check_time, o["opens"], f"{what}.opens"),
            _wrap(check_time, o["closes"], f"{what}.closes"),
        )


@dataclass(frozen=True)
class District:
    """What the organizer sets up once: wards, roles and the people rated."""

    name: Label
    wards: tuple[Ward, ...]
    roles: tuple[Role, ...]
    subjects: tuple[Subject, ...]

    def __post_init__(self) -> None:
        _unique([w.id for w in self.wards], "wards")
        _unique([r.id for r in self.roles], "roles")
        _unique([s.id for s in self.subjects], "subjects")
        ward_ids = {w.id for w in self.wards}
        role_ids = {r.id for r in self.roles}
        for s in self.subjects:
            if s.ward not in ward_ids:
                raise ManifestError(f"subject {s.id}: ward {s.ward!r} is not in wards")
            if s.role not in role_ids:
                raise ManifestError(f"subject {s.id}: role {s.role!r} is not in roles")
        for w in self.wards:
            if not any(s.ward == w.id for s in self.subjects):
                raise ManifestError(f"ward {w.id}: nobody to rate (no subject in this ward)")

    def to_json(self) -> dict[str, JSONValue]:
        """The district configuration file: name, wards, roles and the people rated."""
        return _district_to_json(self)

    @classmethod
    def from_json(cls, value: object) -> District:
        return _district_from_json(value)


def _district_to_json(district: District) -> dict[str, JSONValue]:
    return {
        "name": dict(district.name),
        "wards": [{"id": w.id, "name": dict(w.name)} for w in district.wards],
        "roles": [r.to_json() for r in district.roles],
        "subjects": [s.to_json() for s in district.subjects],
    }


def _district_from_json(value: object) -> District:
    d = _obj(value, {"name", "wards", "roles", "subjects"}, "district")
    wards = []
    for i, v in enumerate(_list(d["wards"], "wards", min_len=1)):
        o = _obj(v, {"id", "name"}, f"wards[{i}]")
        wards.append(
            Ward(_wrap(check_id, o["id"], f"wards[{i}].id"),
                 _wrap(check_label, o["name"], f"wards[{i}].name"))
        )  # fmt: skip
    roles = tuple(
        Role(*_label_item_titled(v, f"roles[{i}]"))
        for i, v in enumerate(_list(d["roles"], "roles", min_len=1))
    )
    subjects = tuple(
        _subject(v, f"subjects[{i}]")
        for i, v in enumerate(_list(d["subjects"], "subjects", min_len=1))
    )
    return District(_wrap(check_label, d["name"], "district.name"), tuple(wards), roles, subjects)


@dataclass(frozen=True)
class RoundConfig:
    """Everything the organizer decides for one round, before keys and roster are fixed."""

    round_id: str
    title: Label
    origin: str
    issuance: Window
    voting: Window
    questionnaire: Questionnaire
    district: District
    trustees: tuple[Trustee, ...]
    threshold: int
    min_group: int = 5

    def __post_init__(self) -> None:
        _wrap(check_id, self.round_id, "round_id")
        if not self.trustees:
            raise ManifestError("trustees: at least one trustee is required")
        _unique([t.id for t in self.trustees], "trustees")
        if not 1 <= self.threshold <= len(self.trustees):
            raise ManifestError(
                f"threshold: expected 1..{len(self.trustees)} (the number of trustees), "
                f"found {self.threshold}"
            )
        _check_origin(self.origin)
        if self.min_group < 1:
            raise ManifestError("min_group: expected at least 1")

    def to_json(self) -> dict[str, JSONValue]:
        """The organizer's round configuration file: ``M`` without keys and roster counts."""
        return {
            "round_id": self.round_id,
            "title": dict(self.title),
            "district": dict(self.district.name),
            "origin": self.origin,
            "issuance": self.issuance.to_json(),
            "voting": self.voting.to_json(),
            "questionnaire": self.questionnaire.to_json(),
            "roles": [r.to_json() for r in self.district.roles],
            "wards": [{"id": w.id, "name": dict(w.name)} for w in self.district.wards],
            "subjects": [s.to_json() for s in self.district.subjects],
            "trustees": [t.to_json() for t in self.trustees],
            "threshold": self.threshold,
            "min_group": self.min_group,
        }

    @classmethod
    def from_json(cls, value: object) -> RoundConfig:
        """Parse a round configuration (the format of :meth:`to_json`), checking every rule."""
        keys = {
            "round_id", "title", "district", "origin", "issuance", "voting", "questionnaire",
            "roles", "wards", "subjects", "trustees", "threshold",
        }  # fmt: skip
        c = _obj(value, keys, "config", optional={"min_group"})
        district = _district_from_json(
            {"name": c["district"], "wards": c["wards"], "roles": c["roles"],
             "subjects": c["subjects"]}
        )  # fmt: skip
        trustees = tuple(
            Trustee.from_json(v, f"trustees[{i}]")
            for i, v in enumerate(_list(c["trustees"], "trustees", min_len=1))
        )
        if not isinstance(c["origin"], str):
            raise ManifestError("origin: expected a string")
        return cls(
            round_id=_wrap(check_id, c["round_id"], "round_id"),
            title=_wrap(check_label, c["title"], "title"),
            origin=c["origin"],
            issuance=Window.from_json(c["issuance"], "issuance"),
            voting=Window.from_json(c["voting"], "voting"),
            questionnaire=Questionnaire.from_json(c["questionnaire"]),
            district=district,
            trustees=trustees,
            threshold=_int(c["threshold"], "threshold", low=1, high=len(trustees)),
            min_group=_int(c.get("min_group", 5), "min_group", low=1),
        )  # fmt: skip


@dataclass(frozen=True)
class Manifest:
    """The validated manifest ``M`` of one round."""

    round_id: str
    title: Label
    district_name: Label
    origin: str
    issuance: Window
    voting: Window
    questionnaire: Questionnaire
    roles: tuple[Role, ...]
    wards: tuple[Ward, ...]
    subjects: tuple[Subject, ...]
    trustees: tuple[Trustee, ...]
    threshold: int
    min_group: int
    organizer_key: bytes
    log_key: bytes
    _ward_index: dict[str, Ward] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        District(self.district_name, self.wards, self.roles, self.subjects)
        _unique([t.id for t in self.trustees], "trustees")
        if not self.trustees:
            raise ManifestError("trustees: at least one trustee is required")
        if not 1 <= self.threshold <= len(self.trustees):
            raise ManifestError("threshold: expected 1 <= threshold <= len(trustees)")
        if self.min_group < 1:
            raise ManifestError("min_group: expected at least 1")
        if len(self.organizer_key) != 32 or len(self.log_key) != 32:
            raise ManifestError("organizer_key and log_key are 32-byte Ed25519 keys")
        object.__setattr__(self, "_ward_index", {w.id: w for w in self.wards})

    # -- derived values -------------------------------------------------------------------

    def to_json(self) -> dict[str, JSONValue]:
        return {
            "v": 1,
            "round_id": self.round_id,
            "title": dict(self.title),
            "district": dict(self.district_name),
            "origin": self.origin,
            "issuance": self.issuance.to_json(),
            "voting": self.voting.to_json(),
            "questionnaire": self.questionnaire.to_json(),
            "roles": [r.to_json() for r in self.roles],
            "wards": [w.to_json() for w in self.wards],
            "subjects": [s.to_json() for s in self.subjects],
            "trustees": [t.to_json() for t in self.trustees],
            "threshold": self.threshold,
            "min_group": self.min_group,
            "organizer_key": b64u_encode(self.organizer_key),
            "log_key": b64u_encode(self.log_key),
        }

    @cached_property
    def mid(self) -> str:
        """``b64u(SHA-256(JCS(M)))``: the round id used in leaves, shares and statements."""
        return b64u_encode(sha256(jcs(self.to_json())))

    def ward(self, ward_id: str) -> Ward:
        try:
            return self._ward_index[ward_id]
        except KeyError:
            from .errors import NotFound

            raise NotFound(f"ward {ward_id!r} is not in this round", code="unknown_ward") from None

    def has_ward(self, ward_id: object) -> bool:
        return isinstance(ward_id, str) and ward_id in self._ward_index

    def subjects_of(self, ward_id: str) -> tuple[Subject, ...]:
        return tuple(s for s in self.subjects if s.ward == ward_id)

    def trustee_index(self, trustee_id: str) -> int:
        """The 1-based position of a trustee: its Shamir x-coordinate."""
        for i, t in enumerate(self.trustees, start=1):
            if t.id == trustee_id:
                return i
        from .errors import NotFound

        raise NotFound(f"trustee {trustee_id!r} is not in this round", code="unknown_trustee")

    # -- signing ---------------------------------------------------------------------------

    def sign(self, organizer: SigningKey) -> dict[str, JSONValue]:
        if organizer.public_key != self.organizer_key:
            raise ManifestError("the signing key is not the manifest's organizer_key")
        return sign_object("manifest", self.to_json(), organizer)

    @classmethod
    def from_signed(cls, obj: object) -> Manifest:
        """Parse a signed manifest and verify its signature against its own organizer key."""
        if not isinstance(obj, dict) or "manifest" not in obj:
            raise ManifestError('expected a signed manifest {"manifest": ..., "signature": ...}')
        manifest = cls.from_json(obj["manifest"])
        verify_object(obj, "manifest", manifest.organizer_key)
        return manifest

    # -- building and parsing ---------------------------------------------------------------

    @classmethod
    def build(
        cls,
        config: RoundConfig,
        *,
        eligible: Mapping[str, int],
        issuer_keys: Mapping[str, bytes],
        organizer_key: bytes,
        log_key: bytes,
    ) -> Manifest:
        """The manifest of ``config`` with the roster counts and public keys filled in."""
        wards = []
        for w in config.district.wards:
            if w.id not in issuer_keys:
                raise ManifestError(f"ward {w.id}: no issuer key")
            wards.append(Ward(w.id, w.name, eligible.get(w.id, 0), issuer_keys[w.id]))
        return cls(
            round_id=config.round_id,
            title=config.title,
            district_name=config.district.name,
            origin=config.origin,
            issuance=config.issuance,
            voting=config.voting,
            questionnaire=config.questionnaire,
            roles=config.district.roles,
            wards=tuple(wards),
            subjects=config.district.subjects,
            trustees=config.trustees,
            threshold=config.threshold,
            min_group=config.min_group,
            organizer_key=organizer_key,
            log_key=log_key,
        )

    @classmethod
    def from_json(cls, value: object) -> Manifest:
        """Validate ``M`` against every rule of protocol section 4."""
        keys = {
            "v", "round_id", "title", "district", "origin", "issuance", "voting",
            "questionnaire", "roles", "wards", "subjects", "trustees", "threshold",
            "min_group", "organizer_key", "log_key",
        }  # fmt: skip
        m = _obj(value, keys, "manifest")
        if m["v"] != 1 or isinstance(m["v"], bool):
            raise ManifestError("manifest.v: expected 1")
        try:
            jcs(m)
        except EncodingError as exc:
            raise ManifestError(f"manifest: {exc.detail}") from exc
        if not isinstance(m["origin"], str):
            raise ManifestError("manifest.origin: expected a string")
        roles = tuple(
            Role(*_label_item_titled(v, f"roles[{i}]"))
            for i, v in enumerate(_list(m["roles"], "roles", min_len=1))
        )
        wards = []
        for i, v in enumerate(_list(m["wards"], "wards", min_len=1)):
            what = f"wards[{i}]"
            o = _obj(v, {"id", "name", "eligible", "issuer_key"}, what)
            wards.append(
                Ward(
                    _wrap(check_id, o["id"], f"{what}.id"),
                    _wrap(check_label, o["name"], f"{what}.name"),
                    _int(o["eligible"], f"{what}.eligible", low=0),
                    _b64(o["issuer_key"], f"{what}.issuer_key"),
                )
            )
        subjects = [
            _subject(v, f"subjects[{i}]")
            for i, v in enumerate(_list(m["subjects"], "subjects", min_len=1))
        ]
        trustees = tuple(
            Trustee.from_json(v, f"trustees[{i}]")
            for i, v in enumerate(_list(m["trustees"], "trustees", min_len=1))
        )
        manifest = cls(
            round_id=_wrap(check_id, m["round_id"], "round_id"),
            title=_wrap(check_label, m["title"], "title"),
            district_name=_wrap(check_label, m["district"], "district"),
            origin=m["origin"],
            issuance=Window.from_json(m["issuance"], "issuance"),
            voting=Window.from_json(m["voting"], "voting"),
            questionnaire=Questionnaire.from_json(m["questionnaire"]),
            roles=roles,
            wards=tuple(wards),
            subjects=tuple(subjects),
            trustees=trustees,
            threshold=_int(m["threshold"], "threshold", low=1, high=len(trustees)),
            min_group=_int(m["min_group"], "min_group", low=1),
            organizer_key=_b64(m["organizer_key"], "organizer_key", 32),
            log_key=_b64(m["log_key"], "log_key", 32),
        )  # fmt: skip
        _check_origin(manifest.origin)
        for w in manifest.wards:
            from .tokens import load_issuer_public_key

            try:
                load_issuer_public_key(w.issuer_key)
            except EncodingError as exc:
                raise ManifestError(f"ward {w.id}: issuer_key: {exc.detail}") from exc
        keys_seen = [w.issuer_key for w in manifest.wards]
        if len(set(keys_seen)) != len(keys_seen):
            raise ManifestError("wards: an issuer key is used by two wards")
        if manifest.to_json() != m:
            raise ManifestError("manifest: does not round-trip (unexpected value types)")
        return manifest


def _check_origin(origin: object) -> None:
    """The origin is the checkpoints' first line and the log key's name: a signed-note key
    name (non-empty, no spaces, no "+"). The same check as the checkpoint code's, which also
    refuses control characters: an origin such as "a\x00b" used to pass here and then make
    the engine fail to sign its first checkpoint after the manifest was stored."""
    try:
        check_key_name(origin)
    except EncodingError as exc:
        raise ManifestError(
            "origin: expected a non-empty name without spaces, '+' or control characters"
        ) from exc


def _label_item_titled(value: object, what: str) -> tuple[str, Label]:
    o = _obj(value, {"id", "title"}, what)
    return _wrap(check_id, o["id"], f"{what}.id"), _wrap(check_label, o["title"], f"{what}.title")


def _subject(value: object, what: str) -> Subject:
    o = _obj(value, {"id", "ward", "role", "name"}, what)
    return Subject(
        _wrap(check_id, o["id"], f"{what}.id"),
        _wrap(check_id, o["ward"], f"{what}.ward"),
        _wrap(check_id, o["role"], f"{what}.role"),
        _wrap(check_label, o["name"], f"{what}.name"),
    )
