"""The page's figures, drawn with matplotlib from the model's own records.

Each panel reads the model (its DataCollector, event log and agent views) and returns
image bytes; the solara components only put them on the page. Matplotlib, not Altair:
Altair's renderer loads vega from the internet.

A figure built afresh and saved as PNG costs 60-120 ms on these machines, mostly in
creating ticks and text; five of them would make a frame drag. So each panel builds its
figure once per model (once per Reset, like the network layout); a frame only moves the
data of its lines, bars and dots, blits them onto the saved background on its own Agg
canvas, and encodes the result as JPEG.
"""

from __future__ import annotations

import io
from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
import PIL.Image
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from sim import metrics
from sim.calendar import DAYS_PER_WEEK, WEEKS_PER_YEAR
from sim.events import DISPOSALS, FIRST_COURT_KIND, KIND, EventLog, Table
from sim.model import FOLLOW_UP_WEEKS
from sim.viz.state import STATE_LABELS, STATES, VizModel

DPI = 80  # screen resolution: a 6.4 x 4 inch figure is a 512 x 320 px image
FIGSIZE = (6.4, 4.0)
SMOOTH_WEEKS = 13  # a quarter: weekly counts of a few entrants are too noisy to read raw
# Frames go out as JPEG: 1 ms to encode a figure against 10-15 ms for the lightest PNG
# (PIL's PNG row filters dominate), and at this quality text and lines stay crisp.
IMAGE_FORMAT = "jpeg"
JPEG_QUALITY = 92

STATE_COLOURS = {
    "custody": "#7f0000",
    "yos": "#e66101",
    "offending": "#fdb863",
    "diverted": "#1b9e77",
    "none": "#b2abd2",
    "left": "#eeeeee",
}


class Panel(ABC):
    """A figure built once for a model and redrawn in place every frame.

    Artists that change every frame are marked animated: the rest (axes, ticks, labels,
    legend) is drawn once into a background and restored from it, and only the animated
    artists are drawn on top (blitting). The background is drawn again only when
    ``background_key`` changes, e.g. when an axis limit has to grow.
    """

    def __init__(self, figsize: tuple[float, float] = FIGSIZE) -> None:
        self.fig = Figure(figsize=figsize, dpi=DPI)
        self.canvas = FigureCanvasAgg(self.fig)
        self.animated: list = []
        self._background = None
        self._background_key: object = None

    def animate(self, *artists):
        """Mark artists as redrawn every frame; returns the first."""
        for a in artists:
            a.set_animated(True)
            self.animated.append(a)
        return artists[0]

    @abstractmethod
    def update(self, model: VizModel) -> None:
        """Move the data of the figure's artists to the model's present state."""

    def background_key(self) -> object:
        """What the static part of the figure depends on (axis limits)."""
        return None

    def after_background(self) -> None:  # noqa: B027 (an optional hook; most panels need none)
        """Called after the background is drawn (positions of laid-out text are known)."""

    def stale(self, model: VizModel) -> bool:
        """True when the figure must be built again (its artists no longer fit the model)."""
        return False

    def image(self, model: VizModel) -> bytes:
        """The updated figure as JPEG bytes (what the page shows and the benchmark times)."""
        self.update(model)
        key = self.background_key()
        if self._background is None or key != self._background_key:
            self.canvas.draw()  # everything but the animated artists
            self._background = self.canvas.copy_from_bbox(self.fig.bbox)
            self._background_key = key
            self.after_background()
        else:
            self.canvas.restore_region(self._background)
        for a in self.animated:
            self.fig.draw_artist(a)
        rgba = PIL.Image.frombuffer(
            "RGBA", self.canvas.get_width_height(), self.canvas.buffer_rgba(), "raw", "RGBA", 0, 1
        )
        buf = io.BytesIO()
        rgba.convert("RGB").save(buf, format=IMAGE_FORMAT, quality=JPEG_QUALITY)
        return buf.getvalue()


NICE_STEPS = (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10)


def nice_ceiling(value: float) -> float:
    """The smallest of NICE_STEPS x 10^k at or above ``value`` (axis tops that read well)."""
    if value <= 0:
        return 1.0
    exp = 10 ** np.floor(np.log10(value))
    for m in NICE_STEPS:
        if m * exp >= value * (1 - 1e-12):
            return float(m * exp)
    return float(10 * exp)


