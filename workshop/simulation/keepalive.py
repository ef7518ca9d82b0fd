"""Keep-alive policies simulated over an invocation trace, one minute at a time.

What is simulated, per application (the unit a platform keeps warm):

- The trace says in which minutes the application was invoked. Between two such minutes lies
  an **idle time** ``g`` (in whole minutes, at least 1).
- A policy decides, after each invocation, when the application's environment is loaded:
  from ``pre`` minutes after the invocation (0: it simply stays loaded) until ``keep`` minutes
  after it. The next invocation is **warm** if it falls inside that window and **cold**
  otherwise; the first invocation of the day is cold.
- Minutes in which the environment is loaded but nothing runs are **idle memory-time**: the
  memory the platform spends to avoid cold starts. We count them in minutes and, weighted by
  the application's memory, in GB-hours.
- Several invocations in one minute are served by the same environment; only the first can be
  cold (a minute-level trace cannot say more). The cold-start percentage is cold starts over
  invocations.

Two policies:

- :func:`fixed` keeps the environment for a fixed window after each invocation (``pre = 0,
  keep = W``): cold exactly when ``g > W``. A function invoked every 3 minutes is warm after its
  first call under a 5-minute window and cold every time under a 2-minute window.
- :func:`hybrid` is the hybrid histogram policy of Shahrad et al. ("Serverless in the Wild",
  USENIX ATC 2020, arXiv 2003.03423), as far as it is described in ``shared/aws-facts.md``: for
  each application a histogram of its idle times in 1-minute bins over a 4-hour range; when
  the histogram is representative, unload after the invocation, pre-warm at its 5th percentile
  minus 10% and keep alive until its 99th percentile plus 10%; while it is not representative
  (coefficient of variation of the bin counts below 2), fall back to a fixed keep-alive. The
  histogram learns online: each decision uses only the idle times seen before it. Two things
  are ours, not the paper's: we also call a histogram unrepresentative while it holds fewer
  than ``min_idle_times`` idle times (with one idle time the coefficient of variation is
  already large), and we leave out the paper's time-series forecast for applications whose
  idle times mostly exceed the range. In its place, an application more than
  ``max_out_of_range`` (half) of whose idle times so far were longer than the range stays on
  the fallback.

:func:`versus_fixed_curve` says on which side of the curve drawn by the fixed windows a hybrid
result lies, at the same idle memory-time: what notebook 06's plot shows and its text states.

Everything is vectorised with numpy over all invocations of all applications, except the
hybrid policy's histograms, which are built with one array operation per application.

>>> minutes = [0, 3, 6, 9]                     # a function invoked every 3 minutes
>>> cold_starts(minutes, keep_alive=5), cold_starts(minutes, keep_alive=2)
(1, 4)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from workshop.simulation.traces import app_memory, per_application

HISTOGRAM_MINUTES = 240
"""The hybrid policy's histogram range: 4 hours of 1-minute bins."""
HEAD_PERCENTILE = 5.0
TAIL_PERCENTILE = 99.0
MARGIN = 0.10
CV_THRESHOLD = 2.0
MAX_OUT_OF_RANGE = 0.5
"""Our stand-in for the paper's forecast: an application more than half of whose idle times so
far were longer than the histogram's range stays on the fallback."""
DEFAULT_WINDOWS = (1, 5, 10, 20, 60, 120)
"""Fixed keep-alive windows notebook 06 compares, in minutes."""


@dataclass(frozen=True)
class Steps:
    """Every idle time of every application, in trace order, and where each app ends.

    ``app[i]`` and ``gap[i]`` describe step ``i``: the minutes between an invocation and the
    application's next one. ``last_app`` and ``tail`` give, per application with at least one
    invocation, the minutes left in the day after its last invocation (its environment may
    stay loaded through them).
    """

    n_apps: int
    minutes: int
    app: np.ndarray
    gap: np.ndarray
    last_app: np.ndarray
    tail: np.ndarray
    invocations: np.ndarray
    """Invocations per application (all of them, not just the first of each minute)."""
    active_apps: np.ndarray
    """Applications invoked at least once: each has one cold start at its first invocation."""


