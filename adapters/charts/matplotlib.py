"""The TrendChart port drawn with matplotlib: bookings as bars, signups as a line, one slot per day.

Only the object-oriented API (``Figure`` on an explicit Agg canvas), never pyplot: pyplot keeps
global figures and picks a GUI backend, neither of which belongs in a web or Celery process. The
container imports this module through ``lazy()``, so matplotlib loads only when a chart is drawn.

Identical input gives identical bytes: a fixed size and DPI, no "Software" metadata (it would
carry the matplotlib version) and no timestamps (PNG has none unless asked). Fonts and colours
are set on each artist, so nothing depends on the process's rcParams beyond matplotlib's
defaults (DejaVu Sans ships with it).
"""

from __future__ import annotations

import io
import threading
from collections.abc import Sequence

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from domain.errors import PortError
from domain.reports import TrendPoint

WIDTH_PX, HEIGHT_PX, DPI = 700, 300, 100
BOOKINGS_COLOUR = "#3b6ea5"
SIGNUPS_COLOUR = "#e07b39"
TEXT_COLOUR = "#333333"
SIGNUPS_STYLE = {"color": SIGNUPS_COLOUR, "linewidth": 2, "marker": "o", "markersize": 4}

# matplotlib's font cache and text layout are shared by every figure in the process and are not
# documented as thread-safe; a report draws one small chart a day, so serialising costs nothing.
_DRAWING = threading.Lock()


class MatplotlibTrendChart:
    """Implements TrendChart: a WIDTH_PX x HEIGHT_PX PNG."""

    def render_png(self, points: Sequence[TrendPoint], *, title: str) -> bytes:
        try:
            with _DRAWING:
                return _draw(points, title)
        except Exception as e:  # any drawing failure (fonts, memory, a matplotlib bug) is the port's failure
            raise PortError("Could not draw the trend chart.") from e


def _draw(points: Sequence[TrendPoint], title: str) -> bytes:
    figure = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI, layout="constrained")
    canvas = FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    _plot(axes, points)
    _style(axes, points, title)
    buffer = io.BytesIO()
    canvas.print_png(buffer, metadata={"Software": None})
    return buffer.getvalue()


def _plot(axes: Axes, points: Sequence[TrendPoint]) -> None:
    slots = range(len(points))
    axes.bar(slots, [p.bookings for p in points], width=0.6, color=BOOKINGS_COLOUR, zorder=2)
    axes.plot(slots, [p.signups for p in points], zorder=3, **SIGNUPS_STYLE)
    # Explicit handles: an empty trend draws no bar for the legend to copy its colour from.
    handles = [Patch(color=BOOKINGS_COLOUR, label="Bookings"), Line2D([], [], label="Signups", **SIGNUPS_STYLE)]
    axes.legend(handles=handles, loc="upper left", fontsize=8, frameon=False, ncols=2)


def _style(axes: Axes, points: Sequence[TrendPoint], title: str) -> None:
    highest = max((max(p.bookings, p.signups) for p in points), default=0)
    # Headroom for the legend; at least 0..4 so an all-zero trend still has a scale.
    axes.set_ylim(0, max(4, highest * 1.3))
    axes.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=5))
    axes.set_xlim(-0.6, max(len(points), 1) - 0.4)
    axes.set_xticks(range(len(points)), [f"{p.day:%a}\n{p.day.day} {p.day:%b}" for p in points])
    axes.tick_params(labelsize=8, colors=TEXT_COLOUR, length=0)
    # parse_math off: a "$" in the title is a dollar sign, never the start of a formula.
    axes.set_title(title, fontsize=10, color=TEXT_COLOUR, loc="left", parse_math=False)
    axes.grid(axis="y", color="#dddddd", linewidth=0.8, zorder=0)
    for side in ("top", "right", "left"):
        axes.spines[side].set_visible(False)
