#!/usr/bin/env python3
"""Provider reachability per pair (latest closed 5m candle) and Discord webhook validity.

The Discord check is a GET of the webhook URL (or the bot's channel), which posts nothing.
Exit 0 when everything answered, 1 when something did not, 2 on bad configuration.

Usage: python scripts/test/api_connection_test.py [--provider NAME] [--pairs P,Q] [--json]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from _bootstrap import ensure_project_python

ensure_project_python(__file__)

from exchange_analytics.pipeline.connection_check import main  # noqa: E402

if __name__ == "__main__":
    main()
