"""Plots of notebook 08 (HTTP API to SQS to Lambda): a burst through the photo pipeline, and
what failures do to it with and without ReportBatchItemFailures.

Every function takes the DataFrames of :mod:`workshop.experiments.photo_pipeline`, where times
are seconds since the burst began, and returns the Figure.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from workshop.plots import PALETTE, figure, label

if TYPE_CHECKING:
    from collections.abc import Collection

    import pandas as pd

    from workshop.experiments.photo_pipeline import Run


def latencies(requests: pd.DataFrame, journeys: pd.DataFrame) -> Figure:
    """How long the caller waited (the API's answer) against how long the upload took to be
    processed (request to the function's end), as cumulative distributions on a log scale.

    The gap between the two curves is what the queue buys: the caller is answered as soon as
    the message is stored, whatever the function is doing.
    """
    fig, ax = figure(width=8.0, height=3.6)
    series = [
        (requests["latency_ms"].dropna(), "API answered (request latency)", PALETTE[0]),
        (journeys["end_to_end_ms"].dropna(), "processed (end to end)", PALETTE[1]),
    ]
    for values, name, colour in series:
        if len(values):
            ordered = np.sort(values.to_numpy(dtype=float))
            share = np.arange(1, len(ordered) + 1) / len(ordered)
            median = float(np.median(ordered))
            ax.step(
                ordered, share, where="post", color=colour, label=f"{name}, median {median:.0f} ms"
            )
    ax.set_xscale("log")
    ax.set_ylim(0, 1.02)
    label(
        ax,
        title="Answered at once, processed later",
        x="milliseconds after the request (log)",
        y="share of uploads",
    )
    ax.legend(loc="center")  # between the curves: the left one rises early, the right late
    return fig


def burst(
    run: Run,
    invocations: pd.DataFrame,
    running: pd.DataFrame,
    warm: Collection[str] = (),
) -> Figure:
    """Three views of one burst on one time axis.

    Top: requests accepted per 0.1 s and the queue's depth (visible and in flight), as steps
    with a dot per sample, since nothing is known between samples. Middle: every invocation
    as a bar in its execution environment's row, its batch size written in it; the first
    invocation of an environment not in ``warm`` is hatched: a cold start came before it (the
    bars cover only the handler's time). Bottom: how many invocations ran at once.
    """
    fig, (top, middle, bottom) = figure(
        3, 1, width=9.0, height=7.0, sharex=True, height_ratios=[3, 3, 2]
    )
    sent = run.sent["sent_s"]
    if len(sent):
        edges = np.arange(0, sent.max() + 0.2, 0.1)
        top.hist(sent, bins=edges, color=PALETTE[5], alpha=0.6, label="requests per 0.1 s")
    queue = run.depth[run.depth["queue"] == "queue"]
    for column, colour in (("visible", PALETTE[0]), ("in_flight", PALETTE[1])):
        top.plot(
            queue["t_s"],
            queue[column],
            drawstyle="steps-post",
            marker=".",
            markersize=4,
            color=colour,
            label=f"queue: {column.replace('_', ' ')}",
        )
    label(top, title="Requests in, queue depth", x="", y="messages", legend=True)

    rows = {env: i for i, env in enumerate(dict.fromkeys(invocations["environment"]))}
    seen = set(warm)
    for call in invocations.itertuples():
        y = rows[call.environment]
        colour = PALETTE[3] if call.failed else PALETTE[2]
        width = max(call.ended_s - call.started_s, 0.02)
        cold = call.environment not in seen
        seen.add(call.environment)
        middle.barh(
            y,
            width,
            left=call.started_s,
            height=0.7,
            color=colour,
            hatch="///" if cold else None,
            edgecolor="white",
            linewidth=0,
        )
        middle.text(
            call.started_s + width / 2,
            y,
            str(call.batch_size),
            va="center",
            ha="center",
            fontsize=8,
            color="white" if width > 0.06 else "black",
            fontweight="bold",
        )
    middle.set_yticks(range(len(rows)), [f"env {i + 1}" for i in range(len(rows))])
    label(
        middle,
        title="Invocations by environment (number: batch size; hatched: after a cold start)",
        x="",
        y="environment",
    )

    bottom.step(running["t_s"], running["running"], where="post", color=PALETTE[4])
    bottom.set_ylim(0, max(1, int(running["running"].max())) + 0.5)
    label(bottom, title="Concurrency", x="seconds since the burst began", y="invocations")
    bottom.yaxis.set_major_locator(MaxNLocator(integer=True))
    return fig


def failures(runs: dict[str, Run], redeliveries: dict[str, pd.DataFrame]) -> Figure:
    """Left: every attempt the function made, by the message's receive count, processed or
    failed, for each run. Right: the DLQ's depth over time for each run.
    """
    fig, (attempts, dead) = figure(1, 2, width=10.5, height=3.8)
    names = list(runs)
    counts = sorted({int(c) for frame in redeliveries.values() for c in frame.index})
    width = 0.8 / max(1, len(names))
    for i, name in enumerate(names):
        frame = redeliveries[name].reindex(counts, fill_value=0)
        x = np.arange(len(counts)) + i * width
        attempts.bar(
            x,
            frame["processed"],
            width,
            color=PALETTE[2 + 2 * i],
            alpha=0.9,
            label=f"{name}: processed",
        )
        attempts.bar(
            x,
            frame["failed"],
            width,
            bottom=frame["processed"],
            color=PALETTE[3],
            alpha=0.5 + 0.4 * i,
            hatch="//" if i else "",
            label=f"{name}: failed",
        )
    attempts.set_xticks(np.arange(len(counts)) + width * (len(names) - 1) / 2, counts)
    label(
        attempts,
        title="Attempts by receive count",
        x="ApproximateReceiveCount",
        y="attempts",
        legend=True,
    )

    for i, (name, run) in enumerate(runs.items()):
        dlq = run.depth[run.depth["queue"] == "DLQ"]
        dead.step(
            dlq["t_s"],
            dlq["visible"] + dlq["in_flight"],
            where="post",
            color=PALETTE[2 + 2 * i],
            label=name,
        )
    label(
        dead,
        title="Arrivals in the DLQ",
        x="seconds since the burst began",
        y="messages in the DLQ",
        legend=True,
    )
    dead.yaxis.set_major_locator(MaxNLocator(integer=True))
    return fig
