"""The report's tests reuse the boards' hand-made organisation (tests/dashboards/board_data.py)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "dashboards"))