def steps_of(counts: np.ndarray) -> Steps:
    """The idle times of an ``apps x minutes`` count matrix (see :class:`Steps`)."""
    counts = np.asarray(counts)
    n_apps, minutes = counts.shape
    rows, cols = np.nonzero(counts)  # row-major: sorted by application, then minute
    same_app = rows[1:] == rows[:-1]
    last = np.r_[~same_app, True] if len(rows) else np.zeros(0, dtype=bool)
    return Steps(
        n_apps=n_apps,
        minutes=minutes,
        app=rows[1:][same_app],
        gap=(cols[1:] - cols[:-1])[same_app],
        last_app=rows[last],
        tail=(minutes - 1 - cols)[last],
        invocations=counts.sum(axis=1),
        active_apps=np.unique(rows),
    )


def _windows_result(
    steps: Steps,
    pre: np.ndarray,
    keep: np.ndarray,
    tail_pre: np.ndarray,
    tail_keep: np.ndarray,
) -> pd.DataFrame:
    """Cold starts and idle minutes per application, given each step's loading window.

    The environment is loaded from minute ``max(pre, 1)`` to minute ``keep`` after an
    invocation; the next invocation, ``gap`` minutes later, is warm inside that window. The
    idle minutes of a step are the loaded minutes before the next invocation.
    """
    start = np.maximum(pre, 1)
    warm = (steps.gap >= start) & (steps.gap <= keep)
    idle = np.clip(np.minimum(steps.gap - 1, keep) - start + 1, 0, None)
    tail_idle = np.clip(np.minimum(steps.tail, tail_keep) - np.maximum(tail_pre, 1) + 1, 0, None)
    n = steps.n_apps
    cold = np.bincount(steps.app, weights=~warm, minlength=n)
    cold[steps.active_apps] += 1  # the first invocation of the day
    idle_minutes = np.bincount(steps.app, weights=idle, minlength=n) + np.bincount(
        steps.last_app, weights=tail_idle, minlength=n
    )
    return pd.DataFrame(
        {
            "invocations": steps.invocations,
            "cold_starts": cold.astype(np.int64),
            "idle_minutes": idle_minutes.astype(np.int64),
        }
    )


def fixed(counts: np.ndarray, keep_alive: int, *, steps: Steps | None = None) -> pd.DataFrame:
    """Per application: invocations, cold starts and idle minutes under a fixed keep-alive of
    ``keep_alive`` minutes (one row per row of ``counts``)."""
    if keep_alive < 0:
        raise ValueError("A keep-alive window cannot be negative.")
    steps = steps or steps_of(counts)
    zeros = np.zeros(len(steps.gap), dtype=np.int64)
    tail_zeros = np.zeros(len(steps.tail), dtype=np.int64)
    return _windows_result(steps, zeros, zeros + keep_alive, tail_zeros, tail_zeros + keep_alive)


@dataclass(frozen=True)
class HybridWindows:
    """The hybrid policy's decision at every step: ``pre`` and ``keep`` in minutes, and
    whether the histogram was representative (if not, the fallback applies)."""

    pre: np.ndarray
    keep: np.ndarray
    representative: np.ndarray
    tail_pre: np.ndarray
    tail_keep: np.ndarray
    tail_representative: np.ndarray


