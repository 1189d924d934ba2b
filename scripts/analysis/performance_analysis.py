#!/usr/bin/env python3
"""The monthly system report (text, --json, --plot FILE.png); monthly from cron.

Runs `exchange-analytics ops analysis`, same flags and output (see --help),
so cron can run it by path.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from _bootstrap import ensure_project_python

ensure_project_python(__file__)

from exchange_analytics.cli.main import main  # noqa: E402

main(["ops", "analysis", *sys.argv[1:]])
