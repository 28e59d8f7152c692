"""anonballot: anonymous, verifiable e-ballots.

The names below are the library's public API, pinned by ``tests/test_public_api.py``; the
modules they come from (and the one-layer-down protocol objects, docs/library.md) are public
too, each with its own ``__all__``. ``anonballot.hazmat`` is raw math, easy to misuse;
``anonballot.testing`` is demo data and simulation for tests and demos.

::

    import anonballot as ab

    engine = ab.Round.create(ab.MemoryStore(), config, organizer=ab.SigningKey.generate())
    report = ab.audit_record("record.zip")
"""

from .audit import AuditReport, CheckResult, audit_record, render_report
from .codes import format_code, generate_code, normalize_code, pseudonym
from .district import District, Role, Subject, Ward
from .engine import Round
from .errors import (
    AnonBallotError,
    BallotContentError,
    Conflict,
    EncodingError,
    InputError,
    InvalidProof,
    InvalidSignature,
    InvalidToken,
    ManifestError,
    NotFound,
    OpenError,
    RecordError,
    StateError,
    StatementError,
    VerificationError,
)
from .manifest import Manifest, PreviousRound, RoundConfig, Window
from .participant import Participant
from .plans import Plan, PlanExport, PlanItem, Progress, ProgressUpdate
from .questionnaire import CommentField, Criterion, Questionnaire, ScaleLevel, default_questionnaire
from .receipt import Receipt, ReceiptReport, RecordSource, verify_receipt
from .record import Record, write_record
from .series import Series
from .signing import SigningKey, VerifyKey
from .statements import CloseStatement, IssuanceLedger, Results
from .storage import Issuance, MemoryStore, RoundStore
from .tokens import IssuerKey, IssuerPublicKey
from .trustee import HpkePublicKey, Trustee, TrusteeKey

__version__ = "0.2.0"

__all__ = [
    "AnonBallotError",
    "AuditReport",
    "BallotContentError",
    "CheckResult",
    "CloseStatement",
    "CommentField",
    "Conflict",
    "Criterion",
    "District",
    "EncodingError",
    "HpkePublicKey",
    "InputError",
    "InvalidProof",
    "InvalidSignature",
    "InvalidToken",
    "Issuance",
    "IssuanceLedger",
    "IssuerKey",
    "IssuerPublicKey",
    "Manifest",
    "ManifestError",
    "MemoryStore",
    "NotFound",
    "OpenError",
    "Participant",
    "Plan",
    "PlanExport",
    "PlanItem",
    "PreviousRound",
    "Progress",
    "ProgressUpdate",
    "Questionnaire",
    "Receipt",
    "ReceiptReport",
    "Record",
    "RecordError",
    "RecordSource",
    "Results",
    "Role",
    "Round",
    "RoundConfig",
    "RoundStore",
    "ScaleLevel",
    "Series",
    "SigningKey",
    "StateError",
    "StatementError",
    "Subject",
    "Trustee",
    "TrusteeKey",
    "VerificationError",
    "VerifyKey",
    "Ward",
    "Window",
    "__version__",
    "audit_record",
    "default_questionnaire",
    "format_code",
    "generate_code",
    "normalize_code",
    "pseudonym",
    "render_report",
    "verify_receipt",
    "write_record",
]
