"""Run ``exchange-analytics`` like a user does (subprocess, minimal environment), including a
real ``serve`` on 127.0.0.1, for the CLI and browser tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx


def cli_env(home: Path, **extra: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "EXCHANGE_ANALYTICS_HOME": str(home),
        "MARKET_DATA_PROVIDER": "demo",
        **extra,
    }


def run_cli(
    env: dict[str, str], *args: str, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "exchange_analytics", *args],
        env=env,
        cwd=env["EXCHANGE_ANALYTICS_HOME"],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serving(env: dict[str, str], port: int) -> Iterator[str]:
    """``exchange-analytics serve --port PORT`` until the block ends; yields its base URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "exchange_analytics", "serve", "--port", str(port)],
        env=env,
        cwd=env["EXCHANGE_ANALYTICS_HOME"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"serve exited {process.returncode}: {process.stderr.read()}")
            try:
                httpx.get(f"{base}/static/dashboard.css", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise RuntimeError("serve did not answer within 30 s") from None
                time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
