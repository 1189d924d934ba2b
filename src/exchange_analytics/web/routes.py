"""The dashboard's pages and JSON endpoints (SPEC §18). Thin: parse, read, render.

Pages: ``/`` (overview), ``/pairs/{USD_JPY}`` (chart and signals), ``/patterns`` (§16 track
records), ``/login`` (only with ``DASHBOARD_TOKEN``). JSON: ``/api/pairs``, ``/api/candles``,
``/api/detections``, ``/api/health``, ``/api/runs``, ``/api/patterns/record`` (docs/DASHBOARD.md).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.templating import Jinja2Templates

from exchange_analytics import __version__
from exchange_analytics.domain import ALL_TIMEFRAMES
from exchange_analytics.storage.dashboard_queries import DashboardStore, DetectionFilter
from exchange_analytics.web import data, params
from exchange_analytics.web.data import HealthCache

SIGNALS_PAGE = 50


class Views:
    """The routes, sharing the store, the health cache, the templates and the clock."""

    def __init__(
        self,
        store: DashboardStore,
        health: HealthCache,
        templates: Jinja2Templates,
        clock: Callable[[], datetime],
        login_enabled: bool,
    ) -> None:
        self.store = store
        self.health = health
        self.templates = templates
        self.clock = clock
        self.login_enabled = login_enabled

    def page(
        self, request: Request, name: str, context: Mapping[str, object], status: int = 200
    ) -> Response:
        """Render template ``name`` with ``context`` plus the version and whether login is on
        (``context`` wins where it names them too)."""
        shown = {"version": __version__, "login_enabled": self.login_enabled, **context}
        return self.templates.TemplateResponse(request, name, shown, status_code=status)

    async def overview(self, request: Request) -> Response:
        found = await data.overview(self.store, self.health, self.clock())
        return self.page(request, "overview.html", found)

    async def pair_page(self, request: Request) -> Response:
        known = await data.known_pairs(self.store)
        pair = params.pair(request.path_params["slug"], known)
        query = request.query_params
        timeframe = params.timeframe(query.get("tf"))
        start, end = params.time_range(query)
        choices = await data.pattern_choices(self.store, pair)
        where = DetectionFilter(
            pair=pair,
            start=start,
            end=end,
            pattern=params.choice("pattern", query.get("pattern"), choices),
            direction=params.choice("direction", query.get("direction"), params.DIRECTIONS),
            signals_only=True,
        )
        offset = params.integer("offset", query.get("offset"), 0, 0, 10_000_000)
        signals = await data.detections(self.store, where, SIGNALS_PAGE, offset)
        return self.page(
            request,
            "pair.html",
            {
                "pair": pair,
                "slug": params.slug(pair),
                "timeframe": timeframe.value,
                "timeframes": [t.value for t in ALL_TIMEFRAMES],
                "patterns": choices,
                "directions": params.DIRECTIONS,
                "filters": {k: query.get(k, "") for k in ("pattern", "direction", "from", "to")},
                "signals": signals,
            },
        )

    async def patterns_page(self, request: Request) -> Response:
        known = await data.known_pairs(self.store)
        raw = request.query_params.get("pair")
        pair = params.pair(raw, known) if raw else None
        found = await data.records(self.store, pair, 2000)
        return self.page(request, "patterns.html", {"pairs": known, "pair": pair, **found})

    async def login_page(self, request: Request) -> Response:
        if not self.login_enabled:
            return RedirectResponse("/", status_code=303)
        failed = request.query_params.get("failed") == "1"
        return self.page(request, "login.html", {"failed": failed}, status=401 if failed else 200)

    async def api_pairs(self, request: Request) -> Response:
        return JSONResponse({"pairs": await data.pairs(self.store, self.clock())})

    async def api_candles(self, request: Request) -> Response:
        query = request.query_params
        known = await data.known_pairs(self.store)
        pair = params.pair(query.get("pair"), known)
        timeframe = params.timeframe(query.get("tf"))
        start, end = params.time_range(query)
        default = params.DEFAULT_BARS if start is None else params.MAX_BARS
        limit = params.integer("limit", query.get("limit"), default, 1, params.MAX_BARS)
        return JSONResponse(await data.chart(self.store, pair, timeframe, start, end, limit))

    async def api_detections(self, request: Request) -> Response:
        query = request.query_params
        known = await data.known_pairs(self.store)
        pair = params.pair(query.get("pair"), known)
        start, end = params.time_range(query)
        where = DetectionFilter(
            pair=pair,
            start=start,
            end=end,
            pattern=params.choice(
                "pattern", query.get("pattern"), await data.pattern_choices(self.store, pair)
            ),
            direction=params.choice("direction", query.get("direction"), params.DIRECTIONS),
            signals_only=query.get("signals") in ("1", "true"),
        )
        limit = params.integer("limit", query.get("limit"), 200, 1, params.MAX_PAGE)
        offset = params.integer("offset", query.get("offset"), 0, 0, 10_000_000)
        return JSONResponse(await data.detections(self.store, where, limit, offset))

    async def api_health(self, request: Request) -> Response:
        return JSONResponse(await self.health.get())

    async def api_runs(self, request: Request) -> Response:
        limit = params.integer("limit", request.query_params.get("limit"), 50, 1, 500)
        return JSONResponse({"runs": await data.runs(self.store, limit)})

    async def api_records(self, request: Request) -> Response:
        known = await data.known_pairs(self.store)
        raw = request.query_params.get("pair")
        pair = params.pair(raw, known) if raw else None
        return JSONResponse(await data.records(self.store, pair, 2000))
