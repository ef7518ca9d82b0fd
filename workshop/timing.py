"""Timing of API calls, for the notebooks' first measurements."""

from __future__ import annotations

import time
from collections.abc import Callable

import pandas as pd
from matplotlib.figure import Figure

from workshop import plots


def time_calls(call: Callable[[int], object], n: int = 100) -> pd.Series:
    """Run ``call(i)`` for i in 0..n-1 and return each round trip in milliseconds."""
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    durations = []
    for i in range(n):
        start = time.perf_counter()
        call(i)
        durations.append((time.perf_counter() - start) * 1000)
    return pd.Series(durations, name="round trip (ms)")


def plot_round_trips(durations: pd.Series, *, title: str) -> Figure:
    """Histogram of round trips with the median and 95th percentile marked."""
    fig, ax = plots.figure()
    ax.hist(durations, bins=30, color=plots.PALETTE[0], alpha=0.8)
    for quantile, style in ((0.5, "-"), (0.95, "--")):
        value = durations.quantile(quantile)
        label = "median" if quantile == 0.5 else "p95"
        ax.axvline(value, color=plots.PALETTE[3], linestyle=style, label=f"{label} {value:.1f} ms")
    plots.label(ax, title=title, x="round trip (ms)", y="number of calls", legend=True)
    return fig
