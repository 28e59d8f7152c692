"""Plaintext ballots ``B`` (protocol section 6): building and validation.

A ballot is valid for a ward iff it has exactly the keys ``v`` (= 1), ``ward`` and
``answers``; ``answers`` has exactly the ward's subjects; each answer has exactly ``ratings``
and ``comments``; ``ratings`` has every criterion, each a scale id or the abstain id;
``comments`` keys are comment fields, each an NFC string of at most ``max_chars`` code
points. Sorting decrypted bytes into valid and invalid ballots is :mod:`anonballot.opening`.
"""

from __future__ import annotations

from collections.abc import Mapping

from .encoding import JSONValue, is_nfc
from .errors import BallotContentError
from .manifest import Manifest

__all__ = [
    "WHITE_SPACE",
    "Answers",
    "BallotRules",
    "make_ballot",
    "strip_comment",
    "validate_ballot",
]

Answers = Mapping[str, Mapping[str, JSONValue]]
"""A participant's answers (protocol section 6.1): subject id to
``{"ratings": {criterion id: answer id}, "comments": {field id: text}}``; checked by
:func:`validate_ballot`, so it may come straight from untrusted JSON."""

# The Unicode White_Space property: what "surrounding white space" means for comments
# (protocol section 7.4). Not str.strip(), whose idea of white space differs (U+001C..1F).
WHITE_SPACE = (
    "\u0009\u000a\u000b\u000c\u000d\u0020\u0085\u00a0\u1680"
    "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)


def strip_comment(text: str) -> str:
    """A comment without its surrounding White_Space characters."""
    return text.strip(WHITE_SPACE)


def make_ballot(ward: str, answers: Answers) -> dict[str, JSONValue]:
    """``B`` for ``ward``; ``answers`` maps subject id to ``{"ratings": .., "comments": ..}``.

    Empty comments are dropped, so leaving a field blank and leaving it out are the same.
    """
    out: dict[str, JSONValue] = {}
    for subject, answer in answers.items():
        # Malformed parts are passed through unchanged so that validate_ballot rejects them
        # with a BallotContentError, the one error a caller handles for a bad ballot.
        if not isinstance(answer, Mapping):
            out[subject] = answer
            continue
        ratings = answer.get("ratings", {})
        comments = answer.get("comments", {})
        if isinstance(comments, Mapping):
            comments = {
                k: v for k, v in comments.items() if not isinstance(v, str) or strip_comment(v)
            }
        out[subject] = {
            "ratings": dict(ratings) if isinstance(ratings, Mapping) else ratings,
            "comments": comments,
        }
    return {"v": 1, "ward": ward, "answers": out}


_BALLOT_KEYS = frozenset({"v", "ward", "answers"})
_ANSWER_KEYS = frozenset({"ratings", "comments"})


class BallotRules:
    """What a valid ballot of one ward may hold, computed once from the manifest."""

    __slots__ = ("allowed", "criteria", "fields", "subjects", "ward")

    def __init__(self, manifest: Manifest, ward: str) -> None:
        q = manifest.questionnaire
        self.ward = ward
        self.subjects = frozenset(s.id for s in manifest.subjects_of(ward))
        self.criteria = frozenset(c.id for c in q.criteria)
        self.allowed = frozenset(q.answer_ids)
        self.fields = {c.id: c.max_chars for c in q.comments}


def validate_ballot(
    value: object, manifest: Manifest, ward: str, rules: BallotRules | None = None
) -> dict[str, JSONValue]:
    """Raise :class:`BallotContentError` unless ``value`` is a valid ``B`` for ``ward``.

    ``rules`` (of ``manifest`` and ``ward``) saves working them out again for each ballot.
    """
    if rules is None or rules.ward != ward:
        rules = BallotRules(manifest, ward)
    if not isinstance(value, dict) or value.keys() != _BALLOT_KEYS:
        raise BallotContentError("a ballot has exactly the keys v, ward and answers")
    if value["v"] != 1 or isinstance(value["v"], bool):
        raise BallotContentError("ballot v must be 1")
    if value["ward"] != ward:
        raise BallotContentError(f"ballot is for ward {value['ward']!r}, expected {ward!r}")
    answers = value["answers"]
    subjects = rules.subjects
    if not isinstance(answers, dict) or answers.keys() != subjects:
        raise BallotContentError(
            f"answers must cover exactly the ward's subjects: {', '.join(sorted(subjects))}"
        )
    criteria, allowed, fields = rules.criteria, rules.allowed, rules.fields
    for subject, answer in answers.items():
        if not isinstance(answer, dict) or answer.keys() != _ANSWER_KEYS:
            raise BallotContentError(f"{subject}: an answer has exactly ratings and comments")
        ratings, comments = answer["ratings"], answer["comments"]
        if not isinstance(ratings, dict) or ratings.keys() != criteria:
            missing = criteria - set(ratings) if isinstance(ratings, dict) else criteria
            hint = f" (missing {', '.join(sorted(missing))})" if missing else ""
            raise BallotContentError(f"{subject}: ratings must cover every criterion{hint}")
        for criterion, level in ratings.items():
            if not isinstance(level, str) or level not in allowed:
                raise BallotContentError(f"{subject}.{criterion}: {level!r} is not on the scale")
        if not isinstance(comments, dict):
            raise BallotContentError(f"{subject}: comments must be an object")
        for name, text in comments.items():
            if name not in fields:
                raise BallotContentError(f"{subject}: {name!r} is not a comment field")
            if not isinstance(text, str) or not is_nfc(text):
                raise BallotContentError(f"{subject}.{name}: a comment is NFC text")
            if len(text) > fields[name]:
                raise BallotContentError(
                    f"{subject}.{name}: {len(text)} characters, at most {fields[name]} allowed"
                )
    return value
