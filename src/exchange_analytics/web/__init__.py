"""The read-only dashboard (SPEC §18): ``exchange-analytics serve``.

``app`` builds the ASGI application; ``routes`` holds the pages and JSON endpoints; ``data``
reads through ``storage.dashboard_queries`` (this package never imports SQLAlchemy);
``shaping`` and ``params`` are pure; ``security`` is the guard (headers, GET only, token).
"""
