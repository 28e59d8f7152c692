"""The public API of ``import anonballot``, pinned (as httpx and Starlette pin theirs).

A change to this list is a change to the library's contract with the district systems that
import it: make it on purpose, with docs/library.md in step.
"""

from __future__ import annotations

import importlib.metadata
import inspect

import anonballot

EXPORTED = [
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


def test_the_public_names_are_pinned() -> None:
    assert sorted(anonballot.__all__) == EXPORTED
    assert len(set(anonballot.__all__)) == len(anonballot.__all__)


def test_every_public_name_is_the_library_s_own() -> None:
    for name in anonballot.__all__:
        if name == "__version__":
            continue
        value = getattr(anonballot, name)
        assert value.__module__.startswith("anonballot."), name
        assert not value.__module__.startswith(("anonballot.hazmat", "anonballot.testing")), name
        assert not name.startswith("_"), name


def test_the_version_is_the_installed_one() -> None:
    assert anonballot.__version__ == importlib.metadata.version("anonballot")


def test_star_import_gives_exactly_the_public_names() -> None:
    namespace: dict[str, object] = {}
    exec("from anonballot import *", namespace)  # noqa: S102 (a fixed statement)
    assert sorted(k for k in namespace if k != "__builtins__") == EXPORTED


def test_public_classes_and_functions_have_docstrings() -> None:
    for name in anonballot.__all__:
        value = getattr(anonballot, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert inspect.getdoc(value), name
