"""Plots of notebook 06 (cold starts and microVMs): keep-alive, cold and warm latency, Init
against imports, bursts, kinds of start, and the keep-alive simulation."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from workshop.plots import PALETTE, figure, label

if TYPE_CHECKING:
    import pandas as pd

WARM, COLD, RESTORED, INIT = PALETTE[0], PALETTE[1], PALETTE[2], PALETTE[3]
START_COLOURS = {"warm": WARM, "cold": COLD, "restored": RESTORED}
AWS = "0.35"  # published figures are drawn in grey, measurements in colour


HYBRID_MARKERS = ("*", "D", "P", "X")
"""Markers of the hybrid policies in :func:`policy_tradeoff`, one per fallback window."""

PLAIN = FuncFormatter(lambda value, _: f"{value:g}")
"""Tick labels as plain numbers (``300``, not ``3 x 10^2``) on logarithmic axes."""


def _plain_log(axis) -> None:
    """Ticks at 1, 2 and 5 of every decade, labelled as plain numbers."""
    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(PLAIN)
    axis.set_minor_formatter(NullFormatter())


def _jitter(count: int, width: float = 0.3) -> np.ndarray:
    """Deterministic spread for points that share a position (golden-ratio steps)."""
    return width * ((np.arange(count) * 0.618) % 1 - 0.5)


def idle_gaps(calls: pd.DataFrame, keep_alive_s: float | None) -> Figure:
    """Share of calls that started cold after each idle gap, with every call as a dot.

    ``calls`` is :func:`workshop.experiments.cold_starts.idle_gaps`' table. ``keep_alive_s``
    (None on AWS) draws the local keep-alive and the second after it, in which the local
    cloud's once-a-second check may or may not have retired the environment yet.
    """
    fig, ax = figure(width=8.0, height=3.6)
    cold = calls["start"] == "cold"
    share = cold.groupby(calls["gap_s"]).mean()
    ax.plot(share.index, share.values, color="0.3", marker="s", zorder=3, label="share cold")
    spread = _jitter(len(calls), 0.08)
    ax.scatter(
        calls["idle_s"],
        cold.astype(float) + spread,
        c=[COLD if c else WARM for c in cold],
        s=28,
        alpha=0.8,
        zorder=4,
    )
    if keep_alive_s is not None:
        ax.axvline(keep_alive_s, color=INIT, linestyle="--", linewidth=1.2)
        ax.axvspan(keep_alive_s, keep_alive_s + 1.0, color=INIT, alpha=0.1)
        ax.annotate(
            f"keep-alive {keep_alive_s:g} s,\nchecked once a second",
            (keep_alive_s, 0.5),
            xytext=(6, 0),
            textcoords="offset points",
            fontsize="small",
            color=INIT,
        )
    ax.set_ylim(-0.15, 1.15)
    ax.set_xlim(0, max(calls["idle_s"].max(), (keep_alive_s or 0) + 1.2) * 1.08)
    label(
        ax,
        title="Idle gap before a call, and whether it started cold",
        x="idle gap before the call (s)",
        y="share of calls that were cold",
    )
    dot = {"marker": "o", "linestyle": "", "markersize": 6}
    handles = [
        Line2D([], [], color="0.3", marker="s", label="share of calls that were cold"),
        Line2D([], [], color=COLD, label="one call, cold (at 1)", **dot),
        Line2D([], [], color=WARM, label="one call, warm (at 0)", **dot),
    ]
    if keep_alive_s is not None:
        handles.append(
            Patch(
                color=INIT,
                alpha=0.1,
                label="idle longer than the keep-alive:\nretired at the next check, within 1 s",
            )
        )
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small")
    return fig


def _ecdf(ax, values, colour: str, name: str, **style) -> None:
    values = np.sort(np.asarray(values, dtype=float))
    values = values[~np.isnan(values)]
    if len(values):
        shares = np.arange(1, len(values) + 1) / len(values)
        ax.step(
            values, shares, where="post", color=colour, label=f"{name} ({len(values)})", **style
        )


def latency_distributions(calls: pd.DataFrame) -> Figure:
    """Cumulative distributions of the round trip of cold and warm calls, and of Init Duration.

    ``calls`` is :func:`workshop.experiments.invocations.cold_and_warm`'s table (column
    ``start`` is ``cold`` or ``warm``). A logarithmic time axis, because the two groups differ
    by more than an order of magnitude.
    """
    fig, ax = figure(width=8.0, height=3.6)
    _ecdf(ax, calls.loc[calls["start"] == "warm", "latency_ms"], WARM, "warm calls")
    _ecdf(ax, calls.loc[calls["start"] == "cold", "latency_ms"], COLD, "cold calls")
    _ecdf(
        ax,
        calls.loc[calls["start"] == "cold", "init_ms"],
        INIT,
        "Init Duration of the cold calls",
        linestyle="--",
    )
    ax.set_xscale("log")
    _plain_log(ax.xaxis)
    ax.set_ylim(0, 1.05)
    label(
        ax,
        title="How long the caller waited: cold against warm calls",
        x="time (ms, log scale)",
        y="share of calls at or below",
    )
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize="small")
    return fig


def init_by_imports(imports: pd.DataFrame) -> Figure:
    """Left: Init Duration of each cold start by what the handler imports, beside AWS's
    published medians. Right: memory of an idle environment of each kind.

    ``imports`` is :func:`workshop.experiments.cold_starts.init_by_imports`' table with the
    labels ``stdlib only``, ``boto3`` and ``pandas``. The AWS marks are the lambda-perf
    median for a hello-world Python function (about 85 ms) and that plus the 270 to 310 ms
    that importing boto3 adds there; nothing is published for pandas.
    """
    fig, (init_ax, memory_ax) = figure(1, 2, width=10.5, height=3.6)
    cold = imports[imports["start"] == "cold"]
    labels = list(dict.fromkeys(cold["handler"]))
    for position, name in enumerate(labels):
        values = cold.loc[cold["handler"] == name, "init_ms"].to_numpy(dtype=float)
        init_ax.scatter(values, position + _jitter(len(values), 0.25), color=COLD, s=30, zorder=3)
        init_ax.plot([np.median(values)] * 2, [position - 0.3, position + 0.3], color="black")
    aws = {"stdlib only": (85, 85), "boto3": (85 + 270, 85 + 310)}
    for position, name in enumerate(labels):
        if name in aws:
            low, high = aws[name]
            init_ax.fill_betweenx(
                [position - 0.35, position + 0.35], low - 3, high + 3, color=AWS, alpha=0.25
            )
    init_ax.set_yticks(range(len(labels)), labels)
    init_ax.set_xlim(left=0)
    label(init_ax, title="Init Duration by what the module imports", x="Init Duration (ms)", y="")
    init_ax.legend(
        handles=[
            Patch(color=COLD, label="cold start here (black: median)"),
            Patch(
                color=AWS,
                alpha=0.25,
                label="AWS, published: hello's median Init\n(85 ms), + 270 to 310 ms for boto3",
            ),
        ],
        loc="lower right",
        fontsize="small",
    )

    local = cold["rss_mb"].notna().any()
    column = "rss_mb" if local else "max_memory_mb"
    memory = cold.groupby("handler", sort=False)[column].median().reindex(labels)
    bars = memory_ax.barh(range(len(labels)), memory.to_numpy(dtype=float), color=WARM)
    memory_ax.bar_label(bars, fmt="%.0f MiB", padding=3, fontsize="small")
    memory_ax.axvline(5, color=AWS, linestyle="--")
    memory_ax.legend(
        handles=[
            Line2D([], [], color=AWS, linestyle="--", label="Firecracker adds ≤ 5 MiB per microVM")
        ],
        loc="lower right",
        fontsize="small",
    )
    memory_ax.set_yticks(range(len(labels)), labels)
    memory_ax.set_xlim(0, float(np.nanmax(memory.to_numpy(dtype=float))) * 1.3)
    what = "resident memory of the process" if local else "Max Memory Used (REPORT)"
    label(memory_ax, title="An idle environment's memory", x=f"{what} (MiB)", y="")
    return fig


def bursts(calls: pd.DataFrame) -> Figure:
    """Left: a timeline of the largest burst, one row per environment (Init hatched). Right:
    Init Duration against the number of calls that arrived together.

    ``calls`` is :func:`workshop.experiments.cold_starts.bursts`' table.
    """
    fig, (timeline, sizes) = figure(1, 2, width=11.0, height=3.8)
    largest = calls[calls["size"] == calls["size"].max()]
    order = list(dict.fromkeys(largest.sort_values("started_s")["environment"]))
    t0 = largest["started_s"].min()
    for _, row in largest.iterrows():
        y = order.index(row["environment"])
        start, end = row["started_s"] - t0, row["ended_s"] - t0
        init = (row["init_ms"] or 0) / 1000 if row["init_ms"] == row["init_ms"] else 0.0
        colour = START_COLOURS.get(row["start"], "0.6")
        if init:
            timeline.barh(y, init, left=start, color=INIT, hatch="///", edgecolor="white")
        timeline.barh(y, end - start - init, left=start + init, color=colour)
    timeline.set_xlim(0, (largest["ended_s"].max() - t0) * 1.05)
    timeline.set_yticks(range(len(order)), [f"env {i + 1}" for i in range(len(order))])
    timeline.invert_yaxis()
    label(
        timeline,
        title=f"{int(largest['size'].iloc[0])} calls at once, twice",
        x="time since the first call (s)",
        y="execution environment",
    )
    fig.legend(
        handles=[
            Patch(facecolor=INIT, hatch="///", edgecolor="white", label="Init"),
            Patch(color=COLD, label="cold call, after Init"),
            Patch(color=WARM, label="warm call"),
        ],
        loc="outside lower left",
        ncols=3,
        fontsize="small",
    )

    cold = calls[(calls["start"] == "cold") & (calls["wave"] == 1)]
    for size, group in cold.groupby("size"):
        values = group["init_ms"].to_numpy(dtype=float)
        sizes.scatter(
            np.full(len(values), size) + _jitter(len(values), 0.5), values, color=COLD, s=24
        )
    medians = cold.groupby("size")["init_ms"].median()
    sizes.plot(medians.index, medians.values, color="black", marker="_", markersize=18)
    sizes.set_xticks(list(medians.index))
    sizes.set_ylim(bottom=0)
    label(
        sizes,
        title="Init Duration when calls arrive together",
        x="calls arriving at once",
        y="Init Duration (ms)",
    )
    return fig


def start_kinds(calls: pd.DataFrame) -> Figure:
    """Left: what each call waited for beyond its handler (round trip minus Duration), by the
    kind of version. Right: the Init or Restore Duration each REPORT line gave.

    ``calls`` is :func:`workshop.experiments.cold_starts.start_kinds`' table; the SnapStart
    version's first call, made alone (wave 0), is drawn hollow: locally it makes the snapshot,
    which AWS makes when the version is published.
    """
    fig, (wait, report) = figure(1, 2, width=11.0, height=3.4, sharey=True)
    kinds = list(dict.fromkeys(calls["kind"]))
    for position, kind in enumerate(kinds):
        group = calls[calls["kind"] == kind].reset_index(drop=True)
        overhead = (group["latency_ms"] - group["duration_ms"]).clip(lower=0.1)
        offsets = _jitter(len(group), 0.35)
        for i, row in group.iterrows():
            colour = START_COLOURS.get(row["start"], "0.6")
            first = row["wave"] == 0
            style = {"facecolors": "none", "edgecolors": colour} if first else {"color": colour}
            wait.scatter(overhead[i], position + offsets[i], s=34, zorder=3, **style)
            value = row["init_ms"] if row["start"] == "cold" else row["restore_ms"]
            if value == value and value is not None:
                report.scatter(value, position + offsets[i], s=34, zorder=3, **style)
    wait.set_xscale("log")
    _plain_log(wait.xaxis)
    wait.set_yticks(range(len(kinds)), kinds)
    label(wait, title="Time a call waited beyond its handler", x="round trip − Duration (ms)", y="")
    report.legend(
        handles=[Patch(color=c, label=k) for k, c in START_COLOURS.items()],
        loc="center right",
        fontsize="small",
        title="REPORT says",
    )
    report.set_xlim(left=0)
    label(
        report,
        title="Init or Restore Duration (REPORT)",
        x="duration (ms); hollow: the first call, alone",
        y="",
    )
    return fig


def trace_overview(trace: pd.DataFrame, *, sample: int = 40, seed: int = 0) -> Figure:
    """Left: how many functions were invoked how often in the day (logarithmic bins). Right:
    in which minutes a sample of functions, from the rarest to the busiest, were invoked.

    ``trace`` is a day in the Azure layout (:func:`workshop.simulation.traces.generate`).
    """
    from workshop.simulation.traces import minute_columns

    counts = trace[minute_columns(trace)].to_numpy()
    daily = counts.sum(axis=1)
    fig, (hist, raster) = figure(1, 2, width=11.0, height=3.8)
    invoked = daily[daily > 0]
    bins = np.logspace(0, np.ceil(np.log10(invoked.max())) + 0.01, 30)
    hist.hist(invoked, bins=bins, color=WARM)
    hist.set_xscale("log")
    label(
        hist,
        title=f"{len(trace):,} functions, one day",
        x="invocations in the day (log scale)",
        y="functions",
    )
    hist.annotate(
        f"{(daily == 0).sum()} functions\nnot invoked at all",
        (0.98, 0.95),
        xycoords="axes fraction",
        ha="right",
        va="top",
        fontsize="small",
    )

    rng = np.random.default_rng(seed)
    chosen = np.sort(
        rng.choice(np.flatnonzero(daily > 0), size=min(sample, len(invoked)), replace=False)
    )
    chosen = chosen[np.argsort(daily[chosen])]
    active = counts[chosen] > 0
    rows, minutes = np.nonzero(active)
    triggers = trace["Trigger"].to_numpy()[chosen]
    colours = np.where(triggers[rows] == "timer", PALETTE[1], PALETTE[0])
    raster.scatter(minutes / 60, rows, s=1.5, c=colours, marker="|")
    raster.set_xlim(0, counts.shape[1] / 60)
    raster.set_ylim(-1, len(chosen))
    label(
        raster,
        title="When sampled functions ran (rarest at the bottom)",
        x="hour of the day",
        y="function (sorted by invocations)",
    )
    raster.legend(
        handles=[Patch(color=PALETTE[1], label="timer"), Patch(color=PALETTE[0], label="other")],
        loc="upper left",
        bbox_to_anchor=(1.01, 1),
        fontsize="small",
    )
    return fig


def policy_tradeoff(policies: pd.DataFrame, title: str | None = None) -> Figure:
    """Cold starts against the idle memory-time paid for them, per keep-alive policy.

    ``policies`` is :func:`workshop.simulation.keepalive.compare`' table. Left: the 75th
    percentile of the applications' cold-start percentages (a typical badly served
    application); right: all cold starts of the day. Fixed windows form a curve, labelled with
    their minutes; a policy below that curve has fewer cold starts than the fixed windows at
    the same idle memory-time (:func:`workshop.simulation.keepalive.versus_fixed_curve` reads
    the curve the same way). ``title`` names the day above both panels.
    """
    fig, (typical, total) = figure(1, 2, width=11.0, height=4.0)
    if title:
        fig.suptitle(title, fontweight="bold")
    fixed = policies[policies["kind"] == "fixed"].sort_values("window_minutes")
    hybrid = policies[policies["kind"] == "hybrid"]
    for ax, column in ((typical, "app_cold_start_pct_p75"), (total, "cold_starts")):
        x = fixed["idle_gb_hours"]
        ax.plot(x, fixed[column], color=WARM, marker="o", label="fixed keep-alive")
        for xi, yi, window in zip(x, fixed[column], fixed["window_minutes"], strict=True):
            ax.annotate(
                f"{window} min", (xi, yi), xytext=(4, 4), textcoords="offset points", fontsize=8
            )
        for (_, row), marker in zip(hybrid.iterrows(), HYBRID_MARKERS, strict=False):
            ax.scatter(
                row["idle_gb_hours"],
                row[column],
                color=COLD,
                marker=marker,
                s=170 if marker == "*" else 70,
                edgecolor="black",
                linewidth=0.5,
                zorder=4,
                label=f"hybrid histogram, fallback {row['window_minutes']} min",
            )
        ax.set_xscale("log")
        _plain_log(ax.xaxis)
    typical.set_ylim(0, 105)
    total.set_yscale("log")
    _plain_log(total.yaxis)
    label(
        typical,
        title="A typical application's cold starts",
        x="idle memory-time (GB-hours in the day, log)",
        y="75th percentile of apps' cold-start %",
    )
    label(
        total,
        title="All cold starts of the day",
        x="idle memory-time (GB-hours in the day, log)",
        y="cold starts (log scale)",
    )
    typical.legend(loc="lower left", fontsize="small")
    return fig
