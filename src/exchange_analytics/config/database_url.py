"""DATABASE_URL: libpq-style URLs mapped onto SQLAlchemy's async drivers.

``postgresql://`` and ``postgres://`` become ``postgresql+asyncpg://``; ``sslmode`` (which
asyncpg does not take in the URL) becomes the ``ssl`` connect argument; a relative SQLite
path is relative to the installation, not to the working directory (cron starts in $HOME).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, TypedDict
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

DEFAULT_SQLITE_URL = "sqlite+aiosqlite:///./data/exchange_analytics.db"

SslMode = Literal["allow", "prefer", "require", "verify-ca", "verify-full"]


class ConnectArgs(TypedDict, total=False):
    """The driver's connect arguments (asyncpg's ``connect()`` keywords) the code sets.

    ``ssl`` comes from ``?sslmode=``; ``timeout`` and ``server_settings`` are added by the
    engine builders (storage, health, dashboard) for their own connections.
    """

    ssl: bool | SslMode
    timeout: float
    server_settings: dict[str, str]


_SSLMODES: dict[str, bool | SslMode] = {
    "disable": False,
    "allow": "allow",
    "prefer": "prefer",
    "require": "require",
    "verify-ca": "verify-ca",
    "verify-full": "verify-full",
}


def normalize_database_url(url: str, home: Path) -> tuple[str, ConnectArgs]:
    """Map libpq-style URLs onto SQLAlchemy's async drivers; resolve relative SQLite paths.

    Raises ValueError for anything else (the settings loader names the accepted forms).
    """
    parts = urlsplit(url)
    scheme = parts.scheme
    connect_args: ConnectArgs = {}
    if scheme in ("postgresql", "postgres", "postgresql+asyncpg"):
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        sslmode = query.pop("sslmode", None)
        if sslmode is not None:
            if sslmode not in _SSLMODES:
                raise ValueError(url)
            connect_args["ssl"] = _SSLMODES[sslmode]
        if not parts.hostname and not query.get("host"):
            raise ValueError(url)
        if not parts.path.strip("/"):
            raise ValueError(url)
        rebuilt = urlunsplit(
            ("postgresql+asyncpg", parts.netloc, parts.path, urlencode(query), parts.fragment)
        )
        return rebuilt, connect_args
    if scheme in ("sqlite", "sqlite+aiosqlite"):
        path = url.split(":///", 1)[1] if ":///" in url else ""
        if not path or path == ":memory:":
            raise ValueError(url)
        file_path = Path(path)
        if not file_path.is_absolute():
            file_path = (home / file_path).resolve()
        return f"sqlite+aiosqlite:///{file_path}", connect_args
    raise ValueError(url)


def database_password(url: str) -> str | None:
    """The password inside a database URL (registered as a secret), if any."""
    return urlsplit(url).password
