"""A stuck feed is an alarm, not a success (issue 16, SPEC §3.5), with the local Yahoo stand-in
over a real socket, on SQLite and PostgreSQL; the same runs write the Prometheus textfile and
raise the held-back-bars alert."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from exchange_analytics.config.settings import Settings
from exchange_analytics.health.gather import check_health
from exchange_analytics.pipeline.cycle import CycleOptions
from exchange_analytics.pipeline.report import CycleReport
from exchange_analytics.pipeline.runner import run_cycle
from exchange_analytics.providers.http import RetryPolicy
from exchange_analytics.providers.yahoo import YahooProvider
from exchange_analytics.storage.engine import build_engine
from exchange_analytics.storage.models import AlertState, ProcessingRun
from tests.support.fake_yahoo import FakeYahoo
from tests.support.http_server import LocalServer

THURSDAY = datetime(2025, 11, 27, 12, 2, 30, tzinfo=UTC)
SATURDAY = datetime(2025, 11, 22, 12, 2, 30, tzinfo=UTC)
STEP = timedelta(minutes=5)
SMALL = {
    "BACKFILL_DAYS_5M": 3,
    "BACKFILL_DAYS_1H": 30,
    "BACKFILL_DAYS_4H": 30,
    "BACKFILL_DAYS_1D": 30,
    "MIN_BARS": 20,
    "CURRENCY_PAIRS": "USD/JPY",
}


class Yahoo:
    """The stand-in, its server and a provider reading it, for in-process cycles."""

    def __init__(self, server: LocalServer, now: datetime) -> None:
        self.fake = FakeYahoo(now)
        server.handler = self.fake
        self.base_url = server.base_url

    async def cycle(self, settings: Settings, as_of: datetime) -> CycleReport:
        provider = YahooProvider(
            base_url=self.base_url,
            clock=lambda: self.fake.now,
            retry_policy=RetryPolicy(max_retries=0, base_delay_s=0.0, max_delay_s=0.0),
        )
        try:
            options = CycleOptions(as_of=as_of)
            return await run_cycle(settings, options, provider=provider)
        finally:
            await provider.aclose()


@pytest.fixture
def yahoo(local_server: Callable[..., LocalServer]) -> Callable[[datetime], Yahoo]:
    def start(now: datetime) -> Yahoo:
        return Yahoo(local_server(FakeYahoo(now)), now)

    return start


def _settings(make_settings: Callable[..., Settings], db_url: str, tmp_path: Path, yahoo: Yahoo):
    return make_settings(
        db_url,
        MARKET_DATA_PROVIDER="yahoo",
        YAHOO_BASE_URL=yahoo.base_url,
        METRICS_TEXTFILE=str(tmp_path / "textfile" / "exchange_analytics.prom"),
        **SMALL,
    )


def _samples(path: Path) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(path.read_text())
        for s in family.samples
    }


async def _rows(settings: Settings, table: Any) -> list[dict[str, Any]]:
    engine = build_engine(settings)
    try:
        async with engine.connect() as conn:
            return [dict(r) for r in (await conn.execute(select(table))).mappings()]
    finally:
        await engine.dispose()


async def test_stale_provider_on_a_weekday_is_a_stuck_feed(
    db_url: str, make_settings: Callable[..., Settings], tmp_path: Path, yahoo: Any
) -> None:
    stand_in: Yahoo = yahoo(THURSDAY)
    settings = _settings(make_settings, db_url, tmp_path, stand_in)
    first = await stand_in.cycle(settings, THURSDAY)
    assert first.status == "success" and first.pairs[0].action == "backfill"
    # The stand-in's clock stays put: it keeps serving the same, ever older bars (the first
    # of these runs still gets the bar that was forming at the backfill).
    reports = [await stand_in.cycle(settings, THURSDAY + STEP * n) for n in (1, 2, 3, 4)]
    assert [r.pairs[0].rows_fetched for r in reports] == [1, 0, 0, 0]
    assert [r.status for r in reports] == ["success", "success", "success", "partial"]
    stuck = reports[-1]
    assert stuck.pairs[0].warning is not None
    assert "provider returned no new bars since 2025-11-27T12:05:00+00:00" in stuck.pairs[0].warning
    assert stuck.error_count == 1

    runs = sorted(await _rows(settings, ProcessingRun), key=lambda r: r["id"])
    assert runs[-1]["status"] == "partial"
    assert "provider returned no new bars since" in (runs[-1]["error_message"] or "")

    health = await check_health(settings, THURSDAY + STEP * 4)
    fresh = next(c for c in health.components if c.name == "data_freshness[USD/JPY]")
    assert fresh.status.value == "degraded"
    assert "provider returned no new bars since" in fresh.reason

    metrics = _samples(settings.metrics_textfile)  # type: ignore[arg-type]
    pair = (("pair", "USD/JPY"),)
    assert metrics[("exchange_analytics_last_run_status", (("status", "partial"),))] == 1
    assert metrics[("exchange_analytics_feed_stuck", pair)] == 1
    assert metrics[("exchange_analytics_last_bar_age_seconds", pair)] == 17 * 60 + 30
    assert metrics[("exchange_analytics_bars_fetched", pair)] == 0

    # The provider catches up: new bars end the alarm.
    stand_in.fake.now = THURSDAY + STEP * 5
    recovered = await stand_in.cycle(settings, THURSDAY + STEP * 5)
    assert recovered.status == "success" and recovered.pairs[0].rows_fetched > 0
    metrics = _samples(settings.metrics_textfile)  # type: ignore[arg-type]
    assert metrics[("exchange_analytics_feed_stuck", pair)] == 0


async def test_no_bars_on_a_weekend_is_not_a_stuck_feed(
    db_url: str, make_settings: Callable[..., Settings], tmp_path: Path, yahoo: Any
) -> None:
    stand_in: Yahoo = yahoo(SATURDAY)
    settings = _settings(make_settings, db_url, tmp_path, stand_in)
    reports = []
    for n in range(5):
        stand_in.fake.now = SATURDAY + STEP * n  # the clock moves, the market is closed
        reports.append(await stand_in.cycle(settings, SATURDAY + STEP * n))
    assert [r.status for r in reports] == ["success"] * 5
    assert all(r.pairs[0].warning is None for r in reports)
    health = await check_health(settings, SATURDAY + STEP * 4)
    fresh = next(c for c in health.components if c.name == "data_freshness[USD/JPY]")
    assert fresh.status.value == "ok"


async def test_a_price_jump_from_the_provider_is_held_back_and_alerted(
    db_url: str, make_settings: Callable[..., Settings], tmp_path: Path, yahoo: Any
) -> None:
    stand_in: Yahoo = yahoo(THURSDAY)
    settings = _settings(make_settings, db_url, tmp_path, stand_in)
    assert (await stand_in.cycle(settings, THURSDAY)).status == "success"
    spike = int((THURSDAY + STEP).timestamp()) // 300 * 300 - 300

    def scale(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for row in rows:
            if row["t"] == spike and row["close"] is not None:
                for key in ("open", "high", "low", "close"):
                    row[key] = row[key] * 1.08
        return rows

    stand_in.fake.edit = scale
    stand_in.fake.now = THURSDAY + STEP * 2
    report = await stand_in.cycle(settings, THURSDAY + STEP * 2)
    assert report.pairs[0].held_back_bars == 1
    assert report.pairs[0].rows_fetched == 2  # one stored, one held back
    runs = sorted(await _rows(settings, ProcessingRun), key=lambda r: r["id"])
    assert runs[-1]["details"]["pairs"][0]["held_back_bars"] == 1
    alerts = {r["alert_key"]: r for r in await _rows(settings, AlertState)}
    assert alerts["bars_held_back"]["active"] and alerts["bars_held_back"]["severity"] == "WARNING"
    metrics = _samples(settings.metrics_textfile)  # type: ignore[arg-type]
    assert metrics[("exchange_analytics_bars_held_back", (("pair", "USD/JPY"),))] == 1
