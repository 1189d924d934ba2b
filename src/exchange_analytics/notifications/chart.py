"""Chart PNG for a pattern message: the last candles, Bollinger Bands and an RSI panel.

With ``ChartMarks`` (SPEC §17) the signal bar is shaded and arrowed, and the entry,
take-profit and stop-loss are labelled horizontal lines; the price axis always shows all
three. Fonts are sized for a phone: Discord shows the 1000 px image about 350 px wide there.

matplotlib is imported inside ``render_chart`` only: the CLI and the health check import this
package and must stay light (SPEC §9.2, §15). The figure is a ``matplotlib.figure.Figure``
drawn on an Agg canvas, never through ``pyplot``, so no global figure registry grows and
nothing depends on a display.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import pandas as pd
    from matplotlib.axes import Axes

    Prices = npt.NDArray[np.float64]

WIDTH_PX = 1000
HEIGHT_PX = 600
DPI = 100
UP_COLOUR = "#26a69a"
DOWN_COLOUR = "#ef5350"
BAND_COLOUR = "#5c6bc0"
LEVEL_STYLES = {"entry": ("#424242", "Entry"), "tp": ("#2e7d32", "TP"), "sl": ("#c62828", "SL")}


@dataclass(frozen=True)
class ChartMarks:
    """What the message is about: the signal bar (position in ``bars``) and its levels."""

    signal_index: int
    direction: str = ""
    entry: float | None = None
    take_profit: float | None = None
    stop_loss: float | None = None
    decimals: int = 5


def _draw_marks(price_ax: Axes, marks: ChartMarks, lows: Prices, highs: Prices, count: int) -> None:
    """Shade and arrow the signal bar; draw labelled entry/TP/SL lines inside the axes."""
    i = min(max(marks.signal_index, 0), count - 1)
    price_ax.axvspan(i - 0.5, i + 0.5, color="#ffca28", alpha=0.35, linewidth=0)
    buy = marks.direction.upper() == "BUY"
    span = float(highs.max() - lows.min()) or 1.0
    y = float(lows[i]) - span * 0.04 if buy else float(highs[i]) + span * 0.04
    price_ax.plot([i], [y], "^" if buy else "v", color="#f57f17", markersize=14)
    levels = [v for v in (marks.entry, marks.take_profit, marks.stop_loss) if v is not None]
    bottom = min([float(lows.min()), *levels])
    top = max([float(highs.max()), *levels])
    pad = (top - bottom) * 0.06 or 1e-4
    price_ax.set_ylim(bottom - pad, top + pad)
    for key, value in (("entry", marks.entry), ("tp", marks.take_profit), ("sl", marks.stop_loss)):
        if value is None:
            continue
        colour, label = LEVEL_STYLES[key]
        price_ax.axhline(
            value, color=colour, linewidth=1.6, linestyle="-" if key != "entry" else ":"
        )
        price_ax.text(
            0.01,
            value,
            f" {label} {value:.{marks.decimals}f} ",
            transform=price_ax.get_yaxis_transform(),
            color="white",
            fontsize=12,
            fontweight="bold",
            va="center",
            bbox={"facecolor": colour, "edgecolor": "none", "pad": 2},
        )


def render_chart(
    bars: pd.DataFrame, indicators: pd.DataFrame, title: str, marks: ChartMarks | None = None
) -> bytes:
    """A 1000×600 PNG of ``bars`` (open/high/low/close, UTC timestamp index) with the
    ``indicators`` (bb_upper, bb_middle, bb_lower, rsi) aligned on the same index.

    Candles are placed at consecutive x positions, not by time, so a weekend closure does not
    leave a blank gap; tick labels carry the UTC time. Missing indicator columns or values are
    simply not drawn. Raises ValueError when ``bars`` is empty or lacks an OHLC column.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    missing = [c for c in ("open", "high", "low", "close") if c not in bars.columns]
    if missing:
        raise ValueError(f"render_chart: bars lack column(s) {', '.join(missing)}")
    if bars.empty:
        raise ValueError("render_chart: no bars to draw")
    ind = indicators.reindex(bars.index)
    x = list(range(len(bars)))
    opens, highs, lows, closes = (
        bars[c].astype(float).to_numpy() for c in ("open", "high", "low", "close")
    )

    fig = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI)
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(2, 1, height_ratios=(3, 1), hspace=0.05)
    price_ax = fig.add_subplot(grid[0])
    rsi_ax = fig.add_subplot(grid[1], sharex=price_ax)

    _draw_candles(price_ax, x, opens, highs, lows, closes)
    _draw_bands(price_ax, x, ind)
    if marks is not None:
        _draw_marks(price_ax, marks, lows, highs, len(x))
    price_ax.set_title(title, fontsize=15, fontweight="bold")
    price_ax.tick_params(axis="y", labelsize=11)
    price_ax.grid(alpha=0.25)
    price_ax.tick_params(labelbottom=False)

    _draw_rsi_panel(rsi_ax, x, ind, bars)
    fig.subplots_adjust(left=0.08, right=0.98, top=0.92, bottom=0.12)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


