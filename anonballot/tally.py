"""The tally (protocol sections 7.4 and 7.5): counting opened ballots into the results.

:class:`TallyBuilder` counts the ballots that :class:`~anonballot.opening.LeafOpener` opens;
partial builders from several workers :meth:`merge` into one, so the audit can spread the
work over processes. The result does not depend on board order: counts are sums and
comments are sorted by code point.
"""

from __future__ import annotations

import functools
import itertools
import re
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import TypeVar, cast

from .ballot import WHITE_SPACE, strip_comment
from .encoding import JSONValue, b64u_encode, jcs, jcs_checked
from .errors import OpenError
from .leaf import Leaf
from .manifest import Manifest
from .opening import LeafOpener
from .spill import SortedSpill
from .statements import (
    CriteriaCounts,
    DistrictResult,
    InvalidBallot,
    Results,
    RoleResult,
    SubjectResult,
    WardCounts,
)

__all__ = ["WHITE_SPACE", "RecomputedResults", "TallyBuilder", "strip_comment"]

T = TypeVar("T")


class TallyBuilder:
    """Counts of ballots, valid and invalid, per ward, subject, role and the district."""

    def __init__(self, manifest: Manifest, *, spill: bool = False) -> None:
        self.manifest = manifest
        self.cast: dict[str, int] = {}
        self.valid: dict[str, int] = {}
        self.counts: dict[str, dict[str, dict[str, int]]] = {}
        self.comments: dict[str, dict[str, list[str]]] = {}
        self.invalid: list[tuple[int, str]] = []
        self.comment_keys: list[bytes] = []
        self.comment_counts: dict[bytes, int] = {}
        """With :attr:`comment_keys`: their number by (subject, field) prefix."""
        """Comments packed by :meth:`pack_comments` (an audit's worker does it)."""
        self._spilled = _Spilled(manifest) if spill else None
        """With ``spill`` (the auditor's builder, which only merges): what :meth:`merge`
        takes in of comments and invalid ballots goes to temporary files, not to
        :attr:`comments` and :attr:`invalid`, and :meth:`recomputed` gives the results."""

    def add(self, index: int, leaf: Leaf, opener: LeafOpener) -> str | None:
        """Open and count one leaf; return the reason code when it is an invalid ballot."""
        self.cast[leaf.ward] = self.cast.get(leaf.ward, 0) + 1
        try:
            ballot = opener.open(leaf)
        except OpenError as exc:
            self.invalid.append((index, exc.code))
            return exc.code
        self.add_valid(leaf.ward, ballot)
        return None

    def add_all(self, leaves: Sequence[tuple[int, Leaf]], opener: LeafOpener) -> None:
        """:meth:`add` for many ``(index, leaf)``: every ballot decrypted first, then each one
        classified and counted (two tight loops run faster than one that alternates)."""
        opened: list[tuple[int, Leaf, bytes | OpenError]] = []
        for index, leaf in leaves:
            try:
                opened.append((index, leaf, opener.decrypt(leaf)))
            except OpenError as exc:
                opened.append((index, leaf, exc))
        for index, leaf, plaintext in opened:
            self.cast[leaf.ward] = self.cast.get(leaf.ward, 0) + 1
            try:
                if isinstance(plaintext, OpenError):
                    raise plaintext
                ballot = opener.classify(plaintext, leaf)
            except OpenError as exc:
                self.invalid.append((index, exc.code))
                continue
            self.add_valid(leaf.ward, ballot)

    def add_valid(self, ward: str, ballot: Mapping[str, JSONValue]) -> None:
        self.valid[ward] = self.valid.get(ward, 0) + 1
        # A valid ballot (validate_ballot): each answer's ratings and comments map ids to text.
        answers = cast("dict[str, dict[str, dict[str, str]]]", ballot["answers"])
        for subject, answer in answers.items():
            per_criterion = self.counts.setdefault(subject, {})
            for criterion, level in answer["ratings"].items():
                levels = per_criterion.setdefault(criterion, {})
                levels[level] = levels.get(level, 0) + 1
            texts = self.comments.setdefault(subject, {})
            for name, text in answer["comments"].items():
                stripped = strip_comment(text)
                if stripped:
                    texts.setdefault(name, []).append(stripped)

    def merge(self, other: TallyBuilder) -> None:
        for ward, n in other.cast.items():
            self.cast[ward] = self.cast.get(ward, 0) + n
        for ward, n in other.valid.items():
            self.valid[ward] = self.valid.get(ward, 0) + n
        for subject, per_criterion in other.counts.items():
            mine = self.counts.setdefault(subject, {})
            for criterion, levels in per_criterion.items():
                target = mine.setdefault(criterion, {})
                for level, n in levels.items():
                    target[level] = target.get(level, 0) + n
        if self._spilled is not None:
            self._spilled.add(other.comments, other.invalid)
            if other.comment_keys:
                self._spilled.comments.extend(other.comment_keys)
                counts = self._spilled.counts
                for prefix, n in other.comment_counts.items():
                    counts[prefix] = counts.get(prefix, 0) + n
            return
        if other.comment_keys:
            raise ValueError("packed comments merge only into a builder made with spill=True")
        for subject, fields in other.comments.items():
            mine_c = self.comments.setdefault(subject, {})
            for name, texts in fields.items():
                mine_c.setdefault(name, []).extend(texts)
        self.invalid.extend(other.invalid)

    def pack_comments(self) -> None:
        """Turn :attr:`comments` into :attr:`comment_keys`, the byte strings a spilled
        builder sorts: done by an audit's worker, so that the main process only adds them."""
        prefixes = comment_prefixes(self.manifest)
        keys = self.comment_keys
        for subject, fields in self.comments.items():
            for name, texts in fields.items():
                prefix = prefixes[subject, name]
                keys.extend([prefix + t.encode("utf-8", "surrogatepass") for t in texts])
                self.comment_counts[prefix] = self.comment_counts.get(prefix, 0) + len(texts)
        self.comments = {}

    @property
    def invalid_count(self) -> int:
        """Invalid ballots counted (spilled or not)."""
        spilled = len(self._spilled.invalid_index) if self._spilled is not None else 0
        return len(self.invalid) + spilled

    def first_invalid(self, n: int) -> list[tuple[int, str]]:
        """The first ``n`` invalid ballots by leaf index, as ``(index, reason)``."""
        if self._spilled is None:
            return sorted(self.invalid)[:n]
        self._spilled.add({}, self.invalid)
        self.invalid = []
        return [(i.leaf_index, i.reason) for i in itertools.islice(self._spilled.invalid(), n)]

    def recomputed(
        self,
        *,
        mid: str,
        tree_size: int,
        root: bytes,
        trustees: Iterable[str],
        issued: Mapping[str, int],
    ) -> RecomputedResults:
        """:meth:`results` of a builder made with ``spill``: the counts in memory, the
        comments and the invalid ballots read back from the temporary files when asked."""
        if self._spilled is None:
            raise ValueError("recomputed() is for a builder made with spill=True")
        self._spilled.add(self.comments, self.invalid)
        self.comments, self.invalid = {}, []
        counts = self.results(
            mid=mid, tree_size=tree_size, root=root, trustees=trustees, issued=issued
        )
        return RecomputedResults(counts, self._spilled)

    def __getstate__(self) -> dict[str, object]:
        state = dict(self.__dict__)
        state["manifest"] = None  # the receiver has its own; keeps pickles small
        return state

    def results(
        self,
        *,
        mid: str,
        tree_size: int,
        root: bytes,
        trustees: Iterable[str],
        issued: Mapping[str, int],
    ) -> Results:
        """The results of section 7.5 (unsigned)."""
        m = self.manifest
        q = m.questionnaire
        levels = q.answer_ids

        def zero() -> dict[str, dict[str, int]]:
            return {c.id: dict.fromkeys(levels, 0) for c in q.criteria}

        def add_into(target: dict[str, dict[str, int]], source: CriteriaCounts) -> None:
            for criterion, per_level in source.items():
                for level, n in per_level.items():
                    target[criterion][level] += n

        wards: dict[str, WardCounts] = {}
        for w in m.wards:
            ballots = self.cast.get(w.id, 0)
            valid = self.valid.get(w.id, 0)
            wards[w.id] = WardCounts(
                w.eligible, issued.get(w.id, 0), ballots, valid, ballots - valid
            )
        subjects: dict[str, SubjectResult] = {}
        role_subjects = dict.fromkeys((r.id for r in m.roles), 0)
        role_ballots = dict.fromkeys((r.id for r in m.roles), 0)
        role_criteria = {r.id: zero() for r in m.roles}
        district = zero()
        for s in m.subjects:
            criteria = zero()
            add_into(criteria, self.counts.get(s.id, {}))
            texts = self.comments.get(s.id, {})
            valid = self.valid.get(s.ward, 0)
            subjects[s.id] = SubjectResult(
                s.ward,
                s.role,
                valid,
                criteria,
                {c.id: tuple(sorted(texts.get(c.id, []))) for c in q.comments},
            )
            role_subjects[s.role] += 1
            role_ballots[s.role] += valid
            add_into(role_criteria[s.role], criteria)
            add_into(district, criteria)
        return Results(
            round=mid,
            tree_size=tree_size,
            root=root,
            trustees=tuple(trustees),
            wards=wards,
            subjects=subjects,
            roles={
                r: RoleResult(role_subjects[r], role_ballots[r], role_criteria[r])
                for r in role_subjects
            },
            district=DistrictResult(sum(self.valid.values()), district),
            invalid=tuple(InvalidBallot(i, r) for i, r in sorted(self.invalid)),
        )


