"""Rows for the ``technical_indicators`` table from an indicator frame (SPEC §4.2, §6).

One row per (timestamp, indicator): ``value`` is the headline number (RSI; MACD line; BB
middle; the SMA/EMA/ATR value; STOCH %K) and ``additional_data`` the rest plus the parameters,
so a reader of the table never has to know this code's defaults:

    RSI    {"period": 14}
    MACD   {"signal", "histogram", "fast": 12, "slow": 26, "signal_period": 9}
    BB     {"upper", "lower", "period": 20, "std_dev": 2.0, "ma": "SMA"}
    SMA_20 {"period": 20}            (EMA_n, WMA_n, ATR_n, RSI_n alike)
    STOCH  {"d", "fastk_period": 14, "slowk_period": 3, "slowd_period": 3, "ma": "SMA"}

The specs are recovered from the column names (``spec_for_column``), so any frame produced by
``compute_indicators`` - or a column subset of one - can be turned into rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from typing import TypedDict

import numpy as np
import numpy.typing as npt
import pandas as pd

from exchange_analytics.domain import CurrencyPair, Timeframe
from exchange_analytics.indicators.specs import IndicatorSpec, Param, spec_for_column
from exchange_analytics.jsontypes import JSONObject


class IndicatorRow(TypedDict):
    """One ``technical_indicators`` row (without its created/updated stamps)."""

    currency_pair: str
    timeframe: str
    timestamp: datetime
    indicator_type: str
    value: float
    #: The JSON column: the other outputs and the parameters (see the module docstring).
    additional_data: JSONObject


def specs_of(indicators: pd.DataFrame) -> tuple[IndicatorSpec, ...]:
    """The specs whose columns make up ``indicators``, in column order.

    Raises ValueError for a column no spec produces, or a spec with some columns missing
    (MACD without its signal): writing half an indicator would store wrong rows.
    """
    return _specs_of_columns(tuple(str(c) for c in indicators.columns))


@lru_cache(maxsize=64)
def _specs_of_columns(columns: tuple[str, ...]) -> tuple[IndicatorSpec, ...]:
    """``specs_of`` by column names; cached, as every cycle asks it about the same columns."""
    specs: list[IndicatorSpec] = []
    for column in columns:
        spec = spec_for_column(column)
        if spec is None:
            raise ValueError(f"column {column!r} is not an indicator column")
        if spec not in specs:
            specs.append(spec)
    for spec in specs:
        missing = [c for c in spec.columns if c not in columns]
        if missing:
            raise ValueError(f"indicator {spec} lacks column(s) {', '.join(missing)}")
    return tuple(specs)


def _additional(spec: IndicatorSpec, extra: dict[str, float]) -> JSONObject:
    params: dict[str, Param] = spec.parameters
    if spec.kind == "BB":
        params = {"period": params["period"], "std_dev": float(params["std_dev"])}
        return {**extra, **params, "ma": "SMA"}
    if spec.kind == "STOCH":
        return {**extra, **params, "ma": "SMA"}
    return {**extra, **params}


#: Output columns (by suffix) that go into additional_data, and their JSON keys.
_EXTRA_KEYS: dict[str, tuple[tuple[str, str], ...]] = {
    "MACD": (("_signal", "signal"), ("_hist", "histogram")),
    "BB": (("_upper", "upper"), ("_lower", "lower")),
    "STOCH": (("_d", "d"),),
}


def indicator_rows(
    pair: str,
    timeframe: Timeframe,
    indicators: pd.DataFrame,
    since: pd.Timestamp | None = None,
) -> list[IndicatorRow]:
    """Rows ready for a bulk upsert into ``technical_indicators``.

    Only bars where the indicator is defined (every one of its columns is a number: no NaN
    rows) and, when ``since`` is given, whose timestamp is at or after it - a cycle passes the
    first new or changed bar so that the trailing-window warm-up is not rewritten. Rows come
    grouped by indicator, ascending in time within each; values are Python floats and
    timestamps aware UTC datetimes. ``pair`` is normalised to ``BASE/QUOTE``.
    """
    if not isinstance(indicators.index, pd.DatetimeIndex) or indicators.index.tz is None:
        raise ValueError("indicators must be indexed by a timezone-aware DatetimeIndex (UTC)")
    pair_name = str(CurrencyPair.parse(pair))
    timeframe_value = Timeframe(timeframe).value
    index = indicators.index.tz_convert("UTC")
    selected = np.arange(len(index))
    if since is not None:
        since_ts = pd.Timestamp(since)
        if since_ts.tzinfo is None:
            raise ValueError(f"since must be timezone-aware (UTC), got naive {since_ts}")
        selected = np.flatnonzero(np.asarray(index >= since_ts))
    # A cycle passes a recent ``since``: work on those bars only, as plain numpy columns, and
    # build aware datetimes only for them.
    columns = [str(c) for c in indicators.columns]
    block = indicators.to_numpy(dtype=np.float64)[selected]
    return _rows(pair_name, timeframe_value, columns, block, index[selected].to_pydatetime())


def indicator_rows_of_columns(
    pair: str,
    timeframe: Timeframe,
    stamps: Sequence[datetime],
    columns: Mapping[str, npt.NDArray[np.float64]],
) -> list[IndicatorRow]:
    """``indicator_rows`` for bars given as their open times (aware UTC) and the indicator
    columns of those bars (``indicators.compute.indicator_columns``, sliced alike): what the
    steady-state cycle writes, without a frame."""
    names = list(columns)
    block = np.column_stack([columns[c] for c in names]) if names else np.zeros((len(stamps), 0))
    return _rows(str(CurrencyPair.parse(pair)), Timeframe(timeframe).value, names, block, stamps)


def _rows(
    pair_name: str,
    timeframe_value: str,
    columns: list[str],
    block: npt.NDArray[np.float64],
    stamps: Sequence[datetime],
) -> list[IndicatorRow]:
    """Rows of ``block`` (one row per bar, one column per indicator column), grouped by
    indicator, ascending in time within each; bars where an indicator is not defined yet
    (a NaN among its columns) are left out."""
    position_of = {name: i for i, name in enumerate(columns)}
    rows: list[IndicatorRow] = []
    for spec in _specs_of_columns(tuple(columns)):
        own = block[:, [position_of[c] for c in spec.columns]]
        positions = np.flatnonzero(~np.isnan(own).any(axis=1))
        value = block[positions, position_of[spec.value_column]].tolist()
        extras = {
            key: block[positions, position_of[spec.base_name + suffix]].tolist()
            for suffix, key in _EXTRA_KEYS.get(spec.kind, ())
        }
        indicator_type = spec.indicator_type
        parameters = _additional(spec, {})  # the same for every row: built once
        keys = list(extras)
        for k, position in enumerate(positions.tolist()):
            rows.append(
                {
                    "currency_pair": pair_name,
                    "timeframe": timeframe_value,
                    "timestamp": stamps[position],
                    "indicator_type": indicator_type,
                    "value": value[k],
                    # extras first, then the parameters: the key order _additional gives
                    "additional_data": {
                        **{key: extras[key][k] for key in keys},
                        **parameters,
                    },
                }
            )
    return rows
