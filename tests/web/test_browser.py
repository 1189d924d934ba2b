"""The dashboard in a real headless Chromium (Debian's package, driven by Playwright), on a
database made the way ``make run`` makes it (db upgrade + one demo cycle) plus a replay of the
last two days, so the chart has detections to mark.

Asserts: no console error or page error, the candle chart is drawn (series length and candle
colours on the canvas), hovering a detection marker shows its details. Screenshots are kept in
``tests/artifacts/web/`` (ignored by git) for a person to look at.

Without Chromium this skips, saying so; with ``REQUIRE_BROWSER=1`` (CI) it fails instead.
"""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.support.paths import PROJECT_ROOT
from tests.web.serving import cli_env, free_port, run_cli, serving

CHROMIUM = os.environ.get("CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
ARTIFACTS = PROJECT_ROOT / "tests" / "artifacts" / "web"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
UP, DOWN = (38, 166, 154), (239, 83, 80)  # the candle colours pair.js draws with


def _require_browser() -> None:
    if not Path(CHROMIUM).exists():
        message = f"no Chromium at {CHROMIUM} (apt-get install chromium, or set CHROMIUM)"
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(f"REQUIRE_BROWSER=1 but {message}")
        pytest.skip(message)


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    _require_browser()
    home = tmp_path_factory.mktemp("make_run")
    env = cli_env(home)
    for args in (("db", "upgrade"), ("cycle", "--provider", "demo")):
        done = run_cli(env, *args)
        assert done.returncode == 0, done.stderr
    now = datetime.now(UTC)
    replayed = run_cli(
        env,
        "replay",
        "--pair",
        "USD/JPY",
        "--from",
        (now - timedelta(days=2)).isoformat(),
        "--to",
        now.isoformat(),
    )
    assert replayed.returncode == 0, replayed.stderr
    with serving(env, free_port()) as base:
        yield base


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    _require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    tab = context.new_page()
    problems: list[str] = []
    tab.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    tab.problems = problems
    yield tab
    context.close()


def _shot(page: Any, name: str, full: bool = True) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full)
    print(f"screenshot: {path}")
    return path


def _colour_pixels(png: bytes, colour: tuple[int, int, int], tolerance: int = 12) -> int:
    import numpy as np
    from PIL import Image

    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)
    close = np.abs(pixels - np.array(colour, dtype=np.int16)) <= tolerance
    return int(close.all(axis=2).sum())


def test_overview_loads_cleanly(dashboard: str, page: Any) -> None:
    response = page.goto(f"{dashboard}/")
    assert response.status == 200
    assert page.locator("text=USD/JPY").first.is_visible()
    assert page.locator("svg rect.run-success").count() >= 1
    _shot(page, "overview")
    assert page.problems == []


@pytest.mark.parametrize("tf", ["5m", "1h"])
def test_pair_chart_draws_candles_and_marker_details(dashboard: str, page: Any, tf: str) -> None:
    page.goto(f"{dashboard}/pairs/USD_JPY?tf={tf}")
    page.wait_for_selector("#chart[data-ready='1']", timeout=20_000)
    drawn = page.evaluate(
        "() => ({bars: window.eaDashboard.candles.data().length,"
        " markers: window.eaDashboard.markers.length,"
        " rsi: window.eaDashboard.rsi.data().length})"
    )
    assert drawn["bars"] >= 100 and drawn["rsi"] == drawn["bars"]
    assert drawn["markers"] >= 1, "the replay stored detections to mark"
    canvas = page.locator("#price-pane").screenshot()
    assert _colour_pixels(canvas, UP) > 200 and _colour_pixels(canvas, DOWN) > 200

    target = page.evaluate(
        """() => {
          const d = window.eaDashboard;
          const m = d.markers[d.markers.length - 1];
          const bar = d.candles.data().find((c) => c.time === m.time);
          return {x: d.chart.timeScale().timeToCoordinate(m.time),
                  y: d.candles.priceToCoordinate(m.position === 'aboveBar' ? bar.high : bar.low),
                  below: m.position !== 'aboveBar'};
        }"""
    )
    box = page.locator("#price-pane").bounding_box()
    offset = 12 if target["below"] else -12  # markers sit just below/above the bar
    page.mouse.move(box["x"] + target["x"], box["y"] + target["y"] + offset)
    tooltip = page.locator("#tooltip")
    tooltip.wait_for(state="visible", timeout=5_000)
    text = tooltip.inner_text()
    assert "confidence" in text and "outcome" in text
    assert any(p in text for p in ("composite_signal", "breakout", "rsi_battle", "divergence"))
    assert ": met" in text or ": not met" in text  # per-timeframe conditions
    _shot(page, f"pair_{tf}_hover", full=False)
    assert page.problems == []


def test_patterns_page_loads_cleanly(dashboard: str, page: Any) -> None:
    assert page.goto(f"{dashboard}/patterns").status == 200
    _shot(page, "patterns")
    assert page.problems == []