# -- network ---------------------------------------------------------------------------------
class NetworkPanel(Panel):
    """The sampled people where the layout put them, coloured by their state now."""

    def __init__(self, model: VizModel) -> None:
        super().__init__((6.4, 4.6))
        sample = self.sample = model.network_sample()
        ax = self.fig.add_axes((0.0, 0.0, 0.6, 0.93))
        ax.set_axis_off()
        xy = sample.xy
        if sample.edges.size:
            colours = np.where(sample.edge_is_gang, "#d7301f", "#aaaaaa")
            ax.add_collection(
                LineCollection(xy[sample.edges], colors=colours, linewidths=0.4, alpha=0.5)
            )
        self.dots = self.animate(
            ax.scatter(xy[:, 0], xy[:, 1], s=22, edgecolors="#555555", linewidths=0.3)
        )
        self.rings = self.animate(
            ax.scatter(xy[:, 0], xy[:, 1], s=46, marker="s", facecolors="none", edgecolors="k")
        )
        ax.update_datalim(xy)
        ax.autoscale_view()
        handles = [
            Line2D([], [], marker="o", ls="", color=STATE_COLOURS[s], markeredgecolor="#555555")
            for s in STATES
        ]
        handles += [
            Line2D([], [], marker="s", ls="", color="white", markeredgecolor="black"),
            Line2D([], [], color="#d7301f"),
            Line2D([], [], color="#aaaaaa"),
        ]
        labels = [STATE_LABELS[s] for s in STATES]
        labels += ["gang member (square)", "gang tie", "friend or sibling tie"]
        self.legend = self.fig.legend(
            handles=handles,
            labels=labels,
            loc="center left",
            bbox_to_anchor=(0.59, 0.5),
            fontsize=7,
            frameon=False,
        )
        self.title = self.animate(self.fig.text(0.02, 0.96, "", fontsize=9))
        self.counts: list = []  # one text after each state's legend entry, placed once drawn
        self._count_values: list[str] = []
        self._palette = np.array([to_rgb(STATE_COLOURS[s]) for s in STATES])

    def stale(self, model: VizModel) -> bool:
        return model.network_sample() is not self.sample

    def update(self, model: VizModel) -> None:
        state, gang = self.sample.states(model)
        rgba = np.ones((state.size, 4))
        rgba[:, :3] = self._palette[state]
        self.dots.set_facecolors(rgba)
        self.rings.set_sizes(np.where(gang, 46.0, 0.0))
        self._count_values = [str(c) for c in np.bincount(state, minlength=len(STATES))]
        self._count_values.append(str(int(gang.sum())))
        for text, value in zip(self.counts, self._count_values, strict=False):
            text.set_text(value)
        self.title.set_text(
            f"{self.sample.ids.size} people around the largest gang in week {self.sample.week};"
            f" now week {model.week}"
        )

    def after_background(self) -> None:
        if self.counts:
            return
        to_fig = self.fig.transFigure.inverted()
        for text, value in zip(self.legend.get_texts(), self._count_values, strict=False):
            box = text.get_window_extent()
            x, y = to_fig.transform((box.x1 + 4, (box.y0 + box.y1) / 2))
            count = self.fig.text(x, y, value, fontsize=7, va="center", weight="bold")
            self.counts.append(self.animate(count))


# -- time series -----------------------------------------------------------------------------
class SeriesPanel(Panel):
    """Weekly series from the DataCollector: faint raw values, bold rolling means.

    The time axis spans the whole run (burn-in, measured years, follow-up), so it never
    moves; the value axis only grows, to round numbers, so the background rarely redraws.
    """

    def __init__(
        self,
        model: VizModel,
        title: str,
        ylabel: str,
        columns: tuple[tuple[str, str, str], ...],  # (column, label, colour)
        smooth: bool = True,
        log: bool = False,
        legend: str = "upper right",  # where the lines are not, for most of a run
    ) -> None:
        super().__init__()
        self.columns, self.smooth, self.log = columns, smooth, log
        ax = self.ax = self.fig.subplots()
        burn = model.burn_in_weeks / WEEKS_PER_YEAR
        follow = (model.burn_in_weeks + model.measured_weeks) / WEEKS_PER_YEAR
        end = model.total_weeks / WEEKS_PER_YEAR
        if burn > 0:
            ax.axvspan(0, burn, color="#ececec", zorder=0)
        ax.axvspan(follow, end, color="#f5f5f5", zorder=0)
        self.raw, self.mean, self.now = [], [], []
        for _, label, colour in columns:
            if smooth:
                self.raw.append(self.animate(ax.plot([], [], color=colour, alpha=0.3, lw=0.8)[0]))
            self.mean.append(self.animate(ax.plot([], [], color=colour, lw=1.6, label=label)[0]))
            # A dot on this week's value: the newest point shows even before there is a line.
            self.now.append(self.animate(ax.plot([], [], "o", color=colour, ms=3.5)[0]))
        if log:
            ax.set_yscale("symlog", linthresh=1)
        ax.set_xlim(0, end)
        ax.set_ylim(0, 10.0 if log else 1.0)
        ax.set_ylabel(ylabel, fontsize=8)
        ax.set_xlabel("year (grey: burn-in and follow-up, not measured)", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc=legend)
        ax.set_title(title + (f" ({SMOOTH_WEEKS}-week mean bold)" if smooth else ""), fontsize=9)
        self.fig.subplots_adjust(left=0.11, right=0.98, top=0.91, bottom=0.13)

    def update(self, model: VizModel) -> None:
        df = model.frame_series()
        x = df["year"].to_numpy()
        top = 0.0
        for k, (col, _, _) in enumerate(self.columns):
            y = df[col].to_numpy(dtype=float)
            if self.smooth:
                self.raw[k].set_data(x, y)
                y_mean = df[col].rolling(SMOOTH_WEEKS, min_periods=1).mean().to_numpy()
            else:
                y_mean = y
            self.mean[k].set_data(x, y_mean)
            self.now[k].set_data(x[-1:], y_mean[-1:])
            top = max(top, float(y.max()) if y.size else 0.0)
        # Grow the value axis to a round number above the data, never shrink it.
        if top > self.ax.get_ylim()[1] / (2.0 if self.log else 1.08):
            want = top * 2.0 if self.log else top * 1.08
            self.ax.set_ylim(0, nice_ceiling(want))

    def background_key(self) -> object:
        return self.ax.get_ylim()