def hybrid_windows(
    steps: Steps,
    *,
    range_minutes: int = HISTOGRAM_MINUTES,
    head: float = HEAD_PERCENTILE,
    tail: float = TAIL_PERCENTILE,
    margin: float = MARGIN,
    cv_threshold: float = CV_THRESHOLD,
    min_idle_times: int = 5,
    max_out_of_range: float = MAX_OUT_OF_RANGE,
) -> HybridWindows:
    """What the hybrid policy decides after each invocation, from the idle times before it.

    For an application with ``m`` idle times this builds, in one array operation, the ``m + 1``
    histograms it has seen (before each step, and after the last invocation), each of
    ``range_minutes`` 1-minute bins; idle times longer than the range are left out of the
    histogram, as out of bounds.
    """
    n_steps = len(steps.gap)
    pre = np.zeros(n_steps, dtype=np.int64)
    keep = np.zeros(n_steps, dtype=np.int64)
    representative = np.zeros(n_steps, dtype=bool)
    n_tails = len(steps.last_app)
    tail_pre = np.zeros(n_tails, dtype=np.int64)
    tail_keep = np.zeros(n_tails, dtype=np.int64)
    tail_representative = np.zeros(n_tails, dtype=bool)
    tail_index = {int(app): i for i, app in enumerate(steps.last_app)}

    bounds = np.searchsorted(steps.app, np.arange(steps.n_apps + 1))
    bins = np.arange(1, range_minutes + 1)
    for app in steps.active_apps:
        lo, hi = bounds[app], bounds[app + 1]
        gaps = steps.gap[lo:hi]
        # One-hot rows of the in-range idle times, accumulated: row k is the histogram of
        # the first k idle times (row 0 is empty).
        in_range = (gaps[:, None] == bins[None, :]).astype(np.int32)
        histograms = np.vstack([np.zeros((1, range_minutes), np.int32), np.cumsum(in_range, 0)])
        n = histograms.sum(axis=1)
        seen = np.arange(len(histograms))  # idle times seen before each step, in range or not
        mean = n / range_minutes
        with np.errstate(invalid="ignore", divide="ignore"):
            std = np.sqrt((histograms.astype(np.float64) ** 2).mean(axis=1) - mean**2)
            cv = np.where(n > 0, std / mean, 0.0)
        ok = (
            (n >= max(min_idle_times, 1))
            & (cv >= cv_threshold)
            & (seen - n <= max_out_of_range * seen)
        )
        cumulative = np.cumsum(histograms, axis=1)
        head_value = (cumulative >= np.ceil(n * head / 100)[:, None]).argmax(axis=1) + 1
        tail_value = (cumulative >= np.ceil(n * tail / 100)[:, None]).argmax(axis=1) + 1
        app_pre = np.floor(head_value * (1 - margin)).astype(np.int64)
        app_keep = np.ceil(tail_value * (1 + margin)).astype(np.int64)
        pre[lo:hi], keep[lo:hi], representative[lo:hi] = app_pre[:-1], app_keep[:-1], ok[:-1]
        i = tail_index[int(app)]
        tail_pre[i], tail_keep[i], tail_representative[i] = app_pre[-1], app_keep[-1], ok[-1]
    return HybridWindows(pre, keep, representative, tail_pre, tail_keep, tail_representative)


def hybrid(
    counts: np.ndarray,
    *,
    fallback: int = 10,
    steps: Steps | None = None,
    windows: HybridWindows | None = None,
    **options: float,
) -> pd.DataFrame:
    """Per application: invocations, cold starts and idle minutes under the hybrid histogram
    policy, with a fixed keep-alive of ``fallback`` minutes while an application's histogram
    is not representative. ``options`` go to :func:`hybrid_windows`."""
    steps = steps or steps_of(counts)
    windows = windows or hybrid_windows(steps, **options)
    pre = np.where(windows.representative, windows.pre, 0)
    keep = np.where(windows.representative, windows.keep, fallback)
    tail_pre = np.where(windows.tail_representative, windows.tail_pre, 0)
    tail_keep = np.where(windows.tail_representative, windows.tail_keep, fallback)
    return _windows_result(steps, pre, keep, tail_pre, tail_keep)


def summarise(per_app: pd.DataFrame, memory_mb: np.ndarray, policy: str) -> dict:
    """One row of :func:`compare`'s table from a per-application result."""
    invoked = per_app["invocations"] > 0
    app_pct = 100 * per_app.loc[invoked, "cold_starts"] / per_app.loc[invoked, "invocations"]
    return {
        "policy": policy,
        "invocations": int(per_app["invocations"].sum()),
        "cold_starts": int(per_app["cold_starts"].sum()),
        "cold_start_pct": 100 * per_app["cold_starts"].sum() / max(per_app["invocations"].sum(), 1),
        "app_cold_start_pct_p75": float(np.percentile(app_pct, 75)) if len(app_pct) else math.nan,
        "idle_minutes": int(per_app["idle_minutes"].sum()),
        "idle_gb_hours": float((per_app["idle_minutes"] * memory_mb / 1024).sum() / 60),
    }


