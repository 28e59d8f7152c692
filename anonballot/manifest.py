"""The round manifest (protocol section 4): the round's configuration, signing and ``mid``.

A :class:`Manifest` is the validated, immutable form of the JSON object ``M``. It is built
from a :class:`RoundConfig` (what the organizer chooses: a
:class:`~anonballot.questionnaire.Questionnaire`, a :class:`~anonballot.district.District`,
the trustees' public keys) plus what the round's keys and roster contribute when the round
opens, or parsed from JSON with :meth:`Manifest.from_json`, which checks every rule of
section 4. ``to_json()`` gives back exactly the object that was parsed, so ``mid`` is stable.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

from ._shape import Label, b64, integer, list_of, obj, unique, wrap
from .district import District, Role, Subject, Ward
from .encoding import (
    JSONValue,
    b64u_encode,
    check_id,
    check_label,
    check_time,
    jcs,
    parse_time,
    sha256,
)
from .errors import EncodingError, ManifestError, NotFound
from .hazmat.note import check_key_name
from .questionnaire import Questionnaire
from .signing import SigningKey, VerifyKey, sign_object, verify_object
from .tokens import IssuerPublicKey
from .trustee import Trustee
from .witness import WitnessPolicy

__all__ = [
    "MAX_BOOTH_FILES",
    "PUBLIC",
    "RESTRICTED",
    "RESULTS_ACCESS",
    "Manifest",
    "PreviousRound",
    "RoundConfig",
    "Window",
]

PUBLIC = "public"
RESTRICTED = "restricted"
RESULTS_ACCESS = (PUBLIC, RESTRICTED)
"""The values of ``results_access`` (protocol section 4.2)."""

MAX_BOOTH_FILES = 256
"""The most files ``M.booth`` may pin (protocol section 4.2)."""


@dataclass(frozen=True)
class Window:
    opens: str
    closes: str

    def __post_init__(self) -> None:
        if wrap(parse_time, self.opens) >= wrap(parse_time, self.closes):
            raise ManifestError(
                f"window {self.opens} .. {self.closes}: opens must be before closes"
            )

    def contains(self, now: dt.datetime) -> bool:
        """``opens <= now < closes`` for an aware datetime ``now``."""
        return bool(parse_time(self.opens) <= now < parse_time(self.closes))

    def to_json(self) -> dict[str, JSONValue]:
        return {"opens": self.opens, "closes": self.closes}

    @classmethod
    def from_json(cls, value: object, what: str) -> Window:
        o = obj(value, {"opens", "closes"}, what)
        return cls(
            wrap(check_time, o["opens"], f"{what}.opens"),
            wrap(check_time, o["closes"], f"{what}.closes"),
        )


@dataclass(frozen=True)
class PreviousRound:
    """The round a round follows in its series (``M.previous``, protocol section 4.2)."""

    round_id: str
    mid: str

    def __post_init__(self) -> None:
        wrap(check_id, self.round_id, "previous.round_id")
        # a mid is b64u of a SHA-256 digest: 43 characters, canonical (protocol section 4)
        b64(self.mid, "previous.mid", 32)

    def to_json(self) -> dict[str, JSONValue]:
        return {"round_id": self.round_id, "mid": self.mid}

    @classmethod
    def from_json(cls, value: object, what: str = "previous") -> PreviousRound:
        o = obj(value, {"round_id", "mid"}, what)
        if not isinstance(o["mid"], str):
            raise ManifestError(f"{what}.mid: expected a string")
        return cls(wrap(check_id, o["round_id"], f"{what}.round_id"), o["mid"])


def _check_results_access(value: object, what: str) -> str:
    if value not in RESULTS_ACCESS:
        raise ManifestError(f'{what}: expected "public" or "restricted", found {value!r}')
    return str(value)


def _check_previous(previous: PreviousRound | None, round_id: str) -> None:
    if previous is not None and previous.round_id == round_id:
        raise ManifestError(f"previous.round_id: the round {round_id} cannot follow itself")


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
    results_access: str | None = RESTRICTED
    """Who may read the releases and the results (protocol section 4.2): ``"restricted"``
    (the default for new rounds) or ``"public"``. ``None`` leaves the member out of the
    manifest, as every manifest made before it existed (read as public); only for
    reproducing such records, e.g. the v1 conformance suite."""
    previous: PreviousRound | None = None
    """The round this one follows in its series, if any."""
    witnesses: WitnessPolicy | None = None
    """The witnesses that cosign the round's checkpoints, and their quorum (protocol
    section 6.9); ``None``: the board is vouched for by its own signature only."""

    def __post_init__(self) -> None:
        wrap(check_id, self.round_id, "round_id")
        if self.results_access is not None:
            _check_results_access(self.results_access, "results_access")
        _check_previous(self.previous, self.round_id)
        if not self.trustees:
            raise ManifestError("trustees: at least one trustee is required")
        unique([t.id for t in self.trustees], "trustees")
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
            # null (only in this file, never in a manifest): the manifest states no access
            "results_access": self.results_access,
            **({"previous": self.previous.to_json()} if self.previous is not None else {}),
            **({"witnesses": _policy_json(self.witnesses)} if self.witnesses is not None else {}),
        }

    @classmethod
    def from_json(cls, value: object) -> RoundConfig:
        """Parse a round configuration (the format of :meth:`to_json`), checking every rule."""
        keys = {
            "round_id", "title", "district", "origin", "issuance", "voting", "questionnaire",
            "roles", "wards", "subjects", "trustees", "threshold",
        }  # fmt: skip
        c = obj(
            value, keys, "config", optional={"min_group", "results_access", "previous", "witnesses"}
        )
        district = District.from_json(
            {"name": c["district"], "wards": c["wards"], "roles": c["roles"],
             "subjects": c["subjects"]}
        )  # fmt: skip
        trustees = tuple(
            Trustee.from_json(v, f"trustees[{i}]")
            for i, v in enumerate(list_of(c["trustees"], "trustees", min_len=1))
        )
        if not isinstance(c["origin"], str):
            raise ManifestError("origin: expected a string")
        return cls(
            round_id=wrap(check_id, c["round_id"], "round_id"),
            title=wrap(check_label, c["title"], "title"),
            origin=c["origin"],
            issuance=Window.from_json(c["issuance"], "issuance"),
            voting=Window.from_json(c["voting"], "voting"),
            questionnaire=Questionnaire.from_json(c["questionnaire"]),
            district=district,
            trustees=trustees,
            threshold=integer(c["threshold"], "threshold", low=1, high=len(trustees)),
            min_group=integer(c.get("min_group", 5), "min_group", low=1),
            results_access=(
                None if c.get("results_access", RESTRICTED) is None
                else _check_results_access(c.get("results_access", RESTRICTED), "results_access")
            ),
            previous=PreviousRound.from_json(c["previous"]) if "previous" in c else None,
            witnesses=wrap(WitnessPolicy.from_json, c["witnesses"]) if "witnesses" in c else None,
        )  # fmt: skip


def _policy_json(policy: WitnessPolicy) -> JSONValue:
    out: JSONValue = {
        "quorum": policy.quorum,
        "list": [dict(w.to_json()) for w in policy.witnesses],
    }
    return out


def _check_booth(booth: Mapping[str, str]) -> None:
    """``M.booth``: served path to b64u(SHA-256 of the bytes served), protocol section 4.2."""
    if not isinstance(booth, Mapping) or not 1 <= len(booth) <= MAX_BOOTH_FILES:
        raise ManifestError(f"booth: expected an object of 1 to {MAX_BOOTH_FILES} files")
    for path, digest in booth.items():
        if (
            not isinstance(path, str)
            or not path.startswith("/")
            or len(path) > 300
            or any(not 0x21 <= ord(c) <= 0x7E or c in "?#" for c in path)
        ):
            raise ManifestError(f"booth: {str(path)[:80]!r} is not an absolute path of the server")
        b64(digest, f"booth[{path}]", 32)


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
    organizer_key: VerifyKey
    log_key: VerifyKey
    stated_results_access: str | None = None
    """``M.results_access`` as the manifest states it; ``None`` when ``M`` has no such
    member (every manifest made before it existed). :attr:`results_access` reads it."""
    previous: PreviousRound | None = None
    """``M.previous``: the round this one follows in its series; ``None`` when absent."""
    witnesses: WitnessPolicy | None = None
    """``M.witnesses``: who cosigns the checkpoints, and the quorum; ``None`` when absent."""
    booth: Mapping[str, str] | None = None
    """``M.booth``: each booth file the server served when the round opened, by its path, to
    b64u(SHA-256) of its bytes as served; ``None`` when absent (protocol section 4.2)."""
    _ward_index: dict[str, Ward] = field(init=False, repr=False, compare=False)
    _subjects_index: dict[str, tuple[Subject, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        District(self.district_name, self.wards, self.roles, self.subjects)
        unique([t.id for t in self.trustees], "trustees")
        if not self.trustees:
            raise ManifestError("trustees: at least one trustee is required")
        if not 1 <= self.threshold <= len(self.trustees):
            raise ManifestError("threshold: expected 1 <= threshold <= len(trustees)")
        if self.min_group < 1:
            raise ManifestError("min_group: expected at least 1")
        if not isinstance(self.organizer_key, VerifyKey) or not isinstance(self.log_key, VerifyKey):
            raise ManifestError("organizer_key and log_key are Ed25519 VerifyKeys")
        for w in self.wards:
            if w.issuer_key is None:
                raise ManifestError(f"ward {w.id}: no issuer key")
        if self.stated_results_access is not None:
            _check_results_access(self.stated_results_access, "results_access")
        _check_previous(self.previous, self.round_id)
        if self.booth is not None:
            _check_booth(self.booth)
            object.__setattr__(self, "booth", dict(sorted(self.booth.items())))
        object.__setattr__(self, "_ward_index", {w.id: w for w in self.wards})
        by_ward: dict[str, list[Subject]] = {}
        for s in self.subjects:
            by_ward.setdefault(s.ward, []).append(s)
        object.__setattr__(
            self, "_subjects_index", {w: tuple(subjects) for w, subjects in by_ward.items()}
        )

    # -- derived values -------------------------------------------------------------------

    @property
    def results_access(self) -> str:
        """``"public"`` or ``"restricted"``; a manifest without the member is public
        (protocol section 4.2)."""
        return self.stated_results_access or PUBLIC

    @property
    def restricted(self) -> bool:
        """Whether the releases and the results are kept for access holders (section 4.2)."""
        return self.results_access == RESTRICTED

    def to_json(self) -> dict[str, JSONValue]:
        return self._to_json(lists=True)

    def _to_json(self, *, lists: bool) -> dict[str, JSONValue]:
        """``M``; without ``wards`` and ``subjects`` unless ``lists`` (see :meth:`_round_trips`)."""
        # the optional members appear only when stated, so a manifest made before they
        # existed keeps its bytes and its mid (protocol section 4.1)
        optional: dict[str, JSONValue] = {}
        if self.stated_results_access is not None:
            optional["results_access"] = self.stated_results_access
        if self.previous is not None:
            optional["previous"] = self.previous.to_json()
        if self.witnesses is not None:
            optional["witnesses"] = _policy_json(self.witnesses)
        if self.booth is not None:
            optional["booth"] = dict(self.booth)
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
            **(
                {
                    "wards": [w.to_json() for w in self.wards],
                    "subjects": [s.to_json() for s in self.subjects],
                }
                if lists
                else {}
            ),
            "trustees": [t.to_json() for t in self.trustees],
            "threshold": self.threshold,
            "min_group": self.min_group,
            "organizer_key": self.organizer_key.to_b64u(),
            "log_key": self.log_key.to_b64u(),
            **optional,
        }

    @cached_property
    def mid(self) -> str:
        """``b64u(SHA-256(JCS(M)))``: the round id used in leaves, shares and statements."""
        return b64u_encode(sha256(jcs(self.to_json())))

    def _round_trips(self, m: Mapping[str, JSONValue]) -> bool:
        """``self.to_json() == m``, comparing the wards and the subjects one by one: a
        national manifest's lists would take a second copy of M (30 MiB) built at once."""
        lists = ("wards", "subjects")
        if self._to_json(lists=False) != {k: v for k, v in m.items() if k not in lists}:
            return False
        wards, subjects = m.get("wards"), m.get("subjects")
        if not isinstance(wards, list) or not isinstance(subjects, list):
            return False
        if len(wards) != len(self.wards) or len(subjects) != len(self.subjects):
            return False
        return all(w.to_json() == v for w, v in zip(self.wards, wards, strict=True)) and all(
            s.to_json() == v for s, v in zip(self.subjects, subjects, strict=True)
        )

    def ward(self, ward_id: str) -> Ward:
        try:
            return self._ward_index[ward_id]
        except KeyError:
            raise NotFound(f"ward {ward_id!r} is not in this round", code="unknown_ward") from None

    def issuer_key(self, ward_id: str) -> IssuerPublicKey:
        """The issuer key of a ward of this round (:class:`NotFound` for another ward)."""
        key = self.ward(ward_id).issuer_key
        if key is None:  # pragma: no cover - __post_init__ refuses a ward without a key
            raise ManifestError(f"ward {ward_id}: no issuer key")
        return key

    def has_ward(self, ward_id: object) -> bool:
        return isinstance(ward_id, str) and ward_id in self._ward_index

    def subjects_of(self, ward_id: str) -> tuple[Subject, ...]:
        """The people rated in ``ward_id``, in the manifest's order (empty for another
        ward). Indexed once: a national round asks this of 10,000 wards."""
        return self._subjects_index.get(ward_id, ())

    def trustee_index(self, trustee_id: str) -> int:
        """The 1-based position of a trustee: its Shamir x-coordinate."""
        for i, t in enumerate(self.trustees, start=1):
            if t.id == trustee_id:
                return i
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
        manifest, canonical = cls._parse(obj["manifest"])
        verify_object(obj, "manifest", manifest.organizer_key, canonical=canonical)
        return manifest

    # -- building and parsing ---------------------------------------------------------------

    @classmethod
    def build(
        cls,
        config: RoundConfig,
        *,
        eligible: Mapping[str, int],
        issuer_keys: Mapping[str, IssuerPublicKey],
        organizer_key: VerifyKey,
        log_key: VerifyKey,
        booth: Mapping[str, str] | None = None,
    ) -> Manifest:
        """The manifest of ``config`` with the roster counts and public keys filled in, and
        the booth files the server serves (``booth``, see :attr:`booth`)."""
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
            stated_results_access=config.results_access,
            previous=config.previous,
            witnesses=config.witnesses,
            booth=booth,
        )

    @classmethod
    def from_json(cls, value: object) -> Manifest:
        """Validate ``M`` against every rule of protocol section 4."""
        return cls._parse(value)[0]

    @classmethod
    def _parse(cls, value: object) -> tuple[Manifest, bytes]:
        """:meth:`from_json`, and ``JCS(M)``: canonicalized once, for the check that it can
        be, for its signature and for ``mid`` (which it sets)."""
        keys = {
            "v", "round_id", "title", "district", "origin", "issuance", "voting",
            "questionnaire", "roles", "wards", "subjects", "trustees", "threshold",
            "min_group", "organizer_key", "log_key",
        }  # fmt: skip
        m = obj(
            value, keys, "manifest", optional={"results_access", "previous", "witnesses", "booth"}
        )
        if m["v"] != 1 or isinstance(m["v"], bool):
            raise ManifestError("manifest.v: expected 1")
        try:
            canonical = jcs(m)
        except EncodingError as exc:
            raise ManifestError(f"manifest: {exc.detail}") from exc
        if not isinstance(m["origin"], str):
            raise ManifestError("manifest.origin: expected a string")
        roles = tuple(
            Role.from_json(v, f"roles[{i}]")
            for i, v in enumerate(list_of(m["roles"], "roles", min_len=1))
        )
        wards = []
        for i, v in enumerate(list_of(m["wards"], "wards", min_len=1)):
            what = f"wards[{i}]"
            o = obj(v, {"id", "name", "eligible", "issuer_key"}, what)
            ward_id = wrap(check_id, o["id"], f"{what}.id")
            wards.append(
                Ward(
                    ward_id,
                    wrap(check_label, o["name"], f"{what}.name"),
                    integer(o["eligible"], f"{what}.eligible", low=0),
                    _issuer_key(o["issuer_key"], what, ward_id),
                )
            )
        subjects = [
            Subject.from_json(v, f"subjects[{i}]")
            for i, v in enumerate(list_of(m["subjects"], "subjects", min_len=1))
        ]
        trustees = tuple(
            Trustee.from_json(v, f"trustees[{i}]")
            for i, v in enumerate(list_of(m["trustees"], "trustees", min_len=1))
        )
        manifest = cls(
            round_id=wrap(check_id, m["round_id"], "round_id"),
            title=wrap(check_label, m["title"], "title"),
            district_name=wrap(check_label, m["district"], "district"),
            origin=m["origin"],
            issuance=Window.from_json(m["issuance"], "issuance"),
            voting=Window.from_json(m["voting"], "voting"),
            questionnaire=Questionnaire.from_json(m["questionnaire"]),
            roles=roles,
            wards=tuple(wards),
            subjects=tuple(subjects),
            trustees=trustees,
            threshold=integer(m["threshold"], "threshold", low=1, high=len(trustees)),
            min_group=integer(m["min_group"], "min_group", low=1),
            organizer_key=wrap(VerifyKey.from_b64u, m["organizer_key"], "organizer_key"),
            log_key=wrap(VerifyKey.from_b64u, m["log_key"], "log_key"),
            stated_results_access=(
                _check_results_access(m["results_access"], "results_access")
                if "results_access" in m else None
            ),
            previous=PreviousRound.from_json(m["previous"]) if "previous" in m else None,
            witnesses=wrap(WitnessPolicy.from_json, m["witnesses"]) if "witnesses" in m else None,
            booth=_booth(m["booth"]) if "booth" in m else None,
        )  # fmt: skip
        _check_origin(manifest.origin)
        keys_seen = [w.issuer_key for w in manifest.wards]
        if len(set(keys_seen)) != len(keys_seen):
            raise ManifestError("wards: an issuer key is used by two wards")
        if not manifest._round_trips(m):
            raise ManifestError("manifest: does not round-trip (unexpected value types)")
        # to_json() == m, so JCS(to_json()) is ``canonical``: mid without encoding M again
        manifest.__dict__["mid"] = b64u_encode(sha256(canonical))
        return manifest, canonical


def _booth(value: object) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ManifestError("booth: expected an object of paths to b64u SHA-256 digests")
    return {str(k): str(v) for k, v in value.items()}


def _issuer_key(value: object, what: str, ward_id: str) -> IssuerPublicKey:
    der = b64(value, f"{what}.issuer_key")
    try:
        return IssuerPublicKey(der)
    except EncodingError as exc:
        raise ManifestError(f"ward {ward_id}: issuer_key: {exc.detail}") from exc


def _check_origin(origin: object) -> None:
    """The origin is the checkpoints' first line and the log key's name (protocol section
    6.6), so it must be a signed-note key name: the checkpoint code's own check, which also
    refuses control characters, runs here so that no manifest is signed whose first
    checkpoint cannot be."""
    try:
        check_key_name(origin)
    except EncodingError as exc:
        raise ManifestError(
            "origin: expected a non-empty name without spaces, '+' or control characters"
        ) from exc