def _jcs_order(key: str) -> bytes:
    """The order of JCS object members (RFC 8785: by UTF-16 code units)."""
    return key.encode("utf-16-be", "surrogatepass")


_PREFIXES: dict[str, tuple[list[tuple[str, str]], dict[tuple[str, str], bytes]]] = {}


def _comment_order(
    manifest: Manifest,
) -> tuple[list[tuple[str, str]], dict[tuple[str, str], bytes]]:
    """The (subject, comment field) pairs in the order the results' JCS lists them, and
    the 4-byte rank of each that prefixes its comments when they are spilled (by mid)."""
    cached = _PREFIXES.get(manifest.mid)
    if cached is None:
        subjects = sorted((s.id for s in manifest.subjects), key=_jcs_order)
        fields = sorted((c.id for c in manifest.questionnaire.comments), key=_jcs_order)
        order = [(s, f) for s in subjects for f in fields]
        cached = order, {pair: i.to_bytes(4, "big") for i, pair in enumerate(order)}
        if len(_PREFIXES) > 16:
            _PREFIXES.clear()
        _PREFIXES[manifest.mid] = cached
    return cached


def comment_prefixes(manifest: Manifest) -> dict[tuple[str, str], bytes]:
    return _comment_order(manifest)[1]


class _Spilled:
    """The comments and invalid ballots of an auditor's tally, on disk.

    Each comment is one byte string: 4 bytes, the rank of its (subject, field) in the order
    the results' JCS lists them, then its UTF-8 text. Sorted bytewise, they come out grouped
    by field in that order and each field's texts sorted by code point (UTF-8 preserves
    it), as section 7.4 lists them. The invalid ballots (leaf index, reason code) are two
    compact arrays: the board's chunks arrive in order, so they are sorted already.
    """

    def __init__(self, manifest: Manifest) -> None:
        self.order, self.prefix = _comment_order(manifest)
        self.comments = SortedSpill()
        self.counts: dict[bytes, int] = {}
        """Comments by their (subject, field) prefix."""
        self.invalid_index = array("q")
        self.invalid_reason = array("H")
        self.reasons: list[str] = []
        self._reason_ids: dict[str, int] = {}
        self._sorted = True

    def add(
        self, comments: Mapping[str, Mapping[str, list[str]]], invalid: list[tuple[int, str]]
    ) -> None:
        spill = self.comments
        for subject, fields in comments.items():
            for name, texts in fields.items():
                prefix = self.prefix[subject, name]
                spill.extend([prefix + t.encode("utf-8", "surrogatepass") for t in texts])
                self.counts[prefix] = self.counts.get(prefix, 0) + len(texts)
        ids = self._reason_ids
        for index, reason in invalid:
            rid = ids.get(reason)
            if rid is None:
                rid = ids[reason] = len(self.reasons)
                self.reasons.append(reason)
            if self.invalid_index and index < self.invalid_index[-1]:
                self._sorted = False
            self.invalid_index.append(index)
            self.invalid_reason.append(rid)

    def invalid(self) -> Iterator[InvalidBallot]:
        if not self._sorted:
            pairs = sorted(zip(self.invalid_index, self.invalid_reason, strict=True))
            self.invalid_index = array("q", (i for i, _ in pairs))
            self.invalid_reason = array("H", (r for _, r in pairs))
            self._sorted = True
        reasons = self.reasons
        for index, rid in zip(self.invalid_index, self.invalid_reason, strict=True):
            yield InvalidBallot(index, reasons[rid])


