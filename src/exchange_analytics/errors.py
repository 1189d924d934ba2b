"""The exception tree, split by what the operator has to do.

    ExchangeAnalyticsError            root; never raised directly
    ├── ConfigurationError            fix the environment / flags      -> exit 2
    ├── TemporaryError                something is down; retried, then -> exit 1
    │   ├── ProviderUnavailable       market-data provider (timeouts, 5xx, 429 storms)
    │   ├── DatabaseUnavailable       cannot reach or talk to the database
    │   └── NotifierUnavailable       Discord down or rate-limited beyond our patience
    ├── NeedsInterventionError        will not fix itself                -> exit 1
    │   ├── ProviderRequestError      4xx from a provider (unknown symbol, bad token)
    │   ├── NotInitializedError       single_cycle asked for an uninitialized pair
    │   └── NotifierRejected          400/401/403/404 from Discord
    └── BadDataError                  a bar or CSV row that is refused; the run goes on
        └── CsvFormatError            a CSV that cannot be imported (file:line: reason)

The CLI (``exchange_analytics.cli``) is the one place that turns these into exit codes and
one-line messages. Library errors are translated at the boundary with ``raise ... from e``
and carry the pair, timeframe and (redacted) URL that an operator needs.
"""

from __future__ import annotations


class ExchangeAnalyticsError(Exception):
    """Root of every error this package raises on purpose."""

    exit_code = 1


class ConfigurationError(ExchangeAnalyticsError):
    """The configuration or the command line is wrong; nothing was attempted."""

    exit_code = 2


class TemporaryError(ExchangeAnalyticsError):
    """A dependency is unavailable right now; retrying later may succeed."""


class ProviderUnavailable(TemporaryError):
    """The market-data provider did not answer usefully (timeout, 5xx, 429, garbage)."""


class DatabaseUnavailable(TemporaryError):
    """The database cannot be reached or dropped the connection."""


class NotifierUnavailable(TemporaryError):
    """Discord could not take the message now (5xx, network, rate limit beyond the budget)."""


class NeedsInterventionError(ExchangeAnalyticsError):
    """Retrying will not help: a person has to change something."""


class ProviderRequestError(NeedsInterventionError):
    """The provider refused the request itself (unknown symbol, bad token, bad range)."""


class NotInitializedError(NeedsInterventionError):
    """Continuous processing was asked for a pair whose backfill has not completed."""


class NotifierRejected(NeedsInterventionError):
    """Discord refused the message for good (400/401/403/404)."""


class BadDataError(ExchangeAnalyticsError):
    """Input data that is refused; the rest of the batch or run goes on."""


class CsvFormatError(BadDataError):
    """A CSV file that cannot be imported; the message names file, line and reason."""

    def __init__(self, path: str, line: int, reason: str) -> None:
        self.path = path
        self.line = line
        self.reason = reason
        super().__init__(f"{path}:{line}: {reason}")
