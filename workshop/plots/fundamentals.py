"""Plots of notebook 01 (SQS fundamentals): polling cost and latency, queue depth."""

from __future__ import annotations

from typing import TYPE_CHECKING

from matplotlib.figure import Figure

from workshop.plots import PALETTE, figure, label

if TYPE_CHECKING:
    import pandas as pd


def polling_cost_and_latency(summary: pd.DataFrame, messages: pd.DataFrame) -> Figure:
    """What each polling strategy cost (receive calls per message) next to what it bought
    (send-to-receive latency), from :func:`workshop.experiments.polling.compare_polling`.

    Both axes are logarithmic: the strategies differ by an order of magnitude or more in calls
    and in latency, and a linear axis would flatten the smaller values to nothing. The cost is
    therefore a dot with its value written next to it, not a bar: on a log axis a bar's length
    means nothing, only the position of its end does.
    """
    from matplotlib.lines import Line2D

    strategies = list(summary["strategy"])
    colours = [PALETTE[i % len(PALETTE)] for i in range(len(strategies))]
    positions = list(range(len(strategies)))[::-1]  # first strategy on top
    fig, (cost, latency) = figure(1, 2, width=10.0, height=3.4, sharey=True)
    values = list(summary["calls_per_message"])
    cost.axvline(1.0, color="0.55", linestyle=":", linewidth=1)
    cost.scatter(values, positions, s=70, color=colours, zorder=3)
    for value, position in zip(values, positions, strict=True):
        if value == value:  # not NaN: a strategy that delivered nothing has no cost per message
            cost.annotate(
                f"{value:.2f}",
                (value, position),
                xytext=(9, 0),
                textcoords="offset points",
                va="center",
            )
    finite = [v for v in values if v == v and v > 0]
    if finite:  # room on both sides for the dots and their labels
        cost.set_xlim(min(min(finite), 1.0) / 2.5, max(max(finite), 1.0) * 4)
    cost.set_xscale("log")
    cost.set_yticks(positions, strategies)
    cost.set_ylim(min(positions) - 0.5, max(positions) + 0.5)
    label(
        cost,
        title="Cost: receive calls per message",
        x="ReceiveMessage calls per message delivered (log scale)",
        y="",
    )
    cost.legend(
        [Line2D([], [], color="0.55", linestyle=":")],
        ["one call per message"],
        loc="upper center",
        bbox_to_anchor=(0.5, -0.2),
    )
    groups = [messages.loc[messages["strategy"] == s, "latency_ms"].dropna() for s in strategies]
    drawn = [(p, g) for p, g in zip(positions, groups, strict=True) if len(g)]
    if drawn:
        latency.boxplot(
            [g for _, g in drawn],
            positions=[p for p, _ in drawn],
            orientation="horizontal",
            widths=0.5,
            showfliers=False,
            manage_ticks=False,
            medianprops={"color": "black"},
        )
    for p, g, colour in zip(positions, groups, colours, strict=True):
        # Spread the dots vertically (deterministically) so equal latencies stay visible.
        jitter = [p + 0.36 * ((i * 0.618) % 1 - 0.5) for i in range(len(g))]
        latency.scatter(g, jitter, s=12, alpha=0.6, color=colour)
    latency.set_xscale("log")
    label(latency, title="Latency: send to receive", x="latency (ms, log scale)", y="")
    key = Line2D([], [], marker="o", linestyle="", color="0.45", alpha=0.6)
    median = Line2D([], [], color="black")
    latency.legend(
        [key, median],
        ["one message", "median (box: quartiles)"],
        loc="upper center",
        bbox_to_anchor=(0.5, -0.2),
        ncols=2,
    )
    return fig


def queue_depth(samples: pd.DataFrame, spans: pd.DataFrame) -> Figure:
    """Queue depth over time, one panel per run, from
    :func:`workshop.experiments.backlog.compare_consumers`.

    Visible messages are the backlog waiting for a consumer; in-flight messages have been
    received and not yet deleted. The shaded span is when the producers were sending, so the
    backlog's growth and its drain can be read against it.
    """
    runs = list(spans["run"])
    fig, axes = figure(
        1, len(runs), width=5.0 * len(runs), height=3.4, sharex=True, sharey=True, squeeze=False
    )
    for ax, run in zip(axes[0], runs, strict=True):
        span = spans[spans["run"] == run].iloc[0]
        if all(x is not None and x == x for x in (span["start"], span["end"])):  # not NaN
            ax.axvspan(span["start"], span["end"], color="0.85", label="producers sending")
        mine = samples[samples["run"] == run]
        ax.plot(mine["t"], mine["visible"], color=PALETTE[0], marker=".", label="visible (waiting)")
        ax.plot(
            mine["t"],
            mine["in_flight"],
            color=PALETTE[1],
            linestyle="--",
            marker=".",
            label="in flight (being processed)",
        )
        label(ax, title=run, x="time since start (s)", y="messages in the queue")
    axes[0][-1].legend(loc="upper right")  # the last run drains first: room for it
    fig.suptitle("Queue depth while producers outpace the consumers", fontweight="bold")
    return fig