_MARK = re.compile(rb'\["\\u0000@(\d+|i|w|s)"\]')
r"""A placeholder list in the JCS of the counts: ``["\u0000@<rank>"]`` stands for a comment
field's texts, ``["\u0000@i"]`` for the invalid ballots (no id holds a control character)."""


class RecomputedResults:
    """The results an audit recomputed (section 7.5), with the comments and the invalid
    ballots on temporary files: a round of a million ballots has about as many comments.

    :attr:`counts` is every count, in memory (its comment lists and invalid list are empty);
    :meth:`comments` and :meth:`invalid` read the rest back in order; :meth:`iter_jcs`
    streams the canonical bytes of the whole value; :meth:`to_results` and :meth:`to_json`
    build it whole in memory (they cost what the comments cost).
    """

    def __init__(self, counts: Results, spilled: _Spilled) -> None:
        self.counts = counts
        self._spilled = spilled

    @property
    def comment_count(self) -> int:
        return self._spilled.comments.count

    @property
    def invalid_count(self) -> int:
        return len(self._spilled.invalid_index)

    def _grouped(self) -> Iterator[tuple[int, list[str]]]:
        """(rank, texts) for each comment field with texts, in rank order."""
        rank = -1
        texts: list[str] = []
        for item in self._spilled.comments:
            r = int.from_bytes(item[:4], "big")
            if r != rank:
                if texts:
                    yield rank, texts
                rank, texts = r, []
            texts.append(item[4:].decode("utf-8", "surrogatepass"))
        if texts:
            yield rank, texts

    def comments(self, subject: str, field: str) -> Iterator[str]:
        """The texts of one comment field, sorted by code point."""
        prefix = self._spilled.prefix[subject, field]
        for item in self._spilled.comments:
            if item[:4] == prefix:
                yield item[4:].decode("utf-8", "surrogatepass")

    def invalid(self) -> Iterator[InvalidBallot]:
        """The invalid ballots, by leaf index."""
        return self._spilled.invalid()

    def to_results(self) -> Results:
        """The whole results, comments included, in memory."""
        per: dict[str, dict[str, tuple[str, ...]]] = {}
        order = self._spilled.order
        for rank, texts in self._grouped():
            subject, name = order[rank]
            per.setdefault(subject, {})[name] = tuple(texts)
        subjects = {
            sid: replace(r, comments={f: per.get(sid, {}).get(f, ()) for f in r.comments})
            for sid, r in self.counts.subjects.items()
        }
        return replace(self.counts, subjects=subjects, invalid=tuple(self.invalid()))

    def to_json(self) -> dict[str, JSONValue]:
        """``to_results().to_json()``."""
        return self.to_results().to_json()

    def streamed_json(self) -> dict[str, JSONValue]:
        """The value of :meth:`to_json` for json's pure-Python encoder
        (``json.JSONEncoder(indent=...).iterencode``, or ``json.dump`` with an indent): its
        comment lists and invalid list are read from disk while the encoder writes them,
        so that memory does not grow with them. The subjects and the comment fields are
        in the order of the results' JCS (the order they are stored in). Each list can be
        written once, in that order (RuntimeError otherwise): this is for one dump."""
        value = self.counts.to_json()
        order = self._spilled.order
        prefix = self._spilled.prefix
        cursor = _Cursor(self._grouped())
        subjects = cast("dict[str, dict[str, JSONValue]]", value["subjects"])
        ordered: dict[str, JSONValue] = {}
        for sid in dict.fromkeys(s for s, _ in order):
            subject = subjects[sid]
            fields = cast("dict[str, JSONValue]", subject["comments"])
            subject["comments"] = {
                f: _Streamed(
                    self._spilled.counts.get(prefix[sid, f], 0),
                    functools.partial(cursor.take, int.from_bytes(prefix[sid, f], "big")),
                )
                for _, f in (pair for pair in order if pair[0] == sid)
                if f in fields
            }
            ordered[sid] = subject
        value["subjects"] = ordered
        value["invalid"] = _Streamed(
            self.invalid_count,
            lambda: ({"leaf_index": b.leaf_index, "reason": b.reason} for b in self.invalid()),
        )
        return value

    def iter_jcs(self) -> Iterator[bytes]:
        """The JCS bytes of :meth:`to_json`, in pieces (each person rated's, each ward's, and
        each comment field's texts, of at most about 64 KiB each): neither the comments nor
        the counts are encoded whole (a national round counts 20,000 people rated)."""
        counts = self.counts
        top: dict[str, JSONValue] = {
            "round": counts.round,
            "tree_size": counts.tree_size,
            "root": b64u_encode(counts.root),
            "trustees": list(counts.trustees),
            "wards": ["\u0000@w"],
            "subjects": ["\u0000@s"],
            "roles": {r: v.to_json() for r, v in counts.roles.items()},
            "district": counts.district.to_json(),
            "invalid": ["\u0000@i"],
        }
        groups = self._grouped()
        pending = [next(groups, None)]
        last = [-1]
        rank = self._spilled.prefix

        def subject(sid: str, result: SubjectResult) -> Iterator[bytes]:
            value = result.to_json()
            value["comments"] = {
                f: ["\u0000@" + str(int.from_bytes(rank[sid, f], "big"))]
                for f in cast("dict[str, JSONValue]", value["comments"])
            }
            for i, piece in enumerate(_MARK.split(jcs(value))):
                if i % 2 == 0:
                    yield piece
                    continue
                r = int(piece)
                if r <= last[0]:
                    raise RuntimeError("comment fields out of JCS order")  # not for any input
                last[0] = r
                held = pending[0]
                if held is not None and held[0] == r:
                    yield from _json_list(jcs_checked(t) for t in held[1])
                    pending[0] = next(groups, None)
                else:
                    yield b"[]"

        for i, piece in enumerate(_MARK.split(jcs(top))):
            if i % 2 == 0:
                yield piece
            elif piece == b"i":
                yield from _json_list(
                    (b'{"leaf_index":%d,"reason":%s}' % (b.leaf_index, jcs(b.reason)))
                    for b in self.invalid()
                )
            elif piece == b"w":
                yield from _json_map(counts.wards, lambda _, c: iter((jcs(c.to_json()),)))
            else:  # the people rated, each with its comment fields' texts from disk
                yield from _json_map(counts.subjects, subject)
        if pending[0] is not None:
            raise RuntimeError("comments of a field the results do not list")


