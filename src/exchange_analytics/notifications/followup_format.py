"""Messages that come after a signal (SPEC §17): the outcome follow-up and the digest.

Pure builders like ``formatting``: data in, Discord payloads out, no clock and no I/O. The
follow-up names its original by time and price (no link: a webhook cannot link a message it
did not keep); the digest lists a pattern's held signals, one line each, and is split into
several messages on line boundaries when it would pass Discord's limits (SPEC §8).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from exchange_analytics.domain import CurrencyPair
from exchange_analytics.jsontypes import JSONObject
from exchange_analytics.notifications.formatting import (
    DEFAULT_COLOUR,
    FOOTER_TEXT,
    NO_MENTIONS,
    PATTERN_STYLES,
)
from exchange_analytics.notifications.formatting_fields import (
    number,
    percent,
    price_decimals,
    when_utc,
)
from exchange_analytics.notifications.limits import fit_message

OUTCOME_WORDS = {
    "take_profit": ("✅", "take-profit reached first"),
    "stop_loss": ("❌", "stop-loss reached first"),
    "ambiguous": ("❔", "both levels inside one 5m bar (order unknown)"),
    "open": ("⌛", "horizon passed, neither level reached"),
}
OUTCOME_SHORT = {"take_profit": "TP", "stop_loss": "SL", "ambiguous": "both", "open": "open"}
#: Description budget per digest message: under Discord's 4096 and the 6000 total with title.
DIGEST_CHUNK = 3800
BAR = timedelta(minutes=5)


def duration_text(span: timedelta) -> str:
    """``3 h 25 min``, ``2 d 4 h``, ``15 min``: how long an outcome took, for a phone screen."""
    minutes = max(0, int(span.total_seconds() // 60))
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {mins} min"
    return f"{mins} min"


def signed_pips(pair: CurrencyPair, direction: str, entry: float, price: float) -> float:
    """Pips won (+) or lost (−) moving from ``entry`` to ``price`` in the signal's direction."""
    move = (price - entry) if direction.upper() == "BUY" else (entry - price)
    return move / pair.pip_size


def _pattern_name(pattern_type: str) -> str:
    return PATTERN_STYLES.get(pattern_type, (pattern_type.replace("_", " ").capitalize(), 0))[0]


def _signal_ref(signal: Mapping[str, object]) -> str:
    pair = str(signal.get("currency_pair") or "")
    bar = when_utc(signal.get("bar_timestamp"))
    entry = number(signal.get("entry_price"))
    when = f"{bar + BAR:%Y-%m-%d %H:%M} UTC" if bar else "unknown time"
    price = f"{entry:.{price_decimals(pair)}f}" if entry is not None else "n/a"
    return f"signal of {when} at {price}"


def outcome_message(
    signal: Mapping[str, object], result: str, pips: float | None, took: timedelta | None
) -> JSONObject:
    """The follow-up: pair, pattern, direction, outcome, pips, time taken, the original."""
    pair = str(signal.get("currency_pair") or "")
    pattern = str(signal.get("pattern_type") or "pattern")
    direction = str(signal.get("direction") or "").upper()
    icon, words = OUTCOME_WORDS.get(result, ("", result))
    title = f"{icon} {pair} · {_pattern_name(pattern)} · {direction}: {OUTCOME_SHORT.get(result)}"
    lines = [f"**{words[0].upper()}{words[1:]}**"]
    if pips is not None:
        lines.append(f"{pips:+.0f} pips".replace("-", "−"))
    if took is not None:
        lines.append(f"after {duration_text(took)}")
    description = " · ".join(lines) + f"\nOutcome of the {_signal_ref(signal)}."
    embed: JSONObject = {
        "title": title,
        "description": description,
        "color": PATTERN_STYLES.get(pattern, ("", DEFAULT_COLOUR))[1],
        "footer": {"text": f"{FOOTER_TEXT} · outcome · {pattern}"},
    }
    return fit_message({"embeds": [embed], "allowed_mentions": dict(NO_MENTIONS)})


def digest_line(item: Mapping[str, object]) -> str:
    """``• 03-04 10:40 USD/CHF BUY 0.79123 · 72% → TP +120 pips (3 h 25 min)``."""
    pair = str(item.get("currency_pair") or "")
    bar = when_utc(item.get("bar_timestamp"))
    entry = number(item.get("entry_price"))
    confidence = number(item.get("confidence_score"))
    parts = [
        f"{bar + BAR:%m-%d %H:%M}" if bar else "?",
        pair,
        str(item.get("direction") or "").upper(),
        f"{entry:.{price_decimals(pair)}f}" if entry is not None else "n/a",
    ]
    line = "• " + " ".join(parts)
    if confidence is not None:
        line += f" · {percent(confidence)}"
    result = item.get("outcome")
    if result:
        line += f" → {OUTCOME_SHORT.get(str(result), str(result))}"
        pips = number(item.get("pips"))
        if pips is not None and result != "open":
            line += f" {pips:+.0f} pips".replace("-", "−")
        took = item.get("took")
        if isinstance(took, timedelta) and result != "open":
            line += f" ({duration_text(took)})"
        if result == "open":
            line += " so far"
    return line


def _chunks(lines: Sequence[str], limit: int) -> list[list[str]]:
    chunks: list[list[str]] = [[]]
    size = 0
    for line in lines:
        line = line[: limit - 1]
        if chunks[-1] and size + len(line) + 1 > limit:
            chunks.append([])
            size = 0
        chunks[-1].append(line)
        size += len(line) + 1
    return chunks


def digest_messages(
    pattern: str,
    period_start: datetime,
    period_end: datetime,
    items: Sequence[Mapping[str, object]],
    *,
    chunk: int = DIGEST_CHUNK,
) -> list[JSONObject]:
    """One digest, as one message or several (``1/3``…) cut between lines, never inside one."""
    counts: dict[str, int] = {}
    for item in items:
        key = str(item.get("outcome") or "open")
        counts[key] = counts.get(key, 0) + 1
    order = list(OUTCOME_SHORT)
    ranked = sorted(counts.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else 9)
    summary = ", ".join(f"{OUTCOME_SHORT.get(k, k)} {v}" for k, v in ranked)
    head = (
        f"{len(items)} signal{'s' if len(items) != 1 else ''} "
        f"{period_start:%Y-%m-%d %H:%M}–{period_end:%H:%M} UTC ({summary}); outcomes so far"
    )
    parts = _chunks([digest_line(item) for item in items], chunk - len(head) - 2)
    messages: list[JSONObject] = []
    for index, lines in enumerate(parts, start=1):
        suffix = f" ({index}/{len(parts)})" if len(parts) > 1 else ""
        embed: JSONObject = {
            "title": f"Digest · {_pattern_name(pattern)}{suffix}",
            "description": head + "\n" + "\n".join(lines),
            "color": PATTERN_STYLES.get(pattern, ("", DEFAULT_COLOUR))[1],
            "footer": {"text": f"{FOOTER_TEXT} · digest · {pattern}"},
            "timestamp": period_end.isoformat(),
        }
        messages.append(fit_message({"embeds": [embed], "allowed_mentions": dict(NO_MENTIONS)}))
    return messages
