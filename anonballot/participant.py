"""The participant's half of the protocol, independent of any transport.

::

    p = Participant(signed_manifest, ward)
    blinded = p.request_token()          # persist p.to_json() before sending
    p.finish_token(blind_sig)            # unblind and verify
    leaf = p.make_leaf(answers)          # validate, seal for the trustees, sign
    receipt = p.check_receipt(answer)    # signature of the checkpoint, inclusion of the leaf

The simulation, the CLI client and the tests share this class. Its state round-trips through
:meth:`to_json` so that a client that loses an answer can retry without losing its vote.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

from .ballot import Answers, make_ballot, validate_ballot
from .encoding import JSONValue, b64u_decode, b64u_encode, jcs
from .errors import BallotContentError, EncodingError, StateError
from .leaf import MAX_LEAF_SIZE, build_leaf, leaf_size
from .manifest import Manifest
from .receipt import Receipt
from .sealing import SealedBallot, seal
from .signing import SigningKey
from .tokens import Token, TokenRequest
from .trustee import TrusteePublic

__all__ = ["Participant"]


class Participant:
    """One participant's token, ballot and receipt for one round."""

    def __init__(self, signed_manifest: Mapping[str, JSONValue], ward: str) -> None:
        self.signed_manifest = dict(signed_manifest)
        self.manifest = Manifest.from_signed(self.signed_manifest)
        self.ward = self.manifest.ward(ward).id
        self.voter_key: SigningKey | None = None
        self.request: TokenRequest | None = None
        self.token: Token | None = None
        self.leaf: bytes | None = None
        self.receipt: Receipt | None = None

    def request_token(self) -> bytes:
        """A fresh voter key and its blinded token request; returns ``blinded``.

        Calling it again returns the same request, so a retry never asks twice.
        """
        if self.request is None:
            self.voter_key = SigningKey.generate()
            self.request = TokenRequest.create(
                self.manifest.issuer_key(self.ward), self.voter_key.public_key
            )
        return self.request.blinded

    def finish_token(self, blind_sig: bytes) -> Token:
        """Unblind the issuer's answer; raises InvalidToken if it does not verify."""
        if self.request is None:
            raise StateError("request a token first", code="no_token_request")
        if self.token is None:
            self.token = self.request.finalize(blind_sig)
        return self.token

    def ballot(self, answers: Answers) -> dict[str, JSONValue]:
        """The plaintext ballot for ``answers``, validated for this ward and small enough for
        a leaf (:meth:`check_fits`)."""
        ballot = make_ballot(self.ward, answers)
        validate_ballot(ballot, self.manifest, self.ward)
        self.check_fits(len(jcs(ballot)))
        return ballot

    def make_leaf(
        self,
        answers: Answers,
        *,
        rng: Callable[[int], bytes] = os.urandom,
    ) -> bytes:
        """Seal and sign the ballot; the same leaf is returned on later calls."""
        if self.leaf is not None:
            return self.leaf
        if self.token is None or self.voter_key is None:
            raise StateError("get a token first", code="no_token")
        sealed = self.seal(jcs(self.ballot(answers)), rng=rng)
        self.leaf = build_leaf(self.manifest.mid, self.ward, self.token, sealed, self.voter_key)
        return self.leaf

    def check_fits(self, plaintext_size: int) -> None:
        """Raise :class:`BallotContentError` (``ballot_too_large``) if a ballot of
        ``plaintext_size`` bytes would make a leaf larger than a leaf may be (protocol
        section 6.3), before anything is sealed; its detail says how much is too much."""
        size = leaf_size(
            ward=self.ward,
            trustees=len(self.manifest.trustees),
            plaintext_size=plaintext_size,
            # a token's signature is exactly the modulus length (section 5.3)
            sig_size=self.manifest.issuer_key(self.ward).modulus_bytes,
        )
        if size > MAX_LEAF_SIZE:
            over = size - MAX_LEAF_SIZE
            raise BallotContentError(
                f"the ballot is too long: its leaf would be {size:,} bytes, {over:,} more than "
                f"the {MAX_LEAF_SIZE:,} a leaf may have; shorten the comments (by about "
                f"{-(-over * 3 // 4):,} bytes of text)",
                code="ballot_too_large",
            )

    def seal(self, plaintext: bytes, *, rng: Callable[[int], bytes] = os.urandom) -> SealedBallot:
        """Seal arbitrary plaintext for this round's trustees (tests use it for bad ballots)."""
        return seal(
            plaintext,
            round_id=self.manifest.mid,
            ward=self.ward,
            trustees=[TrusteePublic(t.id, t.hpke_key) for t in self.manifest.trustees],
            threshold=self.manifest.threshold,
            rng=rng,
        )

    def check_receipt(self, receipt: object) -> Receipt:
        """Verify a cast's answer against the manifest and this participant's leaf."""
        if self.leaf is None:
            raise StateError("cast a ballot first", code="no_leaf")
        parsed = Receipt.from_json(receipt)
        parsed.verify(self.manifest, self.leaf)
        self.receipt = parsed
        return parsed

    def to_json(self) -> dict[str, JSONValue]:
        """The participant's state, secrets included: keep it on the device only."""
        return {
            "manifest": self.signed_manifest,
            "ward": self.ward,
            "voter_seed": b64u_encode(self.voter_key.seed) if self.voter_key else None,
            "request": self.request.to_json() if self.request else None,
            "token": self.token.to_json() if self.token else None,
            "leaf": self.leaf.decode("utf-8") if self.leaf else None,
            "receipt": self.receipt.to_json() if self.receipt else None,
        }

    @classmethod
    def from_json(cls, value: object) -> Participant:
        """Parse :meth:`to_json`'s form; raises :class:`EncodingError` (or the manifest's
        errors)."""
        if not isinstance(value, dict):
            raise EncodingError("participant state: expected an object")
        try:
            p = cls(value["manifest"], value["ward"])
            if value.get("voter_seed"):
                p.voter_key = SigningKey(b64u_decode(value["voter_seed"], length=32))
            if value.get("request"):
                p.request = TokenRequest.from_json(value["request"])
            if value.get("token"):
                p.token = Token.from_json(value["token"])
            if value.get("leaf"):
                p.leaf = str(value["leaf"]).encode("utf-8")
            if value.get("receipt"):
                p.receipt = Receipt.from_json(value["receipt"])
        except KeyError as exc:
            raise EncodingError(f"participant state: missing {exc}") from exc
        return p
