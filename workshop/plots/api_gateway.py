"""Plots of notebook 07 (API Gateway to Lambda): end-to-end latency of HTTP requests, cold and
warm, and where each request's time goes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from matplotlib.figure import Figure

from workshop.plots import figure, label, plain_log_ticks
from workshop.plots.invocations import COLD, WARM, time_split

if TYPE_CHECKING:
    import pandas as pd


def latency(requests: pd.DataFrame) -> Figure:
    """Left: every request's end-to-end latency, in the order sent, cold starts marked (log
    scale). Right: where the time goes, as medians of cold and of warm requests: Init
    Duration and Duration from the REPORT lines (the function), and the rest (API Gateway,
    Lambda's service, the network and the client). Each part is its own median, so a bar need
    not add up to the median latency exactly.

    ``requests`` is :func:`workshop.experiments.api_gateway.latency`'s table.
    """
    fig, (order, parts) = figure(1, 2, width=10.5, height=3.6)
    measured = requests.dropna(subset=["latency_ms"]).reset_index(drop=True)
    for kind, colour in (("warm", WARM), ("cold", COLD)):
        chosen = measured[measured["start"] == kind]
        order.scatter(
            chosen.index + 1,
            chosen["latency_ms"],
            s=18 if kind == "warm" else 40,
            color=colour,
            label=f"{kind} ({len(chosen)})",
            zorder=3,
        )
    order.set_yscale("log")
    plain_log_ticks(order, measured["latency_ms"])
    label(
        order,
        title="HTTP request to the function and back",
        x="request number",
        y="end-to-end latency (ms, log scale)",
    )
    order.legend(loc="center right")

    kinds = [kind for kind in ("cold", "warm") if (requests["start"] == kind).any()]
    medians = requests.assign(init_ms=requests["init_ms"].fillna(0.0)).groupby("start")[
        ["init_ms", "duration_ms", "rest_ms"]
    ]
    table = medians.median().reindex(kinds).clip(lower=0)
    time_split(
        parts,
        [f"{kind} (median)" for kind in kinds],
        list(table["init_ms"]),
        list(table["duration_ms"]),
        list(table["rest_ms"]),
        rest_label="the rest: API Gateway, Lambda's service, client",
    )
    label(parts, title="Where a request's time goes", x="time (ms)", y="")
    parts.legend(loc="lower right", fontsize="small")
    return fig
