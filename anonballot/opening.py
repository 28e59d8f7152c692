"""Opening one leaf (protocol section 7.3), in one place.

Opening is deterministic: the first failing step decides the reason code of an invalid
ballot. Steps 1 to 4 recover the ballot key and decrypt (:class:`Opener`): open the share of
every released trustee, in index order (``share_undecryptable``); interpolate ``f`` from the
``threshold`` lowest indices, and every other released share must lie on ``f``
(``shares_inconsistent``); ``K = f(0)`` must be below 2^256 (``bad_key``); AES-GCM must open
(``undecryptable``). Steps 5 to 7 read the plaintext (:func:`classify_plaintext`):
canonical JSON (``not_canonical``), the leaf's ward (``wrong_ward``), a valid ballot of
section 6.1 (``invalid_content``). Each failure raises :class:`~anonballot.errors.OpenError`
with its code.

:class:`LeafOpener` runs both halves on the leaves of one round; build it once: it reuses the
loaded keys, the Lagrange weights and each ward's ballot rules.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .ballot import BallotRules, validate_ballot
from .encoding import JSONValue, jcs, jcs_checked, parse_json
from .errors import BallotContentError, EncodingError, InputError, OpenError
from .hazmat import shamir
from .leaf import Leaf
from .manifest import Manifest
from .sealing import HPKE_SUITE, KEY_SIZE, SealedBallot, ballot_aad, share_info
from .trustee import TrusteeSecret

__all__ = ["OPEN_REASONS", "LeafOpener", "Opener", "classify_plaintext", "open_sealed"]

OPEN_REASONS = (
    "share_undecryptable",
    "shares_inconsistent",
    "bad_key",
    "undecryptable",
    "not_canonical",
    "wrong_ward",
    "invalid_content",
)
"""The reason codes of an invalid ballot, in the order of the steps of section 7.3."""

_KEY_LIMIT = 1 << (8 * KEY_SIZE)
_AAD_CACHE_LIMIT = 4096


class Opener:
    """Opens many sealed ballots of one round with one fixed set of released trustee keys.

    Construction loads the X25519 keys, builds the HPKE ``info`` of each trustee and the
    Lagrange weights that give ``f(0)`` and ``f(x)`` at each extra released index from the
    ``threshold`` lowest indices. :meth:`open` then costs one HPKE open per released
    trustee, a few 521-bit multiplications and one AES-GCM open.
    """

    def __init__(
        self,
        *,
        round_id: str,
        released: Sequence[TrusteeSecret],
        threshold: int,
    ) -> None:
        if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 1:
            raise InputError(f"threshold must be an integer >= 1, got {threshold!r}")
        ordered = sorted(released, key=lambda t: t.index)
        if len(ordered) < threshold:
            raise InputError(
                f"opening needs at least {threshold} released trustee keys, got {len(ordered)}"
            )
        indices = [t.index for t in ordered]
        if len(set(indices)) != len(indices):
            raise InputError("released trustee indices must be distinct")
        self.round_id = round_id
        self.threshold = threshold
        self.indices: tuple[int, ...] = tuple(indices)
        self._trustees: list[tuple[int, str, X25519PrivateKey, bytes]] = [
            (t.index - 1, t.id, t.private_key.to_cryptography(), share_info(round_id, t.id))
            for t in ordered
        ]
        base = indices[:threshold]
        self._weights0 = shamir.lagrange_weights(base, 0)
        self._checks: list[tuple[int, list[int]]] = [
            (k, shamir.lagrange_weights(base, x)) for k, x in enumerate(indices) if k >= threshold
        ]
        self._aads: dict[str, bytes] = {}

    def _aad(self, ward: str) -> bytes:
        aad = self._aads.get(ward)
        if aad is None:
            aad = ballot_aad(self.round_id, ward)
            if len(self._aads) >= _AAD_CACHE_LIMIT:
                self._aads.clear()
            self._aads[ward] = aad
        return aad

    def open(self, sealed: SealedBallot, *, ward: str) -> bytes:
        """The plaintext of ``sealed`` (cast in ``ward``), or :class:`OpenError` with a reason."""
        # This runs once per ballot in an audit: locals and map() over generators.
        shares = sealed.shares
        if self.indices[-1] > len(shares):
            raise InputError(
                f"released trustee index {self.indices[-1]} but the ballot has {len(shares)} shares"
            )
        aad = self._aads.get(ward) or self._aad(ward)
        prime = shamir.PRIME
        decrypt = HPKE_SUITE.decrypt
        ys: list[int] = []
        for pos, tid, key, info in self._trustees:
            try:
                opened = decrypt(shares[pos], key, info=info)
            except (InvalidTag, ValueError) as exc:
                raise OpenError(
                    f"share of trustee {tid} (index {pos + 1}) does not open",
                    code="share_undecryptable",
                ) from exc
            if len(opened) != shamir.SHARE_BYTES:
                raise OpenError(
                    f"share of trustee {tid} (index {pos + 1}) is {len(opened)} bytes, not 66",
                    code="share_undecryptable",
                )
            y = int.from_bytes(opened, "big")
            if y >= prime:
                raise OpenError(
                    f"share of trustee {tid} (index {pos + 1}) is not below 2^521 - 1",
                    code="share_undecryptable",
                )
            ys.append(y)

        # Each weight list has ``threshold`` entries: map() stops there, at the base shares.
        for k, weights in self._checks:
            if sum(map(operator.mul, weights, ys)) % prime != ys[k]:
                raise OpenError(
                    f"share of trustee {self._trustees[k][1]} (index {self.indices[k]})"
                    " does not lie on the polynomial of the lower shares",
                    code="shares_inconsistent",
                )
        secret = sum(map(operator.mul, self._weights0, ys)) % prime
        if secret >= _KEY_LIMIT:
            raise OpenError("the recovered key f(0) is not below 2^256", code="bad_key")
        try:
            return AESGCM(secret.to_bytes(KEY_SIZE, "big")).decrypt(sealed.nonce, sealed.ct, aad)
        except InvalidTag as exc:
            raise OpenError("the ballot ciphertext does not open", code="undecryptable") from exc


def open_sealed(
    sealed: SealedBallot,
    *,
    round_id: str,
    ward: str,
    released: Sequence[TrusteeSecret],
    threshold: int,
) -> bytes:
    """Open one ballot (protocol 7.3); for many ballots build an :class:`Opener` once."""
    return Opener(round_id=round_id, released=released, threshold=threshold).open(sealed, ward=ward)


def classify_plaintext(
    plaintext: bytes, manifest: Manifest, ward: str, rules: BallotRules | None = None
) -> dict[str, JSONValue]:
    """The valid ballot in ``plaintext``, or :class:`OpenError` with the section 7.3 reason.

    ``not_canonical``: not JSON, or not exactly its own JCS bytes. ``wrong_ward``: an object
    whose ``ward`` is present and differs from the leaf's ward. ``invalid_content``: any other
    rule of a valid ballot broken. ``rules`` (of ``manifest`` and ``ward``) saves working them
    out for each ballot.
    """
    try:
        value = parse_json(plaintext)
    except EncodingError:
        raise OpenError("the plaintext is not canonical JSON", code="not_canonical") from None
    try:
        ballot = validate_ballot(value, manifest, ward, rules)
    except BallotContentError:
        pass  # the reasons in their order, below
    else:
        # A valid ballot holds only ASCII identifiers as keys, NFC text and the integer 1:
        # exactly what jcs() checks, so its JCS is the sorted compact JSON.
        try:
            if jcs_checked(value) == plaintext:
                return ballot
        except EncodingError:
            pass
        raise OpenError("the plaintext is not canonical JSON", code="not_canonical")
    try:
        canonical = jcs(value) == plaintext
    except EncodingError:
        canonical = False
    if not canonical:
        raise OpenError("the plaintext is not canonical JSON", code="not_canonical")
    if isinstance(value, dict) and "ward" in value and value["ward"] != ward:
        raise OpenError("the ballot names another ward", code="wrong_ward")
    try:
        return validate_ballot(value, manifest, ward)
    except BallotContentError as exc:
        raise OpenError(exc.detail, code="invalid_content") from exc


class LeafOpener:
    """Opens leaves of one round with the valid releases, by the rules of section 7.3."""

    def __init__(self, manifest: Manifest, released: Sequence[TrusteeSecret], mid: str) -> None:
        self.manifest = manifest
        self.mid = mid
        self._opener = Opener(round_id=mid, released=released, threshold=manifest.threshold)
        self._rules = {w.id: BallotRules(manifest, w.id) for w in manifest.wards}

    def open(self, leaf: Leaf) -> dict[str, JSONValue]:
        """The valid ballot of ``leaf``, or :class:`OpenError` carrying the reason code."""
        return self.classify(self.decrypt(leaf), leaf)

    def decrypt(self, leaf: Leaf) -> bytes:
        """The plaintext of ``leaf``, or :class:`OpenError` when it does not open."""
        return self._opener.open(leaf.ballot, ward=leaf.ward)

    def classify(self, plaintext: bytes, leaf: Leaf) -> dict[str, JSONValue]:
        """The valid ballot in the ``plaintext`` of ``leaf``, or :class:`OpenError`."""
        return classify_plaintext(plaintext, self.manifest, leaf.ward, self._rules.get(leaf.ward))
