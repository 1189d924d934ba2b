#!/usr/bin/env python3
"""Run statistics over the last 24 h and 7 d (SPEC §2).

Runs `exchange-analytics ops performance-stats`, same flags and output (see --help),
so cron can run it by path.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from _bootstrap import ensure_project_python

ensure_project_python(__file__)

from exchange_analytics.cli.main import main  # noqa: E402

main(["ops", "performance-stats", *sys.argv[1:]])
