#!/usr/bin/env python3
"""Cron entry point: one system cycle (= ``exchange-analytics cycle``), every 5 minutes.

Usage (see --help): python /abs/path/scripts/cron/continuous_processing_cron.py [--mode ...]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from _bootstrap import ensure_project_python

ensure_project_python(__file__)

from exchange_analytics.cli.main import main  # noqa: E402

if __name__ == "__main__":
    main(["cycle", *sys.argv[1:]])
