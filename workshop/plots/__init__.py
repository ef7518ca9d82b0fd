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