def offences_panel(model: VizModel) -> SeriesPanel:
    """True offences (only the model sees them) beside detected and proven ones."""
    return SeriesPanel(
        model,
        "Offending per week",
        "offences per week",
        (
            ("offences", "true offences", "#542788"),
            ("detected", "detected", "#e66101"),
            ("proven_offences", "proven (caution or conviction)", "#b2182b"),
        ),
        log=True,
        legend="lower right",
    )


def entrants_panel(model: VizModel) -> SeriesPanel:
    """First-time entrants and children cautioned or sentenced (under-18s), and diversions."""
    return SeriesPanel(
        model,
        "Entering the system",
        "children per week",
        (
            ("formal_disposals", "cautioned or sentenced (formal disposals)", "#2166ac"),
            ("first_time_entrants", "first-time entrants", "#d6604d"),
            ("diverted", "diverted", "#1b9e77"),
        ),
    )


def caseload_panel(model: VizModel) -> SeriesPanel:
    """Children under YOS supervision and in custody, week by week."""
    return SeriesPanel(
        model,
        "Supervision and custody",
        "children",
        (
            ("yos_caseload", "YOS caseload", "#e66101"),
            ("custody_population", "in custody", "#7f0000"),
        ),
        smooth=False,
    )


# -- pathway funnel --------------------------------------------------------------------------
FUNNEL = (
    ("detected offences", "#8073ac"),
    ("arrests (cases decided)", "#8073ac"),
    ("no further action", "#bababa"),
    ("diverted", "#1b9e77"),
    ("community resolution", "#66c2a5"),
    ("formal: caution or sentence", "#2166ac"),
    ("court sentence", "#d6604d"),
    ("custody", "#7f0000"),
)


def pathway_counts(model: VizModel, weeks: int = WEEKS_PER_YEAR) -> dict[str, int]:
    """Pathway volumes of the last ``weeks`` weeks (all ages 10-20), from the model's records."""
    df = model.frame_series().tail(weeks)
    d = model.events.disposals
    recent = d["week"] >= model.week - weeks
    by_kind = np.bincount(d["kind"][recent].astype(np.int64), minlength=len(DISPOSALS))
    return {
        "detected offences": int(df["detected"].sum()) if len(df) else 0,
        "arrests (cases decided)": int(df["arrests"].sum()) if len(df) else 0,
        "no further action": int(by_kind[KIND["nfa"]]),
        "diverted": int(by_kind[KIND["diversion"]]),
        "community resolution": int(by_kind[KIND["community_resolution"]]),
        "formal: caution or sentence": int(by_kind[KIND["youth_caution"] :].sum()),
        "court sentence": int(by_kind[FIRST_COURT_KIND:].sum()),
        "custody": int(by_kind[KIND["custody"]]),
    }


