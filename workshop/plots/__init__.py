"""One plot style for every notebook: titled, labelled axes with units, legends, same colours.

Plot helpers take DataFrames of measurements and return the matplotlib Figure, so a learner
can restyle or save it; notebooks end plot cells with ``plt.show()``. This module holds the
style; each notebook's plots live in a module of their own (``workshop.plots.fundamentals``).
"""

from __future__ import annotations

import matplotlib as mpl
import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, NullFormatter, NullLocator

# Colour-blind-safe palette (Okabe and Ito), in a fixed order so a series keeps its colour.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]

STYLE = {
    "figure.figsize": (8.0, 3.6),
    "figure.dpi": 100,
    "axes.prop_cycle": mpl.cycler(color=PALETTE),
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 12,
    "axes.titleweight": "bold",
    "legend.frameon": False,
}


def use_style() -> None:
    """Make the workshop's style matplotlib's default (importing this module does it).

    Global rather than per figure: titles, legends and colours take the style when they are
    drawn, which is after the figure is created.
    """
    mpl.rcParams.update(STYLE)


def figure(
    nrows: int = 1, ncols: int = 1, *, width: float = 8.0, height: float = 3.6, **kwargs
) -> tuple[Figure, Axes | list[Axes]]:
    """A new figure in the workshop's style (``plt.subplots`` with our defaults)."""
    return plt.subplots(nrows, ncols, figsize=(width, height), layout="constrained", **kwargs)


def label(ax: Axes, *, title: str, x: str, y: str, legend: bool = False) -> Axes:
    """Title and axis labels (with units, e.g. ``"time (s)"``) on one call."""
    ax.set_title(title)
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    if legend:
        ax.legend()
    return ax


use_style()


def plain_log_ticks(ax: Axes, values, axis: str = "y") -> None:
    """Ticks at 1, 2, 3, 5, 10, 20 ... on a log axis, written as plain numbers (latencies
    read better as 20 ms than as 2 x 10^1)."""
    if not len(values):
        return
    low, high = float(values.min()) / 1.3, float(values.max()) * 1.3
    (ax.set_ylim if axis == "y" else ax.set_xlim)(low, high)
    ticks = [m * 10**e for e in range(-1, 6) for m in (1, 2, 3, 5) if low <= m * 10**e <= high]
    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_locator(FixedLocator(ticks))
    target.set_major_formatter(lambda value, _: f"{value:g}")
    target.set_minor_locator(NullLocator())
    target.set_minor_formatter(NullFormatter())
