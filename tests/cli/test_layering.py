"""The layering of STYLE.md, as the import-linter contracts in pyproject.toml, checked in
``make test`` (and so in CI), not only in ``make lint``: an import that points up the pipeline
or lets a pure package reach for I/O fails the suite."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.paths import PROJECT_ROOT

LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def test_import_contracts_hold() -> None:
    result = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout, result.stdout[-2000:]
