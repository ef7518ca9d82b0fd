"""Plots of notebook 03 (standard and FIFO queues): counting under duplicates, delivery order,
message groups over time, a group held back by a message in flight."""

from __future__ import annotations

from typing import TYPE_CHECKING

from matplotlib.figure import Figure
from matplotlib.patches import Patch

from workshop.plots import PALETTE, figure, label

if TYPE_CHECKING:
    import pandas as pd

COUNTER_COLOURS = {"truth": "0.35", "naive": PALETTE[3], "idempotent": PALETTE[2]}
"""Grey truth, red-orange naive (the colour of the repeats that inflate it), green idempotent."""

EARLY_COLOUR = PALETTE[4]
"""Pink: a first delivery that came after a message sent later."""


def counting(per_user: pd.DataFrame, deliveries: pd.DataFrame) -> Figure:
    """Uploads per user as each consumer counted them, next to the order messages arrived in,
    from :func:`workshop.experiments.ordering.count_uploads`.

    Left: grouped bars, the truth (what was sent) beside the naive and the idempotent count.
    Right: each delivery's sequence number (its place in the send order) against its place in
    the receive order; a message in order sits on the diagonal (blue dots), one delivered after
    a later message just off it (pink circles), a repeat far below it (red-orange crosses): the
    repeats come last, so the upper left stays empty, and the short legend goes there.
    """
    fig, (bars, order) = figure(1, 2, width=11.0, height=3.8)
    users = list(per_user["user"])
    width = 0.27
    for i, counter in enumerate(("truth", "naive", "idempotent")):
        x = [u + (i - 1) * width for u in range(len(users))]
        bars.bar(x, per_user[counter], width=width, color=COUNTER_COLOURS[counter], label=counter)
    bars.set_xticks(range(len(users)), users, rotation=45, ha="right")
    label(bars, title="Uploads per user, as counted", x="user", y="uploads (count)", legend=True)

    first = deliveries[(deliveries["delivery"] == 1) & ~deliveries["out_of_order"]]
    early = deliveries[(deliveries["delivery"] == 1) & deliveries["out_of_order"]]
    again = deliveries[deliveries["delivery"] > 1]
    order.plot(first["position"], first["seq"], ".", color=PALETTE[0], label="first, in order")
    order.plot(
        early["position"],
        early["seq"],
        "o",
        color=EARLY_COLOUR,
        markersize=7,
        label="first, after a later message",
    )
    order.plot(again["position"], again["seq"], "x", color=PALETTE[3], markersize=8, label="repeat")
    label(
        order,
        title="Delivery order",
        x="place in the receive order (deliveries)",
        y="place in the send order (seq)",
    )
    order.legend(loc="upper left", title="deliveries", alignment="left")
    return fig


def _consumer_colours(names: list) -> dict:
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(names)}


def group_timeline(processed: pd.DataFrame) -> Figure:
    """Which message of which group was being processed when, and by which consumer, from
    :func:`workshop.experiments.ordering.fifo_groups`.

    One row per message group; a bar runs from a message's receive to its delete and carries
    the message's place in its group. Bars of one row never overlap; bars of different rows do.
    """
    groups = sorted(processed["group"].unique())
    consumers = sorted(processed["consumer"].unique())
    colours = _consumer_colours(consumers)
    fig, ax = figure(width=9.0, height=0.6 * len(groups) + 1.6)
    for row, group in enumerate(groups):
        mine = processed[processed["group"] == group]
        for item in mine.itertuples():
            ax.barh(
                row,
                item.deleted - item.received,
                left=item.received,
                height=0.6,
                color=colours[item.consumer],
                edgecolor="white",
            )
            ax.text(
                (item.received + item.deleted) / 2,
                row,
                str(item.seq),
                ha="center",
                va="center",
                fontsize=8,
                color="white",
            )
    ax.set_yticks(range(len(groups)), groups)
    ax.invert_yaxis()
    handles = [Patch(color=colours[c], label=f"consumer {c}") for c in consumers]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    label(
        ax,
        title="FIFO: one message per group at a time, groups in parallel",
        x="time since start (s)",
        y="message group",
    )
    return fig


def held_back_timeline(spans: pd.DataFrame, visibility_timeout: float) -> Figure:
    """Each delivery of :func:`workshop.experiments.ordering.held_back_group` as a bar from its
    receive to its delete (solid), or, for the crashed worker's message, hatched up to the
    moment the poller received it again (a little after its visibility timeout ran out, which
    the dotted line marks: the poller polls every 50 ms).

    A held group's row shows only its held message until that bar ends: the next message of
    the group waits, while the free group's messages go through at once.
    """
    groups = ["free", "slow", "crashed"]
    consumers = ["poller", "slow worker", "crashed worker"]
    colours = _consumer_colours(consumers)
    fig, ax = figure(width=9.0, height=3.2)
    for row, group in enumerate(groups):
        mine = spans[spans["group"] == group]
        for item in mine.itertuples():
            expired = item.how == "visibility expired"
            ax.barh(
                row,
                item.ended - item.received,
                left=item.received,
                height=0.6,
                color="white" if expired else colours[item.consumer],
                edgecolor=colours[item.consumer] if expired else "white",
                hatch="//" if expired else None,
            )
            ax.text(
                item.received + 0.01,
                row - 0.38,
                str(item.seq),
                ha="left",
                va="bottom",
                fontsize=8,
            )
    ax.set_yticks(range(len(groups)), groups)
    ax.set_ylim(len(groups) - 0.5, -0.9)  # top down, with room for the labels of the first row
    crashed = spans[(spans["consumer"] == "crashed worker")]
    if len(crashed):
        ax.axvline(
            crashed["received"].iloc[0] + visibility_timeout,
            color="0.4",
            linestyle=":",
            label=f"crashed worker's receive + {visibility_timeout} s",
        )
    handles = [Patch(color=colours[c], label=c) for c in consumers if c != "crashed worker"]
    handles.append(
        Patch(
            facecolor="white",
            edgecolor=colours["crashed worker"],
            hatch="//",
            label="crashed worker (held, never deleted)",
        )
    )
    ax.legend(
        handles=[*handles, *ax.get_legend_handles_labels()[0]],
        loc="upper left",
        bbox_to_anchor=(1.0, 1.0),
    )
    label(
        ax,
        title="A group waits while its message is in flight",
        x="time since start (s)",
        y="message group",
    )
    return fig
