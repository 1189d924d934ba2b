"""The Yahoo provider misbehaves (SPEC §3.2, §13.6): bad data never reaches the tables.

Two pairs are served by the Yahoo stand-in (``tests/support/fake_yahoo.py``) over a real
socket, and only EUR/USD misbehaves, so each test shows both halves of the contract:

* request-level faults (timeouts, 500s, 429 storms, garbage and truncated bodies, dropped
  connections) make EUR/USD fail after its retries while USD/JPY is stored completely: the
  run is 'partial', exit code 0, nothing of EUR/USD invented;
* data-level faults (null rows, bars breaking the OHLC rules, non-positive prices, misaligned,
  duplicate and out-of-order timestamps) reject exactly the bad bars, keep the rest of the
  batch, and log each rejection with its reason.

Request and data faults run against SQLite (the provider path does not depend on the
database); the steady-state outage-and-heal test runs on SQLite and PostgreSQL.

The recorded 2025 bars are shifted by whole weeks to just before today
(``faults.shifted_yahoo_series``) because the provider measures Yahoo's 60-day 5m limit
from the real clock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.support.fake_yahoo import (
    FakeYahoo,
    garbage,
    rate_limited,
    server_error,
    slow,
    truncate,
)
from tests.support.faults import (
    FaultTally,
    cron_env,
    cycle_log,
    format_tally,
    iso,
    log_events,
    read_state,
    record_faults,
    run_cron,
    shifted_yahoo_series,
)
from tests.support.http_server import Request, Response

SERIES, AS_OF = shifted_yahoo_series(datetime.now(UTC))
GOOD, BAD = "USD/JPY", "EUR/USD"
BAD_SYMBOL = "EURUSD=X"
TALLY = FaultTally()
FIRST_M5 = AS_OF - timedelta(days=3)


@pytest.fixture(scope="module", autouse=True)
def _report_counts() -> Iterator[None]:
    yield
    record_faults("provider", TALLY)
    print("\n" + format_tally("provider", TALLY))


class SplitYahoo:
    """Routes EUR/USD to a scripted stand-in and every other symbol to a clean one."""

    def __init__(self, now: datetime) -> None:
        self.clean = FakeYahoo(now=now, series=SERIES)
        self.faulty = FakeYahoo(now=now, series=SERIES)
        #: While set, every EUR/USD request gets this answer (an outage lasting a while).
        self.storm: Response | None = None
        self.storm_answers = 0

    def __call__(self, request: Request) -> Response:
        if not request.path.endswith(BAD_SYMBOL):
            return self.clean(request)
        if self.storm is not None:
            self.storm_answers += 1
            return self.storm
        return self.faulty(request)


def _env(home: Path, db_url: str, base_url: str, **extra: str) -> dict[str, str]:
    settings = {
        "MARKET_DATA_PROVIDER": "yahoo",
        "YAHOO_BASE_URL": base_url,
        "CURRENCY_PAIRS": f"{GOOD},{BAD}",
        "BACKFILL_DAYS_1D": "40",
        "MIN_BARS": "20",
        "MAX_RETRIES": "2",
    }
    return cron_env(home, db_url, **{**settings, **extra})


def _served_m5(symbol: str, start: datetime, end: datetime) -> dict[datetime, Any]:
    """The stand-in's 5m bars with open time in [start, end) that had closed by ``end``."""
    lo, hi = start.timestamp(), end.timestamp()
    return {
        datetime.fromtimestamp(b.t, UTC): b for b in SERIES[symbol] if lo <= b.t and b.t + 300 <= hi
    }


def _ohlc_violations(bars: dict[Any, tuple[Any, ...]]) -> list[Any]:
    return [
        key
        for key, (o, h, low, c, *_rest) in bars.items()
        if not (min(o, h, low, c) > 0 and low <= min(o, c) and h >= max(o, c))
    ]


