"""Render ``crontab/updated_crontab.txt`` for this installation (``exchange-analytics crontab``).

The template names ``{PROJECT_ROOT}``, ``{PYTHON}``, ``{LOG_DIR}``, ``{INSTALL_HOME}`` and an
``{ENVIRONMENT}`` line. Rendering fills them with absolute, shell-quoted paths (``%`` escaped,
since cron turns a bare ``%`` into a newline) and replaces the template's header comment with
one saying what was rendered for whom.

The log directory is resolved the way the cron jobs will resolve it: from the installation's
``.env`` only, because cron does not pass on the variables of the shell that installed the
crontab. When the installation home is not the source checkout (``--home``, or
EXCHANGE_ANALYTICS_HOME in this shell), an ``EXCHANGE_ANALYTICS_HOME=...`` cron variable line
is emitted so every job finds the same home; a standard install needs no variable at all.
"""

from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

import exchange_analytics
from exchange_analytics.config.settings import installation_home, load_settings
from exchange_analytics.errors import ConfigurationError

PROJECT_ROOT = Path(exchange_analytics.__file__).resolve().parents[2]
TEMPLATE = PROJECT_ROOT / "crontab" / "updated_crontab.txt"
PLACEHOLDERS = ("{PROJECT_ROOT}", "{PYTHON}", "{LOG_DIR}", "{INSTALL_HOME}")


@dataclass(frozen=True)
class CrontabPaths:
    project_root: Path
    python: Path
    log_dir: Path
    home: Path
    #: Cron variable lines (NAME -> value) the jobs need.
    environment: dict[str, str]


def project_python(project_root: Path = PROJECT_ROOT) -> Path:
    """The checkout's virtualenv interpreter (unresolved: the venv symlink is the point)."""
    venv = project_root / ".venv" / "bin" / "python"
    return venv if venv.exists() else Path(sys.executable)


def resolve_paths(home: Path | None = None, project_root: Path = PROJECT_ROOT) -> CrontabPaths:
    """Paths as the cron jobs will see them; ``home`` overrides the installation home."""
    if not (project_root / "scripts" / "cron" / "continuous_processing_cron.py").is_file():
        raise ConfigurationError(
            f"no scripts/ beside the package at {project_root}: the crontab runs the scripts "
            "of a source checkout (git clone + make)"
        )
    default_home = installation_home({})
    target = home.expanduser().resolve() if home is not None else installation_home()
    environment = {} if target == default_home else {"EXCHANGE_ANALYTICS_HOME": str(target)}
    settings = load_settings(environment)
    return CrontabPaths(
        project_root=project_root,
        python=project_python(project_root),
        log_dir=settings.log_dir,
        home=target,
        environment=environment,
    )


def _shell_path(path: Path) -> str:
    return shlex.quote(str(path)).replace("%", "\\%")


def _header(lines: list[str]) -> int:
    """Number of leading comment lines (the template's own header)."""
    count = 0
    for line in lines:
        if not line.startswith("#"):
            break
        count += 1
    return count


def render(paths: CrontabPaths, template: str | None = None) -> str:
    text = TEMPLATE.read_text(encoding="utf-8") if template is None else template
    lines = text.splitlines()
    body = lines[_header(lines) :]
    values = {
        "{PROJECT_ROOT}": _shell_path(paths.project_root),
        "{PYTHON}": _shell_path(paths.python),
        "{LOG_DIR}": _shell_path(paths.log_dir),
        "{INSTALL_HOME}": _shell_path(paths.home),
    }
    out = [
        "# Exchange Analytics crontab, rendered by `exchange-analytics crontab` from",
        f"# {TEMPLATE} for the installation at {paths.home}.",
        "# Install: exchange-analytics crontab > /tmp/ea.cron && crontab /tmp/ea.cron",
        "# (that replaces the current crontab: merge `crontab -l` into the file first).",
    ]
    for line in body:
        if line.strip() == "{ENVIRONMENT}":
            if paths.environment:
                out.append("# Where the installation lives (its .env, data/ and logs/):")
                out.extend(f"{name}={value}" for name, value in paths.environment.items())
            continue
        for token, value in values.items():
            line = line.replace(token, value)
        out.append(line)
    return "\n".join(out).rstrip() + "\n"


def install_hint(paths: CrontabPaths) -> str:
    """Comment lines on installing and checking the crontab (safe to pipe into crontab)."""
    logs = paths.log_dir
    return "\n".join(
        [
            "#",
            "# To install (keeps nothing else: merge your own lines first):",
            "#   crontab -l > /tmp/crontab.before 2>/dev/null; "
            "exchange-analytics crontab > /tmp/ea.cron",
            "#   crontab /tmp/ea.cron && crontab -l | grep continuous_processing_cron",
            "# After 5 minutes:",
            f"#   tail -n 3 {logs}/continuous_processing_cron.log; tail {logs}/cron_output.log",
            f"#   {paths.project_root}/.venv/bin/exchange-analytics health",
        ]
    )
