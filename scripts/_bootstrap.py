"""Make a script runnable by absolute path, from any directory, without an activated venv.

Cron runs ``python /abs/path/scripts/...py`` with a minimal environment and whatever python3
is on its PATH. If that interpreter is not the project's virtualenv, re-exec the script under
``<project>/.venv/bin/python``; then make sure ``src/`` is importable. Standard library only.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def ensure_project_python(script: str) -> None:
    venv_python = PROJECT_ROOT / ".venv" / "bin" / "python"
    in_venv = Path(sys.prefix).resolve() == (PROJECT_ROOT / ".venv").resolve()
    if not in_venv and venv_python.exists() and not os.environ.get("EXCHANGE_ANALYTICS_NO_REEXEC"):
        os.execv(str(venv_python), [str(venv_python), script, *sys.argv[1:]])  # noqa: S606
    src = str(PROJECT_ROOT / "src")
    if src not in sys.path:
        sys.path.insert(0, src)
