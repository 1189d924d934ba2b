"""Secret redaction, applied to every string that may reach a log, an error or a report.

Redaction is by shape (URL passwords, webhook tokens, bearer/bot tokens) and by value (the
configured secrets themselves), so a secret echoed back inside a library's error text is
caught too.
"""

from __future__ import annotations

import re

_URL_PASSWORD = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]+:)(?P<pw>[^@\s]+)(?=@)")
_WEBHOOK = re.compile(r"(?P<head>/api(?:/v\d+)?/webhooks/\d+/)(?P<token>[A-Za-z0-9_.\-]+)")
_AUTH_HEADER = re.compile(r"(?P<head>\b(?:Bearer|Bot)\s+)(?P<token>[A-Za-z0-9_.\-]{8,})")

MASK = "***"

_registered: set[str] = set()


def register_secret(value: str | None) -> None:
    """Remember a configured secret so it is masked wherever it appears verbatim."""
    if value and len(value) >= 4:
        _registered.add(value)


def redact(text: str) -> str:
    """Mask passwords in URLs, webhook tokens, Bearer/Bot tokens and registered secrets."""
    if not text:
        return text
    out = _URL_PASSWORD.sub(lambda m: m.group("head") + MASK, text)
    out = _WEBHOOK.sub(lambda m: m.group("head") + MASK, out)
    out = _AUTH_HEADER.sub(lambda m: m.group("head") + MASK, out)
    for secret in sorted(_registered, key=len, reverse=True):
        out = out.replace(secret, MASK)
    return out