def compare(
    trace: pd.DataFrame,
    memory: pd.DataFrame | None = None,
    *,
    windows: Iterable[int] = DEFAULT_WINDOWS,
    fallbacks: Sequence[int] = (10,),
    **options: float,
) -> pd.DataFrame:
    """Every fixed window and the hybrid policy (once per fallback window) on one trace.

    One row per policy: ``policy, kind, window_minutes, invocations, cold_starts,
    cold_start_pct`` (cold starts as a percentage of all invocations: 0.2 means 0.2 %, two in
    a thousand), ``app_cold_start_pct_p75`` (the 75th percentile of the applications' own
    cold-start percentages), ``idle_minutes`` and ``idle_gb_hours`` (idle memory-time, each
    idle minute weighted by its application's memory from ``memory``, or from
    :func:`~workshop.simulation.traces.app_memory` if not given).
    """
    apps, counts = per_application(trace)
    memory = memory if memory is not None else app_memory(trace)
    memory_mb = (
        apps[["HashApp"]]
        .merge(memory[["HashApp", "AverageAllocatedMb"]], on="HashApp", how="left")[
            "AverageAllocatedMb"
        ]
        .fillna(0)
        .to_numpy()
    )
    steps = steps_of(counts)
    rows = []
    for window in windows:
        row = summarise(fixed(counts, window, steps=steps), memory_mb, f"fixed {window} min")
        rows.append({"kind": "fixed", "window_minutes": window, **row})
    if fallbacks:
        decided = hybrid_windows(steps, **options)
        for fallback in fallbacks:
            result = hybrid(counts, fallback=fallback, steps=steps, windows=decided)
            row = summarise(result, memory_mb, f"hybrid (fallback {fallback} min)")
            rows.append({"kind": "hybrid", "window_minutes": fallback, **row})
    table = pd.DataFrame(rows)
    columns = ["policy", "kind", "window_minutes"]
    return table[columns + [c for c in table.columns if c not in columns]]


CURVE_MEASURES = {"app_cold_start_pct_p75": "linear", "cold_starts": "log"}
"""The measures :func:`versus_fixed_curve` compares, and the scale of their axis in the plot."""


def versus_fixed_curve(policies: pd.DataFrame) -> pd.DataFrame:
    """Each hybrid row of :func:`compare`'s table against the fixed windows' curve.

    The fixed windows, in order of idle memory-time, draw a curve of a measure against
    ``idle_gb_hours``. This reads that curve at each hybrid row's idle memory-time, joining
    the fixed points by straight lines as the plot draws them (the idle axis is logarithmic;
    ``cold_starts`` is too). One row per hybrid policy: ``policy, idle_gb_hours``, and for
    each measure its value, ``fixed_curve_<measure>`` (NaN where the hybrid idle memory lies
    outside the fixed windows' range) and ``side_<measure>``: ``below`` (fewer cold starts than
    the fixed windows at the same idle memory-time), ``above``, ``on`` or ``outside``.
    """
    fixed = policies[policies["kind"] == "fixed"].sort_values("idle_gb_hours")
    hybrid = policies[policies["kind"] == "hybrid"]
    x = np.log(fixed["idle_gb_hours"].to_numpy(dtype=float))
    at = np.log(hybrid["idle_gb_hours"].to_numpy(dtype=float))
    table = hybrid[["policy", "idle_gb_hours"]].reset_index(drop=True)
    for measure, scale in CURVE_MEASURES.items():
        y = fixed[measure].to_numpy(dtype=float)
        y = np.log(y) if scale == "log" else y
        curve = np.interp(at, x, y, left=np.nan, right=np.nan)
        curve = np.exp(curve) if scale == "log" else curve
        value = hybrid[measure].to_numpy(dtype=float)
        table[measure] = hybrid[measure].to_numpy()
        table[f"fixed_curve_{measure}"] = curve
        side = np.where(value < curve, "below", np.where(value > curve, "above", "on"))
        table[f"side_{measure}"] = np.where(np.isnan(curve), "outside", side)
    return table


def cold_starts(minutes: Sequence[int], keep_alive: int) -> int:
    """Cold starts of one function invoked in ``minutes`` (sorted, one entry per invocation)
    under a fixed keep-alive of ``keep_alive`` minutes: the plain loop that :func:`fixed`
    vectorises, and the reference answer of notebook 06's exercise 2."""
    cold, last = 0, None
    for minute in minutes:
        if last is None or minute - last > keep_alive:
            cold += 1
        last = minute
    return cold
