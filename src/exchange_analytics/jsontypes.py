"""The one place the house leaves values untyped: JSON whose shape is an external format's.

Discord payloads and responses, Yahoo's and OANDA's bodies, the JSON columns
(``detection_data``, ``details``, ``meta``) and the ``--json`` / dashboard documents carry
values whose shape belongs to the wire format, not to us; everything the code computes on
has a real type (a dataclass, a TypedDict, an enum). ``bench/house_figures.py`` counts the
uses of these aliases beside the ``Any`` count so the two can be read together.
"""

from __future__ import annotations

from typing import Any, TypeAlias

#: Any JSON value (object, array, string, number, boolean or null).
JSONValue: TypeAlias = Any
#: A JSON object: what ``json.loads`` returns for ``{...}`` and what ``json.dumps`` takes.
JSONObject: TypeAlias = dict[str, Any]
