"""``exchange-analytics serve`` as a user runs it: safe default address, the token rule, and a
real uvicorn server answering on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

import httpx
from click.testing import CliRunner

from exchange_analytics.cli.main import cli
from tests.web.serving import cli_env, free_port, run_cli, serving


def test_another_host_without_a_token_exits_2_with_one_line(tmp_path: Path) -> None:
    result = run_cli(cli_env(tmp_path), "serve", "--host", "192.0.2.10", "--port", "1")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "DASHBOARD_TOKEN" in lines[0] and "192.0.2.10" in lines[0]


def test_help_names_the_default_address_and_an_example() -> None:
    result = CliRunner().invoke(cli, ["serve", "--help"])
    assert result.exit_code == 0
    assert "127.0.0.1" in result.output and "Example" in result.output


def test_a_busy_port_is_one_line_and_exit_1(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli(cli_env(tmp_path), "serve", "--port", str(port))
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr.strip().splitlines()[-1]


def test_serve_answers_on_loopback_from_a_made_database(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    assert run_cli(env, "db", "upgrade").returncode == 0
    with serving(env, free_port()) as base:
        overview = httpx.get(f"{base}/", timeout=10)
        pairs = httpx.get(f"{base}/api/pairs", timeout=10).json()["pairs"]
        posted = httpx.post(f"{base}/api/pairs", timeout=10)
    assert overview.status_code == 200 and "USD/JPY" in overview.text
    assert pairs[0]["last_bar"] is None and pairs[0]["age"] == "never"
    assert posted.status_code == 405
