"""Real bars for the evaluation tests: orkad USD/CHF 5m (UTC) imported with the real CLI.

The file is imported exactly as the README tells a user to (``import FILE --pair USD/CHF
--skip-bad-rows``, ``DAY_BOUNDARY=new_york``), into a real migrated database.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.support.paths import REAL_DATA

CHF_FILE = REAL_DATA / "orkad_USDCHF_5m.csv"
PAIR = "USD/CHF"


def env_for(database_url: str, home: Path, **extra: Any) -> dict[str, str]:
    """The environment of a user of ``home`` with the New York day boundary."""
    return {
        "EXCHANGE_ANALYTICS_HOME": str(home),
        "LOG_FILE": str(home / "logs"),
        "DATABASE_URL": database_url,
        "MARKET_DATA_PROVIDER": "demo",
        "DAY_BOUNDARY": "new_york",
        **{k: str(v) for k, v in extra.items()},
    }


@contextmanager
def environment(env: dict[str, str]) -> Iterator[None]:
    """Set ``env`` in os.environ (settings read it) and restore it afterwards."""
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def invoke(
    env: dict[str, str], *args: str, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """Run the CLI in a child process like cron or a user does (exit code, stdout, stderr)."""
    full = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **env}
    return subprocess.run(
        [sys.executable, "-m", "exchange_analytics", *args],
        env=full,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def import_chf(database_url: str, home: Path) -> None:
    """Import the real USD/CHF file; fail loudly if the import does not work."""
    result = invoke(
        env_for(database_url, home), "import", str(CHF_FILE), "--pair", PAIR, "--skip-bad-rows"
    )
    if result.returncode != 0:
        raise RuntimeError(f"import failed ({result.returncode}): {result.stderr[-2000:]}")
