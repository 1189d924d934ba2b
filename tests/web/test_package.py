"""The dashboard ships whole and keeps to its layer: every template and static file is package
data (a non-editable install serves the same pages), and ``web/`` never imports SQLAlchemy."""

from __future__ import annotations

import ast
import tomllib

from tests.support.paths import PROJECT_ROOT

WEB = PROJECT_ROOT / "src" / "exchange_analytics" / "web"


def test_every_template_and_static_file_is_package_data() -> None:
    config = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["exchange_analytics.web"]
    files = [
        p.relative_to(WEB).as_posix()
        for folder in ("templates", "static")
        for p in (WEB / folder).rglob("*")
        if p.is_file()
    ]
    assert "static/vendor/lightweight-charts/LICENSE" in files
    shipped = {p.relative_to(WEB).as_posix() for pattern in patterns for p in WEB.glob(pattern)}
    missing = sorted(set(files) - shipped)
    assert missing == [], f"add to [tool.setuptools.package-data]: {missing}"


def test_web_does_not_import_sqlalchemy() -> None:
    for path in WEB.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            assert not any(n.split(".")[0] == "sqlalchemy" for n in names), path.name


def test_no_inline_script_or_style_in_templates() -> None:
    for path in (WEB / "templates").glob("*.html"):
        text = path.read_text()
        assert "<script>" not in text and "<style" not in text and " style=" not in text, path
        assert " on" + "click=" not in text and " on" + "load=" not in text, path
