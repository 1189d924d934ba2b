"""NOTIFY_POLICY (SPEC §17): the accepted names and the parser the settings loader uses.

A shared leaf like the rest of ``config``: ``notifications.policy`` (the delivery decision)
builds on it, and the settings loader can name a bad entry without importing a layer.
"""

from __future__ import annotations

from collections.abc import Mapping

#: The six patterns of SPEC §7.
PATTERNS = (
    "trend_reversal",
    "pullback",
    "divergence",
    "breakout",
    "rsi_battle",
    "composite_signal",
)
POLICIES = ("immediate", "digest", "edge", "off")
DEFAULT_POLICY = "immediate"
POLICY_FORM = (
    "comma-separated pattern=policy pairs (a bare policy sets every other pattern), "
    f"patterns: {', '.join(PATTERNS)}; policies: {', '.join(POLICIES)}; "
    "e.g. composite_signal=digest,breakout=immediate"
)


def parse_policy(text: str) -> dict[str, str]:
    """``composite_signal=digest,breakout=immediate`` -> a policy for each of the six patterns.

    A bare policy (``digest``) is the default for the patterns not named. Raises ValueError
    naming the bad part, so the settings loader can say which entry to fix.
    """
    default = DEFAULT_POLICY
    named: dict[str, str] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        pattern, sep, policy = (s.strip().lower() for s in part.partition("="))
        if not sep:
            pattern, policy = "", pattern
        if policy not in POLICIES:
            raise ValueError(f"unknown policy {policy!r} in {part!r}")
        if not pattern:
            default = policy
        elif pattern not in PATTERNS:
            raise ValueError(f"unknown pattern {pattern!r} in {part!r}")
        else:
            named[pattern] = policy
    return {pattern: named.get(pattern, default) for pattern in PATTERNS}


def policy_summary(policy: Mapping[str, str]) -> str:
    """``immediate`` when uniform, else ``composite_signal=digest, others immediate``."""
    values = [policy.get(p, DEFAULT_POLICY) for p in PATTERNS]
    common = max(set(values), key=values.count)
    if all(v == common for v in values):
        return common
    special = [f"{p}={policy.get(p, DEFAULT_POLICY)}" for p in PATTERNS if policy.get(p) != common]
    return f"{', '.join(special)}, others {common}"
