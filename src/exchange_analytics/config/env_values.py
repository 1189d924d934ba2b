"""Typed readers of environment values that collect every error instead of stopping at one.

``load_settings`` reads each variable through an :class:`EnvReader`; a bad value becomes one
entry ``NAME='value' is invalid: expected <form>`` (the value redacted) and the reader goes
on with the default, so an operator sees every invalid variable in a single line.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar
from urllib.parse import urlsplit

from exchange_analytics.config.redact import redact
from exchange_analytics.errors import ConfigurationError

T = TypeVar("T")
#: The text of a closed set of choices (a ``Literal`` or ``str``).
C = TypeVar("C", bound=str)


class EnvReader:
    """Reads variables from a mapping, collecting every error instead of stopping at one."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.errors: list[str] = []

    def raw(self, name: str, default: str | None = None) -> str | None:
        value = self.env.get(name)
        if value is None or value.strip() == "":
            return default
        return value.strip()

    def parse(self, name: str, default: T, convert: Callable[[str], T], form: str) -> T:
        value = self.raw(name)
        if value is None:
            return default
        try:
            return convert(value)
        except (ValueError, ConfigurationError):
            self.errors.append(f"{name}={redact(value)!r} is invalid: expected {form}")
            return default

    def number(
        self, name: str, default: float, *, minimum: float, maximum: float | None = None
    ) -> float:
        def convert(text: str) -> float:
            number = float(text)
            if number != number or number < minimum or (maximum is not None and number > maximum):
                raise ValueError(text)
            return number

        top = f" and <= {maximum:g}" if maximum is not None else ""
        return self.parse(name, default, convert, f"a number >= {minimum:g}{top}")

    def integer(self, name: str, default: int, *, minimum: int, maximum: int | None = None) -> int:
        def convert(text: str) -> int:
            number = int(text)
            if number < minimum or (maximum is not None and number > maximum):
                raise ValueError(text)
            return number

        top = f" and <= {maximum}" if maximum is not None else ""
        return self.parse(name, default, convert, f"a whole number >= {minimum}{top}")

    def choice(self, name: str, default: C, choices: tuple[C, ...]) -> C:
        """One of ``choices`` (case-insensitive), as the choice itself: a Literal stays one."""

        def convert(text: str) -> C:
            for option in choices:
                if option == text.lower():
                    return option
            raise ValueError(text)

        return self.parse(name, default, convert, "one of " + ", ".join(choices))

    def boolean(self, name: str, default: bool) -> bool:
        def convert(text: str) -> bool:
            lowered = text.lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ValueError(text)

        return self.parse(name, default, convert, "true or false")

    def url(self, name: str, default: str | None) -> str | None:
        def convert(text: str) -> str:
            parts = urlsplit(text)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ValueError(text)
            return text.rstrip("/")

        return self.parse(name, default, convert, "an http(s):// URL")

    def https_url(self, name: str, default: str) -> str:
        """``url`` for a variable that always has a value (its default when unset or bad)."""
        return self.url(name, default) or default