def _assert_good_pair_complete(state: Any, end: datetime) -> None:
    stored = state.bars_of(GOOD, "5m")
    served = _served_m5("USDJPY=X", min(stored), end) if stored else {}
    assert served and set(served) == set(stored), (
        f"{GOOD}: {len(set(served) - set(stored))} served bars not stored, "
        f"{len(set(stored) - set(served))} stored bars never served"
    )
    for moment, bar in served.items():
        o, c = stored[moment][0], stored[moment][3]
        assert o == pytest.approx(bar.open, rel=1e-6) and c == pytest.approx(bar.close, rel=1e-6)


REQUEST_FAULTS: dict[str, tuple[Callable[[], Any], dict[str, str]]] = {
    "http-500": (lambda: server_error(500), {}),
    "http-503": (lambda: server_error(503), {}),
    "429-storm": (lambda: rate_limited("0"), {}),
    "garbage-html-200": (garbage, {}),
    "truncated-json": (lambda: truncate, {}),
    "dropped-connection": (lambda: Response(drop=True), {}),
    # 15 s read timeout (SPEC §3.2) and no retry: the one slow case, 16 s per run.
    "read-timeout": (lambda: slow(16.0), {"MAX_RETRIES": "0"}),
}


@pytest.mark.slow
@pytest.mark.parametrize("fault", list(REQUEST_FAULTS))
def test_request_faults_make_the_run_partial_not_crashed(
    fault: str, sqlite_url: str, tmp_path: Path, local_server: Any
) -> None:
    db_url = sqlite_url  # the database plays no part here; both run the steady-state test
    make, extra = REQUEST_FAULTS[fault]
    fake = SplitYahoo(AS_OF)
    fake.faulty.enqueue(*[make() for _ in range(200)])
    server = local_server(fake)
    home = tmp_path / "home"
    done = run_cron(
        _env(home, db_url, server.base_url, **extra), "--as-of", iso(AS_OF), out_dir=home
    )
    TALLY.faults_injected += len(fake.faulty.requests)
    TALLY.add_stage(f"provider {fault}")

    assert done.returncode == 0, done.describe()
    assert "Traceback" not in done.stderr
    state = read_state(db_url)
    TALLY.runs_checked += len(state.runs)
    TALLY.duplicates_found += state.duplicate_total
    run = state.runs[-1]
    assert run["status"] == "partial", run
    reports = {p["pair"]: p for p in run["details"]["pairs"]}
    assert reports[BAD]["error"] and not reports[GOOD]["error"], reports
    assert not state.bars_of(BAD, "5m") and not state.bars_of(BAD, "1h")
    assert state.duplicate_total == 0
    _assert_good_pair_complete(state, AS_OF)
    assert BAD in (run["error_message"] or "")


def _targets(count: int, offset_minutes: int = 0) -> list[int]:
    """5m open times (epoch s) well inside the 3-day backfill window, off the hour."""
    base = int((AS_OF - timedelta(hours=30)).timestamp()) // 3600 * 3600
    return [base + 3600 * 3 * i + 600 + offset_minutes * 60 for i in range(count)]


