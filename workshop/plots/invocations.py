"""Plots of notebook 05 (Lambda functions): cold against warm latency, and a timeline of
simultaneous calls with one row per execution environment."""

from __future__ import annotations

from typing import TYPE_CHECKING

from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from workshop.plots import PALETTE, figure, label, plain_log_ticks

if TYPE_CHECKING:
    from collections.abc import Sequence

    import pandas as pd
    from matplotlib.axes import Axes

COLD, WARM, THROTTLED = PALETTE[1], PALETTE[0], PALETTE[3]
INIT_HATCH = "///"
"""Init Duration is drawn as the cold colour, hatched, in both plots: the cold part of a call."""
MIN_FOR_BOX = 5
"""Fewer points than this get no box: a box would only hide them."""


def cold_and_warm(calls: pd.DataFrame) -> Figure:
    """Left: every call's round trip as the caller measured it, cold against warm (log scale).
    Right: where a cold call's time goes, from its REPORT line, next to a typical warm call.
    Init Duration is drawn in the cold colour, hatched, as in :func:`timeline`; a group with
    fewer than five calls is shown as points only.

    ``calls`` is :func:`workshop.experiments.invocations.cold_and_warm`'s table. The right
    panel splits each round trip into Init Duration, Duration (the handler) and the rest (the
    request's way to the environment and back), so the reader sees that a cold start's extra
    time is Init, not the handler.
    """
    fig, (spread, parts) = figure(1, 2, width=10.5, height=3.6)
    groups = [("warm", WARM), ("cold", COLD)]
    for position, (kind, colour) in enumerate(groups):
        values = calls.loc[calls["start"] == kind, "latency_ms"].dropna()
        if not len(values):
            continue
        if len(values) >= MIN_FOR_BOX:
            spread.boxplot(
                [values],
                positions=[position],
                orientation="horizontal",
                widths=0.5,
                showfliers=False,
                manage_ticks=False,
                medianprops={"color": "black"},
            )
        jitter = [position + 0.36 * ((i * 0.618) % 1 - 0.5) for i in range(len(values))]
        spread.scatter(
            values, jitter, s=14, alpha=0.7, color=colour, label=f"{kind} ({len(values)})"
        )
    spread.set_xscale("log")
    plain_log_ticks(spread, calls["latency_ms"].dropna(), axis="x")
    spread.set_yticks([0, 1], ["warm", "cold"])
    spread.set_ylim(-0.6, 1.6)
    label(
        spread,
        title="Invoke round trip, as the caller saw it",
        x="latency (ms, log scale)",
        y="",
    )
    spread.legend(loc="lower right")

    cold = calls[calls["start"] == "cold"].reset_index(drop=True)
    warm = calls[calls["start"] == "warm"]
    names = [f"cold start {i + 1} (v{v})" for i, v in enumerate(cold["version"])]
    init = list(cold["init_ms"].fillna(0))
    duration = list(cold["duration_ms"].fillna(0))
    rest = [max(0.0, t - i - d) for t, i, d in zip(cold["latency_ms"], init, duration, strict=True)]
    if len(warm):
        names.append("warm (median)")
        init.append(0.0)
        duration.append(float(warm["duration_ms"].median()))
        rest.append(max(0.0, float(warm["latency_ms"].median()) - duration[-1]))
    time_split(parts, names, init, duration, rest, rest_label="rest of the round trip")
    label(parts, title="Where a cold call's time goes", x="time (ms)", y="")
    parts.legend(loc="lower right", fontsize="small")
    return fig


def time_split(
    ax: Axes,
    names: list[str],
    init: Sequence[float],
    duration: Sequence[float],
    rest: Sequence[float],
    *,
    rest_label: str,
) -> None:
    """One horizontal bar per name, top to bottom: Init Duration and Duration from the REPORT
    line, then the rest of the time the caller measured."""
    positions = list(range(len(names)))[::-1]
    ax.barh(
        positions,
        init,
        color=COLD,
        edgecolor="black",
        hatch=INIT_HATCH,
        linewidth=0,
        label="Init Duration (REPORT)",
    )
    ax.barh(positions, duration, left=init, color=PALETTE[2], label="Duration (REPORT)")
    lefts = [i + d for i, d in zip(init, duration, strict=True)]
    ax.barh(positions, rest, left=lefts, color="0.75", label=rest_label)
    ax.set_yticks(positions, names)


def timeline(calls: pd.DataFrame, *, title: str) -> Figure:
    """One row per execution environment, one bar per call from its start to its end as the
    caller measured them; throttled calls as crosses on a row of their own.

    ``calls`` is :func:`workshop.experiments.invocations.burst`'s table. A cold call's bar is
    orange with its Init Duration (from the REPORT line) hatched at its start: where Init falls
    inside the call is drawn, not measured, but its length is measured.
    """
    ran = calls[calls["outcome"] == "ran"]
    throttled = calls[calls["outcome"] == "throttled"]
    environments = list(dict.fromkeys(ran.sort_values("started_s")["environment"]))
    rows = {env: len(environments) - i for i, env in enumerate(environments)}
    height = 1.2 + 0.42 * (len(rows) + (1 if len(throttled) else 0))
    fig, ax = figure(width=9.0, height=max(2.6, height))
    for _, call in ran.iterrows():
        y = rows[call["environment"]]
        cold = bool(call["cold_start"])
        ax.barh(
            y,
            call["ended_s"] - call["started_s"],
            left=call["started_s"],
            height=0.6,
            color=COLD if cold else WARM,
            edgecolor="white",
        )
        if cold and call["init_ms"] == call["init_ms"]:  # not NaN
            ax.barh(
                y,
                call["init_ms"] / 1000,
                left=call["started_s"],
                height=0.6,
                color="none",
                edgecolor="black",
                hatch=INIT_HATCH,
                linewidth=0,
            )
    labels = [f"environment {env}" for env in environments]
    ticks = [rows[env] for env in environments]
    if len(throttled):
        ax.scatter(throttled["started_s"], [0] * len(throttled), marker="x", s=60, color=THROTTLED)
        labels.append(f"throttled, 429 ({len(throttled)})")
        ticks.append(0)
    ax.set_yticks(ticks, labels)
    end = float(calls["ended_s"].max()) if len(calls) else 1.0
    ax.set_xlim(-0.03 * end, 1.03 * end)
    ax.set_ylim(min(ticks) - 0.7, max(ticks) + 0.7)
    label(ax, title=title, x="time since the first call started (s)", y="")
    handles = []
    if ran["cold_start"].eq(True).any():
        handles += [
            Patch(color=COLD, label="cold call"),
            Patch(
                facecolor="white", edgecolor="black", hatch=INIT_HATCH, label="its Init Duration"
            ),
        ]
    handles.append(Patch(color=WARM, label="warm call"))
    if len(throttled):
        handles.append(
            Line2D([], [], marker="x", linestyle="", color=THROTTLED, label="throttled call")
        )
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig
