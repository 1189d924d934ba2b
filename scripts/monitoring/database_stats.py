#!/usr/bin/env python3
"""Rows, first/last bar and gap count per pair x timeframe; table sizes (SPEC §2).

Usage (see --help): python /abs/path/scripts/monitoring/database_stats.py [options]
The logic lives in exchange_analytics.reports.dbstats;
this file only makes it runnable by path under cron.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from _bootstrap import ensure_project_python

ensure_project_python(__file__)

from exchange_analytics.reports.dbstats import main  # noqa: E402

if __name__ == "__main__":
    main(sys.argv[1:])