def _json_map(
    items: Mapping[str, T], encode: Callable[[str, T], Iterator[bytes]]
) -> Iterator[bytes]:
    """The JCS of a JSON object whose values ``encode`` gives as pieces: its members in the
    order of RFC 8785 (the keys' UTF-16 code units; ids are ASCII, so Python's order)."""
    yield b"{"
    for n, key in enumerate(sorted(items, key=lambda k: k.encode("utf-16-be"))):
        yield (b"," if n else b"") + jcs(key) + b":"
        yield from encode(key, items[key])
    yield b"}"


class _Cursor:
    """One pass over the comment groups, taken in rank order by :class:`_Streamed` lists."""

    def __init__(self, groups: Iterator[tuple[int, list[str]]]) -> None:
        self.groups = groups
        self.pending = next(groups, None)
        self.last = -1

    def take(self, rank: int) -> Iterator[JSONValue]:
        if rank <= self.last:
            raise RuntimeError("streamed comment lists written out of order, or twice")
        self.last = rank
        while self.pending is not None and self.pending[0] < rank:
            self.pending = next(self.groups, None)  # a field the encoder did not ask for
        if self.pending is not None and self.pending[0] == rank:
            texts = self.pending[1]
            self.pending = next(self.groups, None)
            return iter(texts)
        return iter(())


class _Streamed(list[JSONValue]):
    """A list for json's pure-Python encoder, which asks whether it is empty and then
    iterates it: its items come from ``items()`` when it is iterated."""

    def __init__(self, length: int, items: Callable[[], Iterator[JSONValue]]) -> None:
        super().__init__()
        self._length = length
        self._items = items

    def __len__(self) -> int:
        return self._length

    def __bool__(self) -> bool:
        return self._length > 0

    def __iter__(self) -> Iterator[JSONValue]:
        return self._items()


def _json_list(items: Iterable[bytes], block: int = 64 * 1024) -> Iterator[bytes]:
    out = [b"["]
    size = 1
    for item in items:
        if size > 1:
            out.append(b",")
        out.append(item)
        size += len(item) + 1
        if size >= block:
            yield b"".join(out)
            out, size = [], 2  # not the first item any more
    out.append(b"]")
    yield b"".join(out)
