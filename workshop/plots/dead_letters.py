"""Plots of notebook 04 (dead-letter queues): a poison message's path, mixed traffic, redrive."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from matplotlib.figure import Figure

from workshop.plots import PALETTE, figure, label

if TYPE_CHECKING:
    from workshop.experiments.dead_letters import MixedResult, PoisonResult, RedriveResult

STATES = ["visible in the source", "in flight (received)", "in the DLQ"]


def _state(row) -> float:
    """Where one sample found the message: an index into :data:`STATES` (NaN if nowhere)."""
    if row.dlq_visible:
        return 2
    if row.source_in_flight:
        return 1
    if row.source_visible:
        return 0
    return np.nan


def poison_timeline(result: PoisonResult) -> Figure:
    """A poison message's receive count and whereabouts over time, from
    :func:`workshop.experiments.dead_letters.follow_poison`.

    Top: the ``ApproximateReceiveCount`` each receive returned, against the redrive policy's
    maxReceiveCount, and the receive that returned nothing because the message moved (a cross
    on the limit line, since that receive had no count to show). Bottom: where the sampler found
    the message. The dotted line is when the last visibility timeout
    ended, the solid one when the DLQ first held the message.
    """
    fig, (top, bottom) = figure(2, 1, width=9.0, height=5.2, sharex=True, height_ratios=[3, 2])
    limit = result.pair.max_receive_count
    got = result.receives[result.receives["got"]]
    counts = got["receive_count"].astype(float)
    top.step(
        [0.0, *got["end"]], [0, *counts], where="post", color=PALETTE[0], alpha=0.5, linewidth=1
    )
    top.plot(got["end"], counts, "o", color=PALETTE[0], label="a receive returned it (count)")
    mover = result.moving_receive
    if mover is not None:
        # On the limit line, not above it: that receive returned nothing, so no count of its
        # own was ever observed.
        top.plot(
            [mover["start"]],
            [limit],
            marker="X",
            linestyle="",
            markersize=9,
            color=PALETTE[3],
            label="receive that returned nothing (moved it)",
        )
    top.axhline(limit, color="0.4", linestyle="--", linewidth=1, label=f"maxReceiveCount = {limit}")
    top.set_ylim(0, limit + 1.8)
    top.set_yticks(range(limit + 1))
    label(
        top,
        title="A poison message: received, failed, and moved to the DLQ",
        x="",
        y="ApproximateReceiveCount",
    )
    top.legend(loc="upper left", ncols=3, fontsize=9)

    samples = result.samples
    states = [_state(row) for row in samples.itertuples()]
    bottom.step(samples["t"], states, where="post", color=PALETTE[2], marker=".", markersize=3)
    bottom.set_yticks(range(len(STATES)), STATES)
    bottom.set_ylim(-0.5, len(STATES) - 0.5)
    for ax in (top, bottom):
        if result.expired_at == result.expired_at:
            ax.axvline(result.expired_at, color=PALETTE[1], linestyle=":", linewidth=1.5)
        if result.moved_at == result.moved_at:
            ax.axvline(result.moved_at, color=PALETTE[3], linewidth=1.5)
    from matplotlib.lines import Line2D

    bottom.legend(
        [
            Line2D([], [], color=PALETTE[1], linestyle=":"),
            Line2D([], [], color=PALETTE[3]),
        ],
        ["last visibility timeout over", "first seen in the DLQ"],
        loc="upper left",
    )
    label(bottom, title="Where the sampler found it", x="time since the send (s)", y="")
    return fig


def mixed_outcomes(result: MixedResult) -> Figure:
    """Mixed traffic, from :func:`workshop.experiments.dead_letters.mixed_traffic`: the queues
    over time (left) and where every upload ended, by kind (right)."""
    fig, (left, right) = figure(1, 2, width=10.5, height=3.6, width_ratios=[3, 2])
    s = result.samples
    left.plot(s["t"], s["processed"], color=PALETTE[2], label="processed (cumulative)")
    left.plot(s["t"], s["source_visible"], color=PALETTE[0], label="source: waiting")
    left.plot(
        s["t"], s["source_in_flight"], color=PALETTE[1], linestyle="--", label="source: in flight"
    )
    left.plot(s["t"], s["dlq_visible"], color=PALETTE[3], linewidth=2, label="DLQ: messages")
    label(
        left,
        title="Good uploads go through, poison ones pile up in the DLQ",
        x="time since the send (s)",
        y="uploads",
        legend=True,
    )

    summary = result.summary
    kinds = list(summary.index)
    colours = {"processed": PALETTE[2], "in DLQ": PALETTE[3], "lost": "0.2"}
    offset = np.zeros(len(kinds))
    for outcome, colour in colours.items():
        values = summary[outcome].to_numpy()
        bars = right.barh(kinds, values, left=offset, color=colour, label=outcome)
        right.bar_label(
            bars, labels=[str(v) if v else "" for v in values], label_type="center", color="white"
        )
        offset = offset + values
    right.invert_yaxis()
    label(right, title="Where each upload ended", x="uploads", y="")
    right.legend(loc="lower right")
    return fig


def move_progress(result: RedriveResult) -> Figure:
    """A message move task at work, from :func:`workshop.experiments.dead_letters.redrive`:
    ListMessageMoveTasks' ApproximateNumberOfMessagesMoved over time against the rate limit,
    and the fixed consumer processing what came back."""
    fig, ax = figure(height=4.4)
    p = result.progress
    ax.step(
        p["t"],
        p["moved"],
        where="post",
        color=PALETTE[0],
        marker=".",
        label="moved (ApproximateNumberOfMessagesMoved)",
    )
    if len(p):
        ax.axhline(
            p["to_move"].max(),
            color="0.4",
            linestyle="--",
            linewidth=1,
            label="to move (ApproximateNumberOfMessagesToMove)",
        )
    processed = result.processed.sort_values("t")
    ax.step(
        processed["t"],
        range(1, len(processed) + 1),
        where="post",
        color=PALETTE[2],
        label="processed by the fixed worker"
        + (f" ({result.waiting_at_start} were already waiting)" if result.waiting_at_start else ""),
    )
    moving = p[p["moved"] > 0]
    if result.rate_limit and len(moving):
        # The limit as a line through the first move: a task may move its first message at
        # once, so "at most rate x t" from t = 0 would look broken by the first message.
        t_first, first = float(moving["t"].iloc[0]), int(moving["moved"].iloc[0])
        top = max(p["to_move"].max(), p["moved"].max())
        t = np.linspace(t_first, t_first + (top - first) / result.rate_limit, 20)
        ax.plot(
            t,
            first + result.rate_limit * (t - t_first),
            color=PALETTE[3],
            linestyle=":",
            label=f"the limit, {result.rate_limit} messages/s, from the first move",
        )
    finished = p[p["status"].isin(["COMPLETED", "CANCELLED", "FAILED"])]
    if len(finished):
        ax.axvline(finished["t"].iloc[0], color="0.6", linewidth=1)
        ax.annotate(
            f"{finished['status'].iloc[0]} (ListMessageMoveTasks)",
            (finished["t"].iloc[0], 0.3),
            xytext=(-4, 0),
            textcoords="offset points",
            ha="right",
            color="0.4",
        )
    label(
        ax,
        title="Redrive: the DLQ's messages move back to the source",
        x="time since StartMessageMoveTask (s)",
        y="messages",
    )
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncols=2, fontsize=9)
    return fig
