"""Where the test data lives (inside the repository, so any clean clone has it)."""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
REAL_DATA = PROJECT_ROOT / "tests" / "data" / "real"
