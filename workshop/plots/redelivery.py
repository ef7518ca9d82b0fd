"""Plots of notebook 02 (visibility timeout and redelivery): timelines of receives and jobs.

All three are timelines on the experiment's own clock (seconds since it started), drawn from
the DataFrames of :mod:`workshop.experiments.redelivery`: receives, crashes, kills, deletes,
heartbeats and empty long polls are what the workers saw. The shaded spans of when a message was
hidden are computed, not observed: a receive (or heartbeat) time plus the visibility timeout.
The evidence that they are right is the next receive of the same message, and, in the heartbeat
plot, the empty long polls of the other worker.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from workshop.plots import PALETTE, figure, label

if TYPE_CHECKING:
    import pandas as pd

CHECK = r"$\checkmark$"
HIDDEN = "0.55"
POLL = "0.3"
SHORT_BAR_SECONDS = 0.45
"""A job bar shorter than this has its label written after it, not inside."""


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _colours(names: list[str]) -> dict[str, str]:
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(names)}


def redelivery_timeline(receives: pd.DataFrame, visibility_timeout: float) -> Figure:
    """One row per message, one dot per receive (coloured by worker), from
    :func:`workshop.experiments.redelivery.crash_and_redeliver`.

    After each receive the message is hidden (shaded): for one visibility timeout after a crash,
    until the delete after a success. A dotted line is time the message spent visible again
    before the next receive. The number above a dot is SQS's ApproximateReceiveCount.
    """
    seqs = sorted(receives["seq"].unique())
    workers = sorted(receives["worker"].unique(), key=lambda w: (not w.startswith("crash"), w))
    colour = _colours(workers)
    fig, ax = figure(width=9.0, height=1.4 + 0.42 * max(len(seqs), 2))
    for seq in seqs:
        mine = receives[receives["seq"] == seq].sort_values("received_at")
        rows = list(mine.itertuples())
        for i, r in enumerate(rows):
            crashed = r.outcome == "crashed"
            hidden_end = r.received_at + visibility_timeout if crashed else r.ended_at
            ax.barh(
                seq,
                hidden_end - r.received_at,
                left=r.received_at,
                height=0.5,
                color=colour[r.worker],
                alpha=0.22,
                linewidth=0,
            )
            if crashed:
                ax.plot(r.ended_at, seq, marker="x", color="black", markersize=7, linestyle="")
                if i + 1 < len(rows):
                    ax.plot(
                        [hidden_end, rows[i + 1].received_at],
                        [seq, seq],
                        color=HIDDEN,
                        linestyle=":",
                        linewidth=1.5,
                    )
            else:
                ax.plot(r.ended_at, seq, marker=CHECK, color="black", markersize=9, linestyle="")
            ax.plot(
                r.received_at,
                seq,
                marker="o",
                color=colour[r.worker],
                markersize=8,
                linestyle="",
                markeredgecolor="white",
            )
            ax.annotate(
                str(r.receive_count),
                (r.received_at, seq),
                xytext=(0, 7),
                textcoords="offset points",
                ha="center",
                fontsize=8,
            )
    ax.set_yticks(seqs, [f"message {s}" for s in seqs])
    ax.set_ylim(max(seqs) + 0.7, min(seqs) - 0.9)  # message 0 on top, room for the counts
    ax.set_xlim(left=-0.05)
    label(
        ax,
        title=f"Every receive of every message (visibility timeout {visibility_timeout} s)",
        x="time since start (s)",
        y="",
    )
    handles = [
        Line2D([], [], marker="o", color=colour[w], linestyle="", markersize=8, label=f"{w}")
        for w in workers
    ]
    handles += [
        Patch(color="0.6", alpha=0.35, label="hidden (in flight)"),
        Line2D([], [], color=HIDDEN, linestyle=":", label="visible again, waiting"),
        Line2D([], [], marker="x", color="black", linestyle="", label="crash (no delete)"),
        Line2D([], [], marker=CHECK, color="black", linestyle="", markersize=9, label="deleted"),
    ]
    ax.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        title="receive by (number: receive count)",
        title_fontsize=8,
        fontsize=8,
    )
    return fig


def process_timeline(
    attempts: pd.DataFrame, redeliveries: pd.DataFrame, visibility_timeout: float
) -> Figure:
    """One row per worker process, one bar per job it worked on (coloured by job), from
    :func:`workshop.experiments.redelivery.kill_workers`.

    A cross marks a SIGKILL; an arrow goes from the killed job's receive to its redelivery, and
    the shaded span is the visibility timeout that kept the job hidden in between.
    """
    workers = list(dict.fromkeys(attempts.sort_values("received_at")["worker"]))
    row = {w: i for i, w in enumerate(workers)}
    seqs = sorted(attempts["seq"].unique())
    colour = {s: PALETTE[i % len(PALETTE)] for i, s in enumerate(seqs)}
    fig, ax = figure(width=9.0, height=1.6 + 0.6 * max(len(workers), 2))
    for r in redeliveries.itertuples():
        ax.axvspan(r.received_at, r.received_at + visibility_timeout, color="0.9", zorder=0)
    for a in attempts.itertuples():
        y = row[a.worker]
        ax.barh(
            y,
            a.ended_at - a.received_at,
            left=a.received_at,
            height=0.45,
            color=colour[a.seq],
            alpha=0.85,
        )
        text = f"job {a.seq} (#{a.receive_count})"
        if a.outcome == "killed" or a.ended_at - a.received_at < SHORT_BAR_SECONDS:
            # Too short for its label (and a cross at its end): write it after the bar.
            ax.annotate(
                text,
                (a.ended_at, y),
                xytext=(10, 0),
                textcoords="offset points",
                va="center",
                fontsize=8,
                color="black",
            )
        else:
            ax.annotate(
                text,
                (a.received_at, y),
                xytext=(3, 0),
                textcoords="offset points",
                va="center",
                fontsize=8,
                color="white",
                fontweight="bold",
            )
        if a.outcome == "killed":
            ax.plot(a.ended_at, y, marker="X", color="black", markersize=11, linestyle="")
    for r in redeliveries.itertuples():
        if r.next_worker is None or r.next_worker != r.next_worker:  # never came back
            continue
        ax.annotate(
            "",
            xy=(r.redelivered_at, row[r.next_worker]),
            xytext=(r.received_at, row[r.crashed_worker]),
            arrowprops={"arrowstyle": "->", "color": "black", "connectionstyle": "arc3,rad=0.15"},
        )
        middle = (r.received_at + r.redelivered_at) / 2
        ax.annotate(
            f"back after {r.after_s:.2f} s",
            (middle, (row[r.crashed_worker] + row[r.next_worker]) / 2),
            xytext=(0, 10),
            textcoords="offset points",
            ha="center",
            fontsize=9,
        )
    ax.set_yticks(range(len(workers)), workers)
    ax.set_ylim(len(workers) - 0.4, -0.6)
    ax.set_xlim(left=0)
    label(
        ax,
        title="Worker processes, one killed mid-job with SIGKILL",
        x="time since start (s)",
        y="",
    )
    handles = [Patch(color=colour[s], label=f"job {s}") for s in seqs] + [
        Line2D([], [], marker="X", color="black", linestyle="", markersize=9, label="SIGKILL"),
        Patch(color="0.9", label=f"killed job hidden ({visibility_timeout} s timeout)"),
    ]
    ax.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        fontsize=8,
        title="#n: receive count",
        title_fontsize=8,
    )
    return fig


def heartbeat_comparison(
    attempts: pd.DataFrame,
    heartbeats: pd.DataFrame,
    visibility_timeout: float,
    polls: pd.DataFrame | None = None,
) -> Figure:
    """The same long jobs without and with a heartbeat, one panel each, from
    :func:`workshop.experiments.redelivery.compare_heartbeat`.

    A bar is a worker processing a job (colour: which job); the thin band under it is how long
    the message stayed hidden from the other workers, computed from the receive and heartbeat
    times plus the timeout. Where the band ends before the bar, the timeout expired mid-job
    (vermilion line) and another worker could take the same job. Ticks are heartbeats, each
    pushing the end of the band one timeout past that moment. With ``polls``, a thin line with
    end marks is a long poll that came back empty. The legend lists only what is drawn.
    """
    runs = list(dict.fromkeys(attempts["run"])) or ["no heartbeat", "heartbeat"]
    runs.sort(key=lambda r: r != "no heartbeat")
    heartbeats = heartbeats[heartbeats["run"].isin(runs)]
    empty = polls[polls["run"].isin(runs) & (polls["messages"] == 0)] if polls is not None else None
    workers = sorted(attempts["worker"].unique()) if len(attempts) else []
    workers = sorted(set(workers) | set(heartbeats["worker"]))
    if empty is not None:
        workers = sorted(set(workers) | set(empty["worker"]))
    expired = False
    row = {w: i for i, w in enumerate(workers)}
    seqs = sorted(attempts["seq"].unique())
    colour = {s: PALETTE[i % len(PALETTE)] for i, s in enumerate(seqs)}
    fig, axes = figure(
        len(runs),
        1,
        width=9.0,
        height=1.2 + 1.3 * len(runs) * max(1, len(workers)) / 2,
        sharex=True,
        squeeze=False,
    )
    for ax, run in zip(axes[:, 0], runs, strict=True):
        mine = attempts[attempts["run"] == run]
        for a in mine.itertuples():
            y = row[a.worker]
            ax.barh(
                y,
                a.finished_at - a.received_at,
                left=a.received_at,
                height=0.42,
                color=colour[a.seq],
                alpha=0.85,
            )
            ax.barh(
                y + 0.34,
                a.hidden_until - a.received_at,
                left=a.received_at,
                height=0.12,
                color=HIDDEN,
            )
            ax.annotate(
                f"job {a.seq}, receive #{a.receive_count}",
                (a.received_at, y),
                xytext=(3, 0),
                textcoords="offset points",
                va="center",
                fontsize=8,
                color="white",
                fontweight="bold",
            )
            if a.hidden_until < a.finished_at:
                ax.plot([a.hidden_until] * 2, [y - 0.3, y + 0.42], color=PALETTE[3], linewidth=2)
                expired = True
        if empty is not None:
            for p in empty[empty["run"] == run].itertuples():
                ax.plot(
                    [p.started_at, p.ended_at],
                    [row[p.worker]] * 2,
                    color=POLL,
                    linewidth=1,
                    marker="|",
                    markersize=7,
                )
        beats = heartbeats[heartbeats["run"] == run]
        ax.plot(
            beats["t"],
            [row[w] for w in beats["worker"]],
            marker="|",
            color="black",
            markersize=14,
            linestyle="",
            markeredgewidth=1.5,
        )
        ax.set_yticks(range(len(workers)), workers)
        ax.set_ylim(len(workers) - 0.4, -0.6)
        processings, jobs = len(mine), mine["seq"].nunique()
        label(
            ax,
            title=f"{run}: {_count(jobs, 'job')} processed {_count(processings, 'time')}",
            x="time since start (s)" if ax is axes[-1, 0] else "",
            y="",
        )
    handles = [Patch(color=colour[s], label=f"processing job {s}") for s in seqs] + [
        Patch(color=HIDDEN, label="hidden from others (computed:\nreceive or heartbeat + timeout)"),
    ]
    if expired:
        handles.append(
            Line2D([], [], color=PALETTE[3], linewidth=2, label="timeout expired mid-job")
        )
    if len(heartbeats):
        handles.append(
            Line2D(
                [],
                [],
                marker="|",
                color="black",
                linestyle="",
                markersize=12,
                label="heartbeat (ChangeMessageVisibility)",
            )
        )
    if empty is not None and len(empty):
        handles.append(
            Line2D(
                [], [], color=POLL, linewidth=1, marker="|", markersize=7, label="long poll, empty"
            )
        )
    axes[0, 0].set_xlim(left=0)
    axes[0, 0].legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    fig.suptitle(
        f"Jobs longer than the visibility timeout ({visibility_timeout} s)", fontweight="bold"
    )
    return fig
