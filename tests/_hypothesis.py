"""Hypothesis profiles: ``quick`` for local runs, ``thorough`` for ``make test`` and CI.

A test states the number of examples the thorough profile runs, ``examples(60)``; the quick
profile runs a fifth of it. The profile comes from ``--hypothesis-profile`` (the Makefile
passes ``thorough``), else the ``HYPOTHESIS_PROFILE`` variable, else ``quick``.
"""

from __future__ import annotations

import os

from hypothesis import settings

__all__ = ["examples"]

THOROUGH_EXAMPLES = 100
QUICK_EXAMPLES = 20

settings.register_profile(
    "thorough", deadline=None, max_examples=THOROUGH_EXAMPLES, print_blob=True
)
settings.register_profile("quick", deadline=None, max_examples=QUICK_EXAMPLES)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "quick"))


def examples(thorough: int) -> int:
    """How many examples to run for a test that runs ``thorough`` in the thorough profile."""
    scale = settings().max_examples / THOROUGH_EXAMPLES
    return max(3, round(thorough * scale))
