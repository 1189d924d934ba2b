"""The dashboard application: routes, static files, error pages and the guard, built once.

``create_app`` takes the settings (and, for tests, a clock); it opens the read-only store and
the health cache and disposes of the engine at shutdown. Errors become answers here, once:
a bad parameter 400, something unknown 404, the database down 503, each with its one-line
reason, as JSON under ``/api/`` and as a page elsewhere.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from exchange_analytics import __version__
from exchange_analytics.config.redact import redact
from exchange_analytics.config.settings import Settings
from exchange_analytics.errors import DatabaseUnavailable
from exchange_analytics.storage.dashboard_queries import DashboardStore
from exchange_analytics.web.data import HEALTH_TTL_S, HealthCache
from exchange_analytics.web.params import BadParameter, NotFound
from exchange_analytics.web.routes import Views
from exchange_analytics.web.security import Guard

HERE = Path(__file__).resolve().parent


def _now() -> datetime:
    return datetime.now(UTC)


def create_app(
    settings: Settings,
    *,
    clock: Callable[[], datetime] = _now,
    health_ttl: float = HEALTH_TTL_S,
) -> Starlette:
    """The ASGI app ``serve`` runs (and the tests drive through httpx)."""
    store = DashboardStore(settings)
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    health = HealthCache(settings, clock, health_ttl)
    views = Views(store, health, templates, clock, login_enabled=bool(settings.dashboard_token))

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        await store.dispose()

    app = Starlette(
        routes=[
            Route("/", views.overview),
            Route("/pairs/{slug}", views.pair_page),
            Route("/patterns", views.patterns_page),
            Route("/login", views.login_page),
            Route("/api/pairs", views.api_pairs),
            Route("/api/candles", views.api_candles),
            Route("/api/detections", views.api_detections),
            Route("/api/health", views.api_health),
            Route("/api/runs", views.api_runs),
            Route("/api/patterns/record", views.api_records),
            Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
        ],
        exception_handlers=_error_handlers(templates),
        middleware=[Middleware(Guard, token=settings.dashboard_token)],
        lifespan=lifespan,
    )
    app.state.store = store
    return app


Handler = Callable[[Request, Exception], Awaitable[Response]]


def _error_handlers(templates: Jinja2Templates) -> dict[type[Exception], Handler]:
    """400 / 404 / 503 (and Starlette's own 404/405) as JSON under /api/, a page elsewhere."""

    def answer(request: Request, status: int, reason: str) -> Response:
        reason = redact(reason)
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": reason, "status": status}, status_code=status)
        return templates.TemplateResponse(
            request,
            "error.html",
            {"status": status, "reason": reason, "version": __version__, "login_enabled": False},
            status_code=status,
        )

    def fixed(status: int) -> Handler:
        async def handle(request: Request, exc: Exception) -> Response:
            return answer(request, status, str(exc))

        return handle

    async def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        reason = f"no page at {request.url.path}" if status == 404 else str(exc)
        return answer(request, status, reason)

    return {
        BadParameter: fixed(400),
        NotFound: fixed(404),
        DatabaseUnavailable: fixed(503),
        HTTPException: http_error,
    }