class FunnelPanel(Panel):
    """Detected -> arrested -> diverted or informal / formal -> court -> custody, as bars."""

    def __init__(self, model: VizModel) -> None:
        super().__init__()
        ax = self.ax = self.fig.subplots()
        labels = [name for name, _ in FUNNEL]
        y = np.arange(len(labels))[::-1]
        self.bars = ax.barh(y, np.zeros(len(labels)), color=[c for _, c in FUNNEL])
        self.animate(*self.bars)
        indent = {"court sentence": "    ", "custody": "        "}
        ax.set_yticks(y, [indent.get(name, "") + name for name in labels], fontsize=7)
        self.values = [ax.text(0, yi, "", va="center", fontsize=7) for yi in y]
        self.animate(*self.values)
        ax.set_xlim(0, 10)
        ax.tick_params(axis="x", labelsize=7)
        ax.set_title("Pathway, last 52 weeks (ages 10-20)", fontsize=9)
        self.fig.subplots_adjust(left=0.33, right=0.97, top=0.91, bottom=0.08)

    def update(self, model: VizModel) -> None:
        counts = pathway_counts(model)
        values = [counts[name] for name, _ in FUNNEL]
        for bar, text, v in zip(self.bars, self.values, values, strict=True):
            bar.set_width(v)
            text.set_x(v)
            text.set_text(f" {v:,}")
        if max(values) * 1.2 > self.ax.get_xlim()[1]:  # room for the labels; grow only
            self.ax.set_xlim(0, nice_ceiling(max(values) * 1.2))

    def background_key(self) -> object:
        return self.ax.get_xlim()


PANELS = {
    "network": NetworkPanel,
    "offences": offences_panel,
    "entrants": entrants_panel,
    "caseload": caseload_panel,
    "funnel": FunnelPanel,
}


def panel(model: VizModel, name: str) -> Panel:
    """The model's panel ``name``, built on first use (so once per Reset)."""
    if name not in model.panels or model.panels[name].stale(model):
        model.panels[name] = PANELS[name](model)
    return model.panels[name]


def frame_images(model: VizModel) -> dict[str, bytes]:
    """Every figure of a frame as JPEG bytes (the page's components draw the same ones)."""
    return {name: panel(model, name).image(model) for name in PANELS}


# -- proven reoffending ----------------------------------------------------------------------
@dataclass(frozen=True)
class RunningReoffending:
    """The MoJ proven reoffending rate of the latest cohort the run can measure."""

    rate: float  # NaN with an empty cohort
    cohort: int
    start_week: int  # index events in [start_week, end_week)
    end_week: int
    complete: bool  # False: the follow-up is still running, the rate can only rise

    def describe(self) -> str:
        if self.cohort == 0:
            return "Proven reoffending: no one cautioned, convicted or released yet."
        kind = (
            "follow-up complete"
            if self.complete
            else "provisional: the 12 + 6 months of follow-up have not all passed"
        )
        return (
            f"Proven reoffending: <b>{self.rate:.1%}</b> of {self.cohort:,} children cautioned, "
            f"convicted or released in weeks {self.start_week}-{self.end_week - 1} ({kind})."
        )


def _rows(table: Table, mask: np.ndarray) -> Table:
    """A copy of the rows of ``table`` where ``mask`` holds (for the measures' frames)."""
    out = Table(table.columns, capacity=max(int(mask.sum()), 1))
    out.append(**{name: table[name][mask] for name in table.columns})
    return out


def running_reoffending(model: VizModel) -> RunningReoffending:
    """Proven reoffending (``sim.metrics``, the MoJ measure) of the newest 12-month cohort.

    Once the run is 131 weeks in, that is the cohort indexed 79 to 131 weeks ago, whose
    12 months to reoffend and 6 more to be proven have passed; before that, the cohort
    indexed so far, marked provisional. Only events that can change the rate are framed
    (offences from the window's start, index events in it), which keeps a frame's share
    to a few milliseconds at borough scale. Cached per week.
    """
    week = model.week
    cached = model.reoffending_cache.get(week)
    if cached is not None:
        return cached
    if week >= WEEKS_PER_YEAR + FOLLOW_UP_WEEKS:
        start, end, complete = week - FOLLOW_UP_WEEKS - WEEKS_PER_YEAR, week - FOLLOW_UP_WEEKS, True
    else:
        start, end, complete = 0, min(max(week, 1), WEEKS_PER_YEAR), False
    ev = model.events
    sub = EventLog()
    sub.offences = _rows(ev.offences, ev.offences["week"] >= start)
    sub.disposals = _rows(
        ev.disposals, (ev.disposals["week"] >= start) & (ev.disposals["week"] < end)
    )
    sub.releases = _rows(ev.releases, (ev.releases["week"] >= start) & (ev.releases["week"] < end))
    result = metrics.proven_reoffending(
        model.people_table(),
        sub.offences_frame(),
        sub.disposals_frame(),
        sub.releases_frame(),
        start * DAYS_PER_WEEK,
        end * DAYS_PER_WEEK,
    )
    out = RunningReoffending(result.rate, result.cohort_size, start, end, complete)
    model.reoffending_cache[week] = out
    return out