def _edit_rows(targets: set[int], change: Callable[[dict[str, Any]], Any]) -> Callable[..., Any]:
    def edit(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for row in rows:
            result = change(dict(row)) if row["t"] in targets else [row]
            out.extend(result)
        return out

    return edit


def _break_high(row: dict[str, Any]) -> list[dict[str, Any]]:
    row["high"] = min(row["open"], row["close"]) * 0.999
    return [row]


def _zero_open(row: dict[str, Any]) -> list[dict[str, Any]]:
    row["open"] = 0.0
    return [row]


def _misalign(row: dict[str, Any]) -> list[dict[str, Any]]:
    row["t"] += 60
    return [row]


def _duplicate(row: dict[str, Any]) -> list[dict[str, Any]]:
    twin = dict(row, open=row["high"], close=row["low"])
    return [row, twin]


DATA_FAULTS: dict[str, Callable[[dict[str, Any]], list[dict[str, Any]]]] = {
    "ohlc-high-below-body": _break_high,
    "non-positive-open": _zero_open,
    "misaligned-timestamp": _misalign,
    "duplicate-timestamp": _duplicate,
}


def _rejections(home: Path) -> list[dict[str, Any]]:
    return [e for e in log_events(cycle_log(home)) if "rejected_bar" in str(e.get("event"))]


@pytest.mark.parametrize("fault", [*DATA_FAULTS, "null-rows", "out-of-order"])
def test_bad_bars_are_rejected_and_the_rest_is_kept(
    fault: str, sqlite_url: str, tmp_path: Path, local_server: Any
) -> None:
    db_url = sqlite_url
    fake = SplitYahoo(AS_OF)
    targets = set(_targets(4))
    if fault == "null-rows":
        fake.faulty.null_at = targets
    elif fault == "out-of-order":

        def swap(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
            """Each target row changes places with its successor: [t+5m, t] (t goes back)."""
            rows = list(rows)
            i = 0
            while i < len(rows) - 1:
                if rows[i]["t"] in targets:
                    rows[i], rows[i + 1] = rows[i + 1], rows[i]
                    i += 1
                i += 1
            return rows

        fake.faulty.edit = swap
    else:
        fake.faulty.edit = _edit_rows(targets, DATA_FAULTS[fault])
    server = local_server(fake)
    home = tmp_path / "home"
    done = run_cron(_env(home, db_url, server.base_url), "--as-of", iso(AS_OF), out_dir=home)
    TALLY.faults_injected += len(targets)
    TALLY.add_stage(f"provider {fault}")

    assert done.returncode == 0, done.describe()
    state = read_state(db_url)
    TALLY.runs_checked += len(state.runs)
    TALLY.duplicates_found += state.duplicate_total
    run = state.runs[-1]
    assert run["status"] == "success", run
    assert state.duplicate_total == 0
    stored = state.bars_of(BAD, "5m")
    served = _served_m5(BAD_SYMBOL, min(stored), AS_OF)
    target_times = {datetime.fromtimestamp(t, UTC) for t in targets}
    assert not _ohlc_violations(state.bars), "a stored bar breaks the OHLC rules"
    if fault == "duplicate-timestamp":
        # The first copy is kept; the twin (different prices) is rejected.
        for moment in target_times:
            assert stored[moment][3] == pytest.approx(served[moment].close, rel=1e-9)
        assert set(stored) == set(served)
    else:
        assert not target_times & set(stored), f"{fault}: a bad bar was stored"
        assert set(stored) == set(served) - target_times, "a good bar was lost with the bad ones"
    TALLY.bars_missing += len(set(served) - set(stored) - target_times)
    _assert_good_pair_complete(state, AS_OF)
    if fault != "null-rows":  # null rows are skipped and counted, not rejected
        reasons = [str(e.get("reason")) for e in _rejections(home)]
        assert len(reasons) >= len(targets), reasons
        reports = {p["pair"]: p for p in run["details"]["pairs"]}
        assert reports[BAD]["rejected_bars"] >= len(targets), reports[BAD]


@pytest.mark.slow
def test_a_failing_steady_state_cycle_is_partial_and_the_next_one_heals_the_gap(
    db_url: str, tmp_path: Path, local_server: Any
) -> None:
    steps = [AS_OF + timedelta(minutes=5 * i) for i in range(4)]
    fake = SplitYahoo(steps[0])
    server = local_server(fake)
    home = tmp_path / "home"
    env = _env(home, db_url, server.base_url)
    statuses = []
    for index, step in enumerate(steps):
        fake.clean.now = fake.faulty.now = step
        fake.storm = server_error(502) if index in (1, 2) else None
        done = run_cron(env, "--as-of", iso(step), out_dir=home)
        assert done.returncode == 0, done.describe()
        statuses.append(read_state(db_url).runs[-1]["status"])
    TALLY.faults_injected += fake.storm_answers
    TALLY.add_stage("provider 502 during steady state")
    assert statuses == ["success", "partial", "partial", "success"], statuses
    state = read_state(db_url)
    TALLY.runs_checked += len(state.runs)
    TALLY.duplicates_found += state.duplicate_total
    assert state.duplicate_total == 0
    stored = state.bars_of(BAD, "5m")
    served = _served_m5(BAD_SYMBOL, min(stored), steps[-1])
    TALLY.bars_missing += len(set(served) - set(stored))
    assert set(stored) == set(served), "the gap left by the failing cycles was not healed"
