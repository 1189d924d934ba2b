"""The human tables of ``patterns evaluate`` and ``patterns calibrate`` (pure text)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from exchange_analytics.evaluation.calibrate import CalibrationReport, Pooled
    from exchange_analytics.evaluation.evaluate import EvaluationReport, MoveRow, OutcomeRow


def pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def num(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:+.{digits}f}"


def plain(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def interval(values: Sequence[float] | None, percent: bool = True) -> str:
    if not values:
        return "-"
    low, high = values
    if percent:
        return f"{100 * low:.0f}..{100 * high:.0f}"
    return f"{low:+.2f}..{high:+.2f}"


_HEADER = (
    f"{'pattern':<17} {'dir':<4} {'det':>5} {'sig':>4} {'TP':>4} {'SL':>4} {'amb':>3} "
    f"{'open':>4} {'hit':>6} {'95% CI':>7} {'exp R':>6} {'bars':>5} {'MAE':>5} {'MFE':>5} "
    f"{'base hit':>8} {'base R':>6} {'edge':>7} {'edge 95% CI':>13}"
)


def _outcome_line(row: OutcomeRow) -> str:
    base = row["baseline"]
    edge = None if row["edge"] is None else f"{100 * row['edge']:+.1f}"
    ci = row["edge_ci"]
    edge_ci = "-" if not ci else f"{100 * ci[0]:+.0f}..{100 * ci[1]:+.0f}"
    return (
        f"{row['pattern']:<17} {row['direction'][:4]:<4} {row['detections']:>5} "
        f"{row['signals']:>4} {row['take_profit']:>4} {row['stop_loss']:>4} "
        f"{row['ambiguous']:>3} {row['open']:>4} {pct(row['hit_rate']):>6} "
        f"{interval(row['hit_rate_ci']):>7} {num(row['expectancy_r']):>6} "
        f"{plain(row['median_bars_to_outcome']):>5} {plain(row['mae_pips']):>5} "
        f"{plain(row['mfe_pips']):>5} {pct(base['hit_rate']):>8} "
        f"{num(base['expectancy_r']):>6} {edge or '-':>7} {edge_ci:>13}"
    )


def _move_lines(row: MoveRow) -> list[str]:
    lines = [
        f"{row['pattern']:<17} {row['direction'][:4]:<4} {row['detections']:>5} "
        f"{row['signals']:>4}  move after (pips, median [q1..q3]; every 5m close beside it)"
    ]
    base = row["baseline"]["move_after"]
    for span, figures in row["move_after"].items():
        other = base[span]
        lines.append(f"{'':<28}{span:>3}: {_quartiles(figures)}   all closes: {_quartiles(other)}")
    return lines


def _quartiles(figures: dict[str, float | None]) -> str:
    if not figures.get("n"):
        return "-"
    return f"{figures['median']:+.1f} [{figures['q1']:+.1f}..{figures['q3']:+.1f}] n={figures['n']}"


def render_table(result: EvaluationReport) -> str:
    """The ``patterns evaluate`` table, one line per pattern and direction."""
    lines = [
        f"{result['pair']} {result['from']} .. {result['to']}: {result['bars']} bars, "
        f"horizon {result['horizon']} bars, spread {result['spread_pips']:g} pip(s), "
        f"cooldown {result['cooldown_minutes']} min, day boundary {result['day_boundary']}",
        _HEADER,
    ]
    moves: list[str] = []
    for row in result["results"]:
        if "move_after" in row:
            moves.extend(_move_lines(row))
        else:
            lines.append(_outcome_line(row))
    return "\n".join([*lines, *moves]) + "\n"


def _pooled(figures: Pooled | None) -> str:
    if not figures:
        return f"{'-':>5} {'-':>6} {'-':>6}"
    return (
        f"{figures['signals']:>5} {pct(figures['hit_rate']):>6} {num(figures['expectancy_r']):>6}"
    )


def render_calibration(report: CalibrationReport) -> str:
    """The ``patterns calibrate`` summary: in/out of sample beside seed and baseline."""
    lines = [
        f"{', '.join(report['pairs'])} {report['from']} .. {report['to']}: "
        f"{len(report['windows'])} windows of {report['train_weeks']}+{report['test_weeks']} "
        f"weeks, {report['tasks']} tasks on {report['executor']}, "
        f"min {report['min_signals']} training signals",
        f"{'':<36} {'in-sample (chosen)':>19} {'out-of-sample':>19} "
        f"{'seed out-of-sample':>19} {'baseline OOS':>19}",
        f"{'pair':<8} {'pattern':<17} {'dir':<4} {'win':>4} "
        + " ".join([f"{'sig':>5} {'hit':>6} {'exp R':>6}"] * 4),
    ]
    for row in report["summary"]:
        lines.append(
            f"{row['pair']:<8} {row['pattern']:<17} {row['direction'][:4]:<4} "
            f"{row['windows_with_choice']:>2}/{row['windows']:<1} "
            f"{_pooled(row['in_sample'])} {_pooled(row['out_of_sample'])} "
            f"{_pooled(row['seed_out_of_sample'])} {_pooled(row['baseline_out_of_sample'])}"
        )
    for pattern, chosen in sorted(report["chosen_settings"].items()):
        setting = ", ".join(f"{k}={v}" for k, v in sorted(chosen["setting"].items()))
        lines.append(f"chosen {pattern} ({chosen['chosen_in']} windows): {setting}")
    if report["out"]:
        lines.append(f"wrote {report['out']} (PATTERN_THRESHOLDS; not applied)")
    return "\n".join(lines) + "\n"
