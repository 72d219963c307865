"""The statistics' mapped classes, imported together so the metadata is complete.

Importing this also registers the rollups' hooks (contacts closing, presence changing), so every
process that loads the models keeps the statistics up to date.
"""

from __future__ import annotations

from console.domain.lead_actions import Overflow
from console.domain.rollups import Rollup, Staffing
from console.domain.wellbeing import Wellbeing

STATS_MODELS = (Overflow, Rollup, Staffing, Wellbeing)
