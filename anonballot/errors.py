"""The one exception tree of anonballot.

Every error the library raises on purpose is an :class:`AnonBallotError`. An error carries
meaning only: a stable machine-readable ``code`` (the ``error`` field of the server's JSON
answers) and a ``detail`` sentence. How it is presented is decided at the edge: the server's
one table of HTTP statuses (``anonballot.server.errors``) and the command line's one table of
exit statuses (``anonballot.cli.common``), both keyed by the classes below.

::

    AnonBallotError
    ├── InputError                  bad or unusable input
    │   ├── EncodingError           not canonical JSON, bad base64url, bad identifier
    │   ├── ManifestError           a manifest that breaks the protocol's rules
    │   ├── BallotContentError      a plaintext ballot that is not valid for its ward
    │   ├── RecordError             a round record that cannot be read
    │   └── StatementError          a close statement, ledger or results that breaks 7 or 8
    ├── VerificationError           a signature, token or proof did not verify
    │   ├── InvalidSignature
    │   ├── InvalidToken
    │   ├── InvalidProof
    │   ├── OpenError               a sealed ballot could not be opened; carries a reason code
    │   └── SigningFault            our own signature failed its check (a computation fault)
    ├── NotFound                    unknown round, ward, invitation code
    ├── Conflict                    spent token, code already served
    └── StateError                  the round is not in a state that allows this

Verification functions raise; they never return ``False`` or ``None`` to signal failure.
"""

from __future__ import annotations

__all__ = [
    "AnonBallotError",
    "BallotContentError",
    "Conflict",
    "EncodingError",
    "InputError",
    "InvalidProof",
    "InvalidSignature",
    "InvalidToken",
    "ManifestError",
    "NotFound",
    "OpenError",
    "RecordError",
    "SigningFault",
    "StateError",
    "StatementError",
    "VerificationError",
]


class AnonBallotError(Exception):
    """Base class of every error anonballot raises on purpose."""

    code: str = "error"

    def __init__(self, detail: str, *, code: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code


class InputError(AnonBallotError):
    """The input is malformed or breaks a rule of the protocol's formats."""

    code = "invalid_input"


class EncodingError(InputError):
    """Not canonical JSON (RFC 8785, NFC, integers only), bad base64url or identifier."""

    code = "bad_encoding"


class ManifestError(InputError):
    """A manifest (or the configuration it is built from) breaks the protocol's rules."""

    code = "bad_manifest"


class BallotContentError(InputError):
    """A plaintext ballot is not a valid ballot for its ward."""

    code = "invalid_content"


class StatementError(InputError):
    """A close statement, issuance ledger or results value without the protocol's shape,
    or not for the round (protocol sections 7.1, 7.5 and 8)."""

    code = "bad_statement"


class RecordError(InputError):
    """A round record is missing a file or a file cannot be parsed."""

    code = "bad_record"


class VerificationError(AnonBallotError):
    """A cryptographic check failed."""

    code = "verification_failed"


class SigningFault(VerificationError):
    """A signature this library just made does not verify: a computation fault of the
    machine (RFC 9474 section 7 asks to check before answering, as a faulty RSA signature
    can leak a factor of the key). Nothing was answered or stored; trying again is safe."""

    code = "signing_fault"


class InvalidSignature(VerificationError):
    """An Ed25519 signature, signed note or signed object did not verify."""

    code = "bad_signature"


class InvalidToken(VerificationError):
    """An RSA blind-signature token did not verify under its ward's issuer key."""

    code = "bad_token"


class InvalidProof(VerificationError):
    """A Merkle inclusion or consistency proof did not verify."""

    code = "bad_proof"


class OpenError(VerificationError):
    """A sealed ballot could not be opened.

    ``code`` is one of the protocol's reason codes: ``share_undecryptable``,
    ``shares_inconsistent``, ``bad_key``, ``undecryptable``, ``not_canonical``,
    ``wrong_ward``, ``invalid_content``.
    """

    code = "undecryptable"


class NotFound(AnonBallotError):
    """Something named in the request does not exist."""

    code = "not_found"


class Conflict(AnonBallotError):
    """The request conflicts with what is already stored (a spent token, a served code)."""

    code = "conflict"


class StateError(AnonBallotError):
    """The round is not in a state (or time window) that allows the request."""

    code = "wrong_state"
