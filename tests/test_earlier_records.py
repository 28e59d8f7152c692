"""Records made by earlier versions still audit: the wire formats do not change.

``tests/vectors/records/`` keeps one record from each released version (see the vectors
README for how each was made); the conformance suite's ``record/`` is another.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from anonballot.audit import audit_record

RECORDS = sorted((Path(__file__).parent / "vectors" / "records").glob("*.zip"))


def test_there_are_earlier_records() -> None:
    assert RECORDS


@pytest.mark.parametrize("record", RECORDS, ids=lambda p: p.name)
def test_an_earlier_record_still_audits(record: Path) -> None:
    report = audit_record(record, workers=1)
    assert report.failed() == []
    assert report.passed
