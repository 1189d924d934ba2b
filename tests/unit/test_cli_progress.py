"""The long commands' progress bars: click's bar on stderr for a terminal, nothing otherwise.

Under pytest stderr is not a terminal, so click shows the bar's label once instead of drawing
it; that is enough to tell "a bar was shown" from "nothing was written".
"""

from __future__ import annotations

import pytest

from exchange_analytics.cli.cycle_cmd import _progress_printer
from exchange_analytics.cli.patterns_cmd import _replay_progress


def test_replay_progress_shows_a_click_bar(capsys: pytest.CaptureFixture[str]) -> None:
    progress = _replay_progress("USD/JPY", enabled=True)
    for done in (0, 5, 10):
        progress(done, 10)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "replay USD/JPY" in captured.err


def test_replay_progress_is_silent_when_disabled(capsys: pytest.CaptureFixture[str]) -> None:
    progress = _replay_progress("USD/JPY", enabled=False)
    progress(0, 10)
    progress(10, 10)
    assert capsys.readouterr() == ("", "")


def test_backfill_progress_one_bar_per_step(capsys: pytest.CaptureFixture[str]) -> None:
    progress = _progress_printer(enabled=True)
    assert progress is not None
    for label in ("USD/JPY 5m", "USD/JPY 1h"):
        progress(label, 0, 4)
        progress(label, 4, 4)
    err = capsys.readouterr().err
    assert "backfill USD/JPY 5m" in err and "backfill USD/JPY 1h" in err
    assert _progress_printer(enabled=False) is None