def _draw_candles(
    price_ax: Axes, x: list[int], opens: Prices, highs: Prices, lows: Prices, closes: Prices
) -> None:
    """Wicks and bodies, green up and red down, at consecutive x positions."""
    colours = [UP_COLOUR if c >= o else DOWN_COLOUR for o, c in zip(opens, closes, strict=True)]
    price_ax.vlines(x, lows, highs, colors=colours, linewidth=0.8)
    bodies = [abs(c - o) for o, c in zip(opens, closes, strict=True)]
    # A doji still gets a visible body: one thousandth of the visible range.
    span = float(highs.max() - lows.min()) or abs(float(closes[-1])) or 1.0
    bodies = [max(b, span / 1000) for b in bodies]
    bottoms = [min(o, c) for o, c in zip(opens, closes, strict=True)]
    price_ax.bar(x, bodies, bottom=bottoms, width=0.6, color=colours, linewidth=0)


def _draw_bands(price_ax: Axes, x: list[int], ind: pd.DataFrame) -> None:
    """The Bollinger Bands present in ``ind``, with their legend."""
    for column, style in (("bb_upper", "--"), ("bb_middle", "-"), ("bb_lower", "--")):
        if column in ind.columns:
            price_ax.plot(
                x,
                ind[column].astype(float).to_numpy(),
                style,
                color=BAND_COLOUR,
                linewidth=1.0,
                label=column.replace("bb_", "BB "),
            )
    if any(c in ind.columns for c in ("bb_upper", "bb_middle", "bb_lower")):
        # Bottom centre: the level labels sit at the left edge, the signal at the right.
        price_ax.legend(loc="lower center", ncol=3, fontsize=10, framealpha=0.85)


def _draw_rsi_panel(rsi_ax: Axes, x: list[int], ind: pd.DataFrame, bars: pd.DataFrame) -> None:
    """RSI with its 30/70 guides, and the time axis both panels share."""
    if "rsi" in ind.columns:
        rsi_ax.plot(x, ind["rsi"].astype(float).to_numpy(), color="#8e24aa", linewidth=1.0)
    for level in (30, 70):
        rsi_ax.axhline(level, color="#9e9e9e", linestyle="--", linewidth=0.8)
    rsi_ax.set_ylim(0, 100)
    rsi_ax.set_yticks([30, 50, 70])
    rsi_ax.set_ylabel("RSI 14", fontsize=11)
    rsi_ax.tick_params(axis="y", labelsize=10)
    rsi_ax.grid(alpha=0.25)
    step = max(1, len(x) // 5)
    ticks = x[::step]
    rsi_ax.set_xticks(ticks)
    rsi_ax.set_xticklabels([_label(bars.index[i]) for i in ticks], fontsize=11)
    rsi_ax.set_xlim(-1, len(x))
    rsi_ax.set_xlabel("time (UTC, bar open)", fontsize=10)


def _label(stamp: object) -> str:
    strftime = getattr(stamp, "strftime", None)
    return strftime("%m-%d %H:%M") if callable(strftime) else str(stamp)
