"""Demo data and simulation for tests, benchmarks and demonstrations (as ``structlog.testing``).

Nothing here is needed to run a real round: the Long Biên demo district has placeholder names,
and the simulated participants' answers are random. A real district builds its own
:class:`~anonballot.district.District` and starts from
:func:`~anonballot.questionnaire.default_questionnaire`.
"""

from __future__ import annotations

from .district import (
    DEMO_TRUSTEES,
    LONG_BIEN_WARDS,
    demo_config,
    demo_roster_sizes,
    long_bien_district,
)
from .simulation import COMMENTS, SimulationSummary, random_answers, simulate

__all__ = [
    "COMMENTS",
    "DEMO_TRUSTEES",
    "LONG_BIEN_WARDS",
    "SimulationSummary",
    "demo_config",
    "demo_roster_sizes",
    "long_bien_district",
    "random_answers",
    "simulate",
]
