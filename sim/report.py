"""The policy comparison report: each scenario against the baseline, on paired runs.

``write_report(DIR)`` reads an experiment's results folder (made by ``sim.batch``) and
writes ``DIR/report/index.html`` and its Markdown twin ``index.md``, with PNG charts.
The report has two layers:

- **At a glance**, for a council or police strategist: a figure of the headline table
  (``headline.png``, the report's first screen), a few plain-language lines per policy
  (what it would change, how sure we are, what it would cost), the question each policy
  answers, and two rankings: by net social cost, and by harm averted per pound;
- **The evidence** below: paired differences with their intervals, where the
  uncertainty comes from (chance or parameters, and which parameters), the costs and
  whether each is sourced or assumed, the reoffending cohort, disproportionality, the
  time series and each policy in detail.

The statistics are :mod:`sim.comparison`'s; the words :mod:`sim.plain_language`'s.
Every comparison is paired (same seed, same parameter draw). Central figures are
medians; intervals are 95% intervals of the expected effect over the uncertain
parameters and chance (chance only without parameter draws). Colour means the same
everywhere: green better, red worse, and only where the interval excludes no change.
The MoJ proven reoffending rate is shown as "not comparable" wherever the cohort it is
measured on changed (``comparison.cohort_check``).
"""

from __future__ import annotations

import html
import json
import math
import re
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sim.comparison import (
    COST,
    DISPROPORTIONALITY,
    DRIVER_MEASURES,
    FTE,
    HARM,
    HEADLINE,
    LEVEL,
    MEASURES,
    REOFFENDING,
    TRUE_OFFENCES,
    Effect,
    Measure,
    PolicyComparison,
    compare_all,
    cost_bases,
    pairs,
    programmes,
    with_derived,
)
from sim.costs import PATHWAY_ITEMS, CostParams
from sim.events import OFFENCE_TYPES
from sim.plain_language import (
    GREY,
    VERDICT_COLOUR,
    VERDICT_TINT,
    cell,
    change,
    fmt,
    interval,
    policy_lines,
    rank_by_harm_per_pound,
    rank_by_net_cost,
    sure,
    verdict,
)
from sim.results import FAILURES, batch_log, manifest_parts, read_manifest, read_results

__all__ = ["MEASURES", "cost_per_unit_averted", "headline_markdown", "write_report"]

BOOTSTRAP_RESAMPLES = 2000  # enough for stable 2.5/97.5% quantiles of a ratio
BOOTSTRAP_SEED = 20240601  # fixed, so the same results give the same report
BASELINE_COLOUR = "#222222"
# Scenarios' colours in the charts: no red or green, which mean worse and better everywhere.
COLOURS = ("#1f77b4", "#9467bd", "#8c564b", "#17becf", "#e377c2", "#b8860b", "#17324d", "#a0522d")
HEADLINE_PNG = "headline.png"
# A table cell that is one number (with its unit) is right-aligned; sentences are not.
NUMBER = re.compile(r"[+-]?[0-9][0-9.,]*( ?(%|pts|days|[km]? ?GBP))?")
DRIVERS_SHOWN = 3  # the largest drivers named per comparison
# Below this many distinct parameter draws, the report says the drivers' shares are rough.
FEW_DRAWS = 20

# Weekly series drawn as annual values: column, label, unit, how a year is made.
SERIES: tuple[tuple[str, str, str, str], ...] = (
    ("offences", "True offences", "offences a year", "sum"),
    ("first_time_entrants", "First-time entrants", "children a year", "sum"),
    ("formal_disposals", "Formal disposals (caution or sentence)", "disposals a year", "sum"),
    ("custody_population", "Children in custody", "children (mean over the year)", "mean"),
    ("yos_caseload", "YOS caseload", "children supervised (mean over the year)", "mean"),
)

DISPROPORTIONALITY_CAN_AND_CANNOT = (
    "What these columns can show: whether a policy moves the gap between Black and White "
    "children's rates at a stage of the pathway, as the model makes that gap: from where "
    "children live and from police decisions that differ by group (stop and search, gang "
    "listing); never from how much children offend. What they cannot show: whether a real "
    "borough discriminates, or by how much (the model's gaps follow from its assumptions); a "
    "change in a gap from a handful of children (a ratio of small counts is noisy: the "
    "within-run intervals show how noisy); or which group's rate moved: a ratio comes closer "
    "to parity as readily because White children's rate rises as because Black children's "
    "falls."
)


# -- value for money ---------------------------------------------------------------------------


def cost_per_unit_averted(
    d_cost: np.ndarray,
    averted: np.ndarray,
    rng: np.random.Generator,
    groups: np.ndarray | None = None,
) -> dict[str, float]:
    """Extra cost per unit averted (mean extra cost / mean averted), bootstrap 95% interval.

    Defined when the policy averts something on average, and, for a policy that takes
    something away (it saves money and more happens), as the saving per extra unit.
    The bootstrap resamples the pairs, or with several parameter draws (``groups``) whole
    draws, so that the interval carries the spread between draws. The interval is given
    only if at least 97.5% of resamples agree on the sign of what is averted; otherwise
    the ratio could be anything.
    """
    ok = np.isfinite(d_cost) & np.isfinite(averted)
    c, a = d_cost[ok], averted[ok]
    g = np.zeros(len(c), dtype=int) if groups is None else np.asarray(groups)[ok]
    n = len(c)
    out = dict(n=n, cost=math.nan, averted=math.nan, ratio=math.nan, lo=math.nan, hi=math.nan)
    if n == 0:
        return out
    out["cost"], out["averted"] = float(c.mean()), float(a.mean())
    sign = math.copysign(1.0, out["averted"])
    if out["averted"] > 0 or (out["averted"] < 0 and out["cost"] < 0):
        out["ratio"] = out["cost"] / out["averted"]
    labels, inv = np.unique(g, return_inverse=True)
    if len(labels) > 1:  # resample draws: sums and counts per draw
        cs_g = np.bincount(inv, weights=c)
        as_g = np.bincount(inv, weights=a)
        n_g = np.bincount(inv).astype(float)
        idx = rng.integers(0, len(labels), size=(BOOTSTRAP_RESAMPLES, len(labels)))
        count = n_g[idx].sum(axis=1)
        cs, avs = cs_g[idx].sum(axis=1) / count, as_g[idx].sum(axis=1) / count
    elif n > 1:
        idx = rng.integers(0, n, size=(BOOTSTRAP_RESAMPLES, n))
        cs, avs = c[idx].mean(axis=1), a[idx].mean(axis=1)
    else:
        return out
    if math.isfinite(out["ratio"]):
        same = avs * sign > 0
        if same.mean() >= 0.5 + LEVEL / 2:
            ratios = cs[same] / avs[same]
            out["lo"], out["hi"] = (
                float(np.quantile(ratios, (1 - LEVEL) / 2)),
                float(np.quantile(ratios, 0.5 + LEVEL / 2)),
            )
    return out


def _cost_effectiveness(
    s: pd.DataFrame, baseline: str, policy: str, rng: np.random.Generator
) -> dict[str, dict]:
    """Cost per offence averted and per first-time entrant averted (runaway pairs out)."""
    cols = [COST.column, TRUE_OFFENCES.column, FTE.column]
    if any(c not in s.columns for c in cols):
        return {"offence": {}, "fte": {}}
    m = pairs(s, baseline, policy)
    m = m.loc[~m["runaway"]]
    d_cost = (m[f"{COST.column}_p"] - m[f"{COST.column}_b"]).to_numpy(float)
    draws = m["draw"].to_numpy()
    out = {}
    for key, col in (("offence", TRUE_OFFENCES.column), ("fte", FTE.column)):
        averted = (m[f"{col}_b"] - m[f"{col}_p"]).to_numpy(float)
        out[key] = cost_per_unit_averted(d_cost, averted, rng, draws)
    return out


def _ratio_text(r: dict, what: str) -> str:
    if not r or not r["n"]:
        return "n/a"
    one = what.replace("entrants", "entrant").rstrip("s")
    interval = (
        f" (95% interval {fmt(r['lo'], 'money')} to {fmt(r['hi'], 'money')})"
        if math.isfinite(r["lo"])
        else ""
    )
    if math.isfinite(r["ratio"]) and r["n"] > 1 and not math.isfinite(r["lo"]):
        # Resamples disagree on whether anything is averted: a ratio would be noise.
        return (
            f"{what} about the same ({-r['averted']:+,.1f} a year, within the noise): "
            f"no cost per {one}"
        )
    if math.isfinite(r["averted"]) and r["averted"] < 0 and r["cost"] < 0:
        # A policy that takes something away: what it saves for each extra one.
        return (
            f"saves {fmt(-r['cost'], 'money')} a year for {-r['averted']:,.1f} more {what} a "
            f"year: {fmt(r['ratio'], 'money')} saved per extra {one}{interval}"
        )
    if not math.isfinite(r["averted"]) or r["averted"] <= 0:
        return f"averts no {what} on average"
    if r["cost"] <= 0:
        return (
            f"saves {fmt(-r['cost'], 'money')} a year and averts {r['averted']:.1f} {what} a year"
        )
    return f"{fmt(r['ratio'], 'money')} per {one} averted{interval}"


# -- plots -------------------------------------------------------------------------------------


def _save(fig: Figure, path: Path) -> str:
    fig.savefig(path, dpi=110, bbox_inches="tight")
    return path.name


def _wrap(text: str, width: int) -> str:
    return "\n".join(textwrap.wrap(text, width)) or text


def _effect_scale(e: Effect, m: Measure) -> tuple[float, float, float]:
    """(lo, hi, centre) in the forest plot's units: % change, points or the index."""
    if m.kind in ("count", "money"):
        return e.pct_lo, e.pct_hi, e.pct
    s = 100.0 if m.kind == "rate" else 1.0
    return e.lo * s, e.hi * s, e.centre * s


def _effect_unit(m: Measure) -> str:
    if m.kind in ("count", "money"):
        return "change against baseline, %"
    if m.kind == "rate":
        return "change against baseline, percentage points"
    return "change in the index (1 = parity)"


def _plot_effects(
    comps: dict[str, PolicyComparison], policies: Sequence[str], baseline: str, path: Path
) -> str:
    """Forest plot: each measure's paired change against the baseline, 95% intervals,
    coloured by verdict (the reoffending rate grey and hollow where not comparable)."""
    n = len(MEASURES)
    ncols = 3
    nrows = math.ceil(n / ncols)
    fig = Figure(figsize=(4.6 * ncols, 0.45 * len(policies) * nrows + 1.6 * nrows))
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for ax, m in zip(axes.flat, MEASURES, strict=False):
        ys = np.arange(len(policies))[::-1]
        for y, s in zip(ys, policies, strict=True):
            pc = comps[s]
            lo, hi, x = _effect_scale(pc.effects[m.column], m)
            if not math.isfinite(x):
                ax.text(0, y, "n/a", va="center", ha="center", fontsize=8, color=GREY)
                continue
            v = verdict(pc, m)
            colour = VERDICT_COLOUR[v]
            if math.isfinite(lo):
                ax.plot([lo, hi], [y, y], color=colour, lw=2)
            face = "white" if v == "not comparable" else colour
            ax.plot([x], [y], "o", color=colour, markerfacecolor=face)
        ax.axvline(0, color=BASELINE_COLOUR, lw=1, ls="--")
        ax.set_yticks(ys, [_wrap(s, 22) for s in policies], fontsize=8)
        ax.set_title(_wrap(m.label, 44), fontsize=9)
        ax.set_xlabel(_effect_unit(m), fontsize=8)
        ax.tick_params(axis="x", labelsize=8)
        lo_lim, hi_lim = ax.get_xlim()
        span = max(abs(lo_lim), abs(hi_lim), 1e-9)
        ax.set_xlim(-span * 1.1, span * 1.1)
        ax.text(0, ys.max() + 0.6, f"baseline ({baseline})", ha="center", va="bottom", fontsize=7)
        ax.set_ylim(-0.7, ys.max() + 1.2)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    fig.suptitle(
        "Change against the baseline (paired runs): median and 95% interval. Green: better, "
        "red: worse, only where the interval excludes no change; grey: no clear change; "
        "hollow: not comparable",
        fontsize=10,
    )
    fig.tight_layout()
    return _save(fig, path)


def _plot_headline(
    comps: dict[str, PolicyComparison],
    policies: Sequence[str],
    title: str,
    context: str,
    notes: Sequence[str],
    path: Path,
) -> str:
    """The report's first screen as a figure: the headline table, coloured by verdict."""
    columns = [m.short for m in HEADLINE]
    width = 2.2 * len(columns) + 2.4
    chars = int(16 * width)  # characters of 8-point text across the figure
    height = (
        1.9 + 0.62 * len(policies) + 0.24 * sum(len(_wrap(n, chars).splitlines()) for n in notes)
    )
    fig = Figure(figsize=(width, height))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    top = 1 - 0.28 / height
    ax.text(0.01, top, title, fontsize=13, weight="bold", va="top")
    ax.text(0.01, top - 0.32 / height, _wrap(context, chars), fontsize=8.5, va="top", color="#333")
    rows = []
    colours = []
    for s in policies:
        pc = comps[s]
        row, tint = [s], ["white"]
        for m in HEADLINE:
            row.append(_wrap(cell(pc, m), 24))
            tint.append(VERDICT_TINT[verdict(pc, m)] or "white")
        rows.append(row)
        colours.append(tint)
    table_top = top - (0.62 + 0.14 * len(_wrap(context, chars).splitlines())) / height
    table_h = 0.62 * (len(policies) + 1) / height
    tbl = ax.table(
        cellText=rows,
        colLabels=["Policy (vs baseline)", *columns],
        cellColours=colours,
        colLoc="left",
        cellLoc="left",
        bbox=(0.01, table_top - table_h, 0.98, table_h),
    )
    tbl.auto_set_font_size(False)
    tbl.set_fontsize(7.5)
    for (r, _c), c in tbl.get_celld().items():
        c.set_edgecolor("#bbbbbb")
        if r == 0:
            c.set_facecolor("#eeeeee")
            c.set_text_props(weight="bold")
    y = table_top - table_h - 0.12 / height
    for note in notes:
        text = _wrap(note, chars)
        ax.text(0.01, y, text, fontsize=8, va="top", color="#333")
        y -= (0.24 * len(text.splitlines()) + 0.02) / height
    return _save(fig, path)


def _annual(series: pd.DataFrame, column: str, how: str) -> pd.DataFrame:
    """One value per (scenario, draw, replicate, measured year)."""
    measured = series.loc[series["measured"].astype(bool)]
    first = measured.groupby(["scenario", "draw", "replicate"])["year"].transform("min")
    grouped = measured.assign(measured_year=measured["year"] - first + 1).groupby(
        ["scenario", "draw", "replicate", "measured_year"]
    )[column]
    return (grouped.sum() if how == "sum" else grouped.mean()).rename("value").reset_index()


def _band(values: pd.DataFrame) -> pd.DataFrame:
    g = values.groupby("measured_year")["value"]
    return pd.DataFrame(
        {
            "median": g.median(),
            "lo": g.quantile((1 - LEVEL) / 2),
            "hi": g.quantile(0.5 + LEVEL / 2),
        }
    )


def _plot_series(
    series: pd.DataFrame,
    column: str,
    label: str,
    unit: str,
    how: str,
    baseline: str,
    policies: Sequence[str],
    path: Path,
) -> str:
    """Small multiples: each policy against the baseline over the measured years, 95% bands."""
    annual = _annual(series, column, how)
    ncols = min(3, len(policies))
    nrows = math.ceil(len(policies) / ncols)
    fig = Figure(figsize=(4.4 * ncols, 3.2 * nrows))
    axes = fig.subplots(nrows, ncols, squeeze=False, sharey=True)
    base = _band(annual.loc[annual["scenario"] == baseline])
    for i, (ax, s) in enumerate(zip(axes.flat, policies, strict=False)):
        colour = COLOURS[i % len(COLOURS)]
        ax.fill_between(base.index, base["lo"], base["hi"], color="#bbbbbb", alpha=0.5, lw=0)
        ax.plot(
            base.index, base["median"], color=BASELINE_COLOUR, lw=2, label=f"baseline ({baseline})"
        )
        pol = _band(annual.loc[annual["scenario"] == s])
        if len(pol):
            ax.fill_between(pol.index, pol["lo"], pol["hi"], color=colour, alpha=0.25, lw=0)
            ax.plot(pol.index, pol["median"], color=colour, lw=2, label=s)
        ax.set_title(_wrap(s, 40), fontsize=9)
        ax.set_xlabel("measured year", fontsize=8)
        if i % ncols == 0:
            ax.set_ylabel(_wrap(unit, 28), fontsize=8)
        ax.tick_params(labelsize=8)
        ax.legend(fontsize=7, loc="best")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        if len(base.index):
            ax.set_xticks(list(base.index))
    for ax in axes.flat[len(policies) :]:
        ax.set_visible(False)
    fig.suptitle(f"{label}: median of the runs and 95% band", fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


COMPOSITION: tuple[tuple[str, str, str, str], ...] = (
    (REOFFENDING.column, "Measured (proven) reoffending rate", "% of the cohort", "rate"),
    (
        "reoffending_cohort_per_year",
        "Reoffending cohort: children counted by the measure",
        "children a year",
        "count",
    ),
    (TRUE_OFFENCES.column, "True offences (all offending)", "offences a year", "count"),
)


def _plot_composition(s: pd.DataFrame, scenarios: Sequence[str], baseline: str, path: Path) -> str:
    """Three panels side by side: measured reoffending rate, cohort size, true offences,
    each scenario's median and the 2.5-97.5 percentiles of its runs."""
    fig = Figure(figsize=(13, 0.5 * len(scenarios) + 2.2))
    axes = fig.subplots(1, len(COMPOSITION), squeeze=False)[0]
    ys = np.arange(len(scenarios))[::-1]
    for ax, (column, label, unit, kind) in zip(axes, COMPOSITION, strict=True):
        scale = 100.0 if kind == "rate" else 1.0
        base_mid = math.nan
        for i, (y, sc) in enumerate(zip(ys, scenarios, strict=True)):
            if column not in s:
                continue
            v = s.loc[(s["scenario"] == sc) & ~s["runaway"], column].to_numpy(float) * scale
            v = v[np.isfinite(v)]
            if not len(v):
                continue
            lo, mid, hi = np.quantile(v, [(1 - LEVEL) / 2, 0.5, 0.5 + LEVEL / 2])
            colour = BASELINE_COLOUR if sc == baseline else COLOURS[(i - 1) % len(COLOURS)]
            ax.plot([lo, hi], [y, y], color=colour, lw=2)
            ax.plot([mid], [y], "o", color=colour)
            if sc == baseline:
                base_mid = mid
        if math.isfinite(base_mid):
            ax.axvline(base_mid, color=BASELINE_COLOUR, ls="--", lw=1)
        ax.set_yticks(
            ys,
            [_wrap(sc + (" (baseline)" if sc == baseline else ""), 24) for sc in scenarios],
            fontsize=8,
        )
        ax.set_xlabel(unit, fontsize=8)
        ax.set_title(_wrap(label, 40), fontsize=9)
        ax.tick_params(axis="x", labelsize=8)
        ax.grid(alpha=0.3, axis="x")
    fig.suptitle(
        "The composition effect: the measured rate depends on who is counted. "
        "Median and 95% of runs; dashed line = baseline",
        fontsize=10,
    )
    fig.tight_layout()
    return _save(fig, path)


def _plot_cost_effectiveness(comps: dict[str, PolicyComparison], baseline: str, path: Path) -> str:
    """The cost-effectiveness plane: harm averted against extra spending, per policy."""
    fig = Figure(figsize=(7, 5))
    ax = fig.subplots()
    for i, (s, pc) in enumerate(comps.items()):
        h, c = pc.effects[HARM.column], pc.effects[COST.column]
        x, y = -h.centre, c.centre
        if not (math.isfinite(x) and math.isfinite(y)):
            continue
        ax.errorbar(
            [x],
            [y / 1e3],
            xerr=[[x - (-h.hi)], [(-h.lo) - x]],
            yerr=[[(y - c.lo) / 1e3], [(c.hi - y) / 1e3]],
            fmt="o",
            color=COLOURS[i % len(COLOURS)],
            capsize=3,
            label=s,
        )
    ax.axhline(0, color=BASELINE_COLOUR, lw=1)
    ax.axvline(0, color=BASELINE_COLOUR, lw=1)
    ax.plot([0], [0], "s", color=BASELINE_COLOUR, label=f"baseline ({baseline})")
    ax.set_xlabel("harm averted a year (days of custody, Cambridge index method)")
    ax.set_ylabel("extra programme and justice spending, thousand GBP a year")
    ax.set_title("Cost-effectiveness: lower right saves money and averts harm", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return _save(fig, path)


# -- the document --------------------------------------------------------------------------------


class _Doc:
    """Writes the same content as HTML and as Markdown."""

    def __init__(self, title: str) -> None:
        self.html: list[str] = [
            "<!doctype html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>{html.escape(title)}</title>",
            "<style>body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;"
            "padding:0 1em;color:#222;line-height:1.45}table{border-collapse:collapse;"
            "margin:1em 0;font-size:0.92em}th,td{border:1px solid #ccc;padding:0.3em 0.6em;"
            "text-align:left;vertical-align:top}td.num{text-align:right}"
            "th{background:#f2f2f2}img{max-width:100%;border:1px solid #eee;margin:0.5em 0}"
            ".note{color:#555;font-size:0.92em}section.glance{border-bottom:3px solid #ddd;"
            "margin-bottom:2em}</style>",
            "</head><body>",
        ]
        self.md: list[str] = []

    def raw_html(self, text: str) -> None:
        self.html.append(text)

    def heading(self, text: str, level: int = 2) -> None:
        self.html.append(f"<h{level}>{html.escape(text)}</h{level}>")
        self.md += ["#" * level + " " + text, ""]

    def para(self, text: str, note: bool = False) -> None:
        cls = ' class="note"' if note else ""
        self.html.append(f"<p{cls}>{html.escape(text)}</p>")
        self.md += [text, ""]

    def bullets(self, items: Sequence[str]) -> None:
        self.html.append("<ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in items) + "</ul>")
        self.md += [f"- {i}" for i in items] + [""]

    def table(
        self,
        header: Sequence[str],
        rows: Sequence[Sequence[str]],
        tints: Sequence[Sequence[str | None]] | None = None,
    ) -> None:
        """A table; ``tints``: a background colour per cell (None: none)."""
        h = "".join(f"<th>{html.escape(c)}</th>" for c in header)

        def td(c: Any, tint: str | None) -> str:  # numbers right-aligned, words left
            cls = ' class="num"' if NUMBER.fullmatch(str(c)) else ""
            style = f' style="background:{tint}"' if tint else ""
            return f"<td{cls}{style}>{html.escape(str(c))}</td>"

        body = "".join(
            "<tr>"
            + "".join(td(c, tints[i][j] if tints is not None else None) for j, c in enumerate(row))
            + "</tr>"
            for i, row in enumerate(rows)
        )
        self.html.append(f"<table><thead><tr>{h}</tr></thead><tbody>{body}</tbody></table>")

        def md_cell(c: Any) -> str:
            return str(c).replace("|", "\\|")

        self.md.append("| " + " | ".join(md_cell(c) for c in header) + " |")
        self.md.append("|" + "|".join("---" for _ in header) + "|")
        self.md += ["| " + " | ".join(md_cell(c) for c in row) + " |" for row in rows]
        self.md.append("")

    def image(self, name: str, alt: str, md_only: bool = False) -> None:
        if not md_only:
            self.html.append(f'<p><img src="{html.escape(name)}" alt="{html.escape(alt)}"></p>')
        self.md += [f"![{alt}]({name})", ""]

    def finish(self) -> tuple[str, str]:
        return "\n".join([*self.html, "</body></html>", ""]), "\n".join(self.md)


def headline_rows(
    comps: dict[str, PolicyComparison], policies: Sequence[str]
) -> tuple[list[str], list[list[str]], list[list[str | None]]]:
    """The headline table: a row per policy, a column per headline measure, and tints."""
    header = ["Policy (vs baseline)", *[m.short for m in HEADLINE]]
    rows, tints = [], []
    for s in policies:
        pc = comps[s]
        rows.append([s, *[cell(pc, m) for m in HEADLINE]])
        tints.append([None, *[VERDICT_TINT[verdict(pc, m)] for m in HEADLINE]])
    return header, rows, tints


def evidence_rows(
    comps: dict[str, PolicyComparison], policies: Sequence[str]
) -> tuple[list[str], list[list[str]], list[list[str | None]]]:
    """Every measure (rows) for every policy (columns): change, interval, verdict."""
    header = ["Measure", *policies]
    rows, tints = [], []
    for m in MEASURES:
        unit = {"count": "%", "money": "GBP a year", "rate": "points"}.get(
            m.kind, "distance from parity"
        )
        rows.append([f"{m.short} ({unit})"])
        tints.append([None])
        for s in policies:
            rows[-1].append(cell(comps[s], m))
            tints[-1].append(VERDICT_TINT[verdict(comps[s], m)])
    return header, rows, tints


# -- the sections --------------------------------------------------------------------------------


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _uncertainty_sentence(manifest: dict, comps: dict[str, PolicyComparison]) -> str:
    draws = manifest.get("draws", 0)
    reps = manifest["replicates"]
    n = max((pc.pairs for pc in comps.values()), default=0)
    what = (
        f"{reps} replicates x {draws} parameter draws: {n} paired futures per policy. The "
        "intervals carry chance and what we do not know about the drawn parameters "
        "(behaviour, and programme effects where they are drawn)"
        if draws
        else f"{reps} replicates of one set of parameters: {n} paired futures per policy. "
        "The intervals carry chance only, so they are too narrow: rerun with draws to add "
        "what we do not know about behaviour and programme effects"
    )
    return (
        f"Each policy against {manifest['baseline']} over {_plural(manifest['years'], 'year')}, "
        f"{what}. Central figures are medians, ranges 95% intervals; green: better, red: "
        "worse, only where the interval excludes no change."
    )


def _glance(
    doc: _Doc,
    comps: dict[str, PolicyComparison],
    policies: list[str],
    manifest: dict,
    out: Path,
    spending_note: str,
    check: dict | None,
) -> None:
    baseline = manifest["baseline"]
    draws = manifest.get("draws", 0)
    doc.raw_html('<section class="glance">')
    doc.heading("At a glance")
    context = _uncertainty_sentence(manifest, comps)
    doc.para(context)
    notes = [
        "Reoffending rate: the MoJ proven rate is shown only where the cohort it is measured "
        'on kept its size and its mix of previous offences; elsewhere it reads "not '
        'comparable": its change shows who is counted, not less reoffending. Judge such a '
        "policy by true offences.",
        "Harm: offences weighted by the Cambridge Crime Harm Index method (days of custody), "
        "with assumed weights. Net social cost: programme and justice spending plus the "
        "offences' cost to society (Home Office unit costs per offence, 2015/16 prices, most "
        "mapped to the model's types by assumption). " + spending_note,
    ]
    rows = (check or {}).get("tables", {}).get("mean")
    if rows:
        fitted = [r for r in rows if r.get("fitted")]
        notes.append(
            f"The model: at its posterior mean it meets {sum(bool(r.get('met')) for r in fitted)} "
            f"of the {len(fitted)} published figures it was fitted to; see 'How well the model "
            "matches what was measured' for those it misses and the patterns it gets wrong."
        )
    runaway = sum(pc.runaway_pairs for pc in comps.values())
    if runaway:
        notes.append(
            f"{runaway} paired futures were left out because offending ran away (more offences "
            "a year than the calibration allows); see 'Runs whose offending ran away'."
        )
    figure = _plot_headline(
        comps,
        policies,
        f"Policy comparison: {manifest['name']}",
        context,
        notes,
        out / HEADLINE_PNG,
    )
    # Markdown cannot colour a table: it shows the figure first. The page colours the table
    # and links the figure (the same first screen, to open or send on its own).
    doc.image(figure, "headline: each policy against the baseline", md_only=True)
    doc.table(*headline_rows(comps, policies))
    doc.raw_html(f'<p class="note">This table as a figure: <a href="{figure}">{figure}</a></p>')
    doc.bullets(notes)
    for s in policies:
        doc.heading(s, 3)
        doc.bullets(policy_lines(comps[s], baseline, draws))
    doc.heading("Ranking by net social cost", 3)
    doc.para(
        "Change in the net social cost a year against the baseline (programme and justice "
        "spending plus the offences' cost to society), lowest first."
    )
    rows = rank_by_net_cost(comps)
    doc.table(
        [
            "Rank",
            "Policy",
            "Net social cost a year",
            "95% interval",
            "Sure it costs society less",
            "Verdict",
        ],
        rows,
        [[None] * 5 + [VERDICT_TINT[r[5]]] for r in rows],
    )
    doc.heading("Ranking by harm averted per pound", 3)
    doc.para(
        "Harm averted a year (days of custody, Cambridge index method) for each pound of extra "
        "programme and justice spending: first the policies that save money and avert harm, "
        "then those that cost money to avert it (most harm per pound first), then those that "
        "save money but add harm (least harm per pound saved first), then those that cost "
        "money and add harm. Central figures; their intervals are in the evidence below."
    )
    doc.table(
        [
            "Rank",
            "Policy",
            "Harm averted a year (days)",
            "Extra spending a year",
            "Harm per GBP 1m",
            "Reading",
        ],
        rank_by_harm_per_pound(comps),
    )
    doc.raw_html("</section>")


def _burn_in_sentence(manifest: dict) -> str:
    """Which question the runs answer: policies changed now, or always in place."""
    if manifest.get("burn_in", "own") == "own":
        return (
            "Each scenario burned in under its own policies: the comparison is between "
            "boroughs that have always had each set of policies."
        )
    forked = [
        s["name"] for s in manifest["scenarios"] if s.get("burn_in_from") not in (None, s["name"])
    ]
    alone = [s["name"] for s in manifest["scenarios"] if s.get("burn_in_from") is None]
    text = (
        f"Shared burn-in: each seed burned in once under {manifest['baseline']}'s policies, "
        f"and {', '.join(forked) if forked else 'no scenario'} started from that world at "
        "year 0, so the comparison is of changing policy now: each forked run is identical to "
        "the baseline until year 0."
    )
    if alone:
        text += f" {', '.join(alone)} differ in more than policy and burned in on their own."
    return text


def _fit_stage(fit: dict | None) -> str:
    """'generation 7 of its fit, distance threshold 64.1, effective size 120 particles; '
    from the manifest's ``posterior_fit``; empty when the posterior recorded none."""
    if not fit or "generation" not in fit:
        return ""
    text = f"generation {fit['generation']} of its fit"
    if "epsilon" in fit:
        text += f", distance threshold {fit['epsilon']:.3g}"
    if "effective_size" in fit:
        text += f", effective size {fit['effective_size']:.0f} particles"
    return text + "; "


# Where a check of the posterior may lie when the runs were made on another machine: the
# calibration folder of this checkout.
REPO_CALIBRATION = Path(__file__).resolve().parent.parent / "calibration"
# A reported pattern further than this many tolerances from its published figure is
# "far off" in the report (one tolerance is the band a target counts as met within).
FAR_OFF_TOLERANCES = 2.0


def find_check_record(manifest: dict) -> dict | None:
    """The `yjsim check-fit` record (sim/calibration.py, ``CHECK_RECORD``) of the posterior
    the runs drew from, found by its SHA-256 beside that posterior or in this checkout's
    calibration folder; None if the runs drew none or no check of it is found."""
    from sim.calibration import CHECK_RECORD

    sha, posterior = manifest.get("posterior_sha256"), manifest.get("posterior")
    if not sha or not posterior:
        return None
    for root in (Path(posterior).parent, REPO_CALIBRATION):
        if not root.is_dir():
            continue
        # The folder itself and its subfolders (a config's report folder), no deeper: a
        # posterior outside a calibration folder must not set off a search of a disk.
        for path in sorted([*root.glob(CHECK_RECORD), *root.glob(f"*/{CHECK_RECORD}")]):
            try:
                record = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue  # not a record this report can read: another may be
            if isinstance(record, dict) and record.get("posterior_sha256") == sha:
                return record
    return None


def _fit_quality_section(doc: _Doc, manifest: dict, record: dict | None) -> None:
    """How well the posterior the runs drew from matches the figures it was fitted to and
    the published patterns it was not, from its `yjsim check-fit` record
    (:func:`find_check_record`; None if none was found)."""
    from sim.calibration import STATISTIC_LABELS, format_value

    if not manifest.get("posterior"):
        return
    doc.heading("How well the model matches what was measured", 3)
    rows = (record or {}).get("tables", {}).get("mean")
    if not rows:
        doc.para(
            "No check of this posterior's fit was found (`yjsim check-fit` on its "
            "calibration config writes one): how well the model matches the figures it "
            "was fitted to is not shown here."
        )
        return
    fitted = [r for r in rows if r.get("fitted")]
    reported = [r for r in rows if not r.get("fitted")]
    missed = [r for r in fitted if not r.get("met")]
    far = [
        r for r in reported if r.get("misfit") is not None and abs(r["misfit"]) > FAR_OFF_TOLERANCES
    ]

    def value(x: float | None) -> str:
        return "-" if x is None else format_value(x)

    def line(r: dict) -> list[str]:
        return [
            STATISTIC_LABELS.get(r.get("statistic", ""), r["target"]),
            r["setting"],
            r["wanted"],
            f"{value(r.get('mean'))} ({value(r.get('q05'))} to {value(r.get('q95'))})",
        ]

    doc.para(
        f"`yjsim check-fit` ran the posterior's mean at full size over {record['seeds']} "
        f"seeds per setting (`{record['config']}`). The model meets {len(fitted) - len(missed)} "
        f"of the {len(fitted)} targets it was fitted to, and "
        f"{sum(bool(r.get('met')) for r in reported)} of the {len(reported)} published "
        "patterns it was not fitted to (each within its band). A policy whose effect "
        "runs through a missed target or a pattern that is far off is less certain than "
        "its interval says: the intervals carry what we do not know about the parameters, "
        "not what the model's structure gets wrong."
    )
    header = ["What", "Setting", "Published", "Model (90% over seeds)"]
    if missed:
        doc.para("Fitted targets the model misses:")
        doc.table(header, [line(r) for r in missed])
    if far:
        doc.para(
            f"Far off (more than {FAR_OFF_TOLERANCES:g} tolerances from the published "
            "figure), among the patterns it was not fitted to:"
        )
        doc.table(header, [line(r) for r in far])


def _intro(
    doc: _Doc, manifest: dict, summary: pd.DataFrame, failures: pd.DataFrame, results_dir: Path
) -> None:
    planned = manifest.get("runs", 0)
    done = len(summary)
    draws = manifest.get("draws", 0)
    doc.para(
        f"{manifest['replicates']} paired replicates per scenario"
        + (
            f" x {draws} parameter draws of {Path(manifest['posterior']).name} "
            f"({_fit_stage(manifest.get('posterior_fit'))}the same "
            "draw for every scenario, so intervals include parameter uncertainty)"
            if draws and manifest.get("posterior")
            else " (each scenario's own parameters or posterior mean; no parameter draws, "
            "so intervals show chance only)"
        )
        + f", {_plural(manifest['years'], 'measured year')} after "
        f"{_plural(manifest['burn_in_years'], 'year')} of burn-in; "
        f"{done} of {planned} runs finished, {len(failures)} failed."
    )
    doc.para(_burn_in_sentence(manifest))
    rows = []
    for info in manifest["scenarios"]:
        s = info["name"]
        n = int((summary["scenario"] == s).sum())
        role = "baseline" if s == manifest["baseline"] else "policy"
        rows.append(
            [
                s,
                role,
                info.get("description", ""),
                ", ".join(info.get("interventions", [])) or "none",
                str(n),
            ]
        )
    doc.table(["Scenario", "Role", "What it is", "Interventions on", "Runs"], rows)
    versions = sorted(
        {manifest.get("code_version", "")}
        | {b.get("code_version", "") for b in batch_log(results_dir)}
    )
    if len(versions) > 1:
        doc.para(
            f"Note: the batches that made these results saw {len(versions)} versions of the "
            f"model source ({', '.join(versions)}, see batches.jsonl); if the model changed "
            "between them, the comparisons mix results of different models.",
        )


def _uncertainty_section(
    doc: _Doc,
    comps: dict[str, PolicyComparison],
    policies: list[str],
    draws: int,
    distinct: int,
) -> None:
    doc.heading("Where the uncertainty comes from")
    doc.para(
        "Each paired difference varies for two reasons: the parameters we are unsure of "
        "(each draw is one set: a behavioural posterior particle, and programme effects where "
        "they are drawn) and chance (replicates of one draw differ by the luck of the "
        "simulation). A random-effects split of the differences over draws x replicates "
        "gives each its share of the variance of one run's difference; the drivers are the "
        "recorded parameters (param.* columns) whose first-order share is largest: the "
        "variance of the draw-mean difference a straight line in the parameter explains "
        "(or, with 40 draws or more, the larger of that and binned means), adjusted for the "
        "chance fit of few draws, over the total. (+) means the difference grows with the "
        "parameter."
    )
    if not draws:
        doc.para(
            "These runs used one set of parameters (no draws): all the variance below is "
            "chance, and no parameter can be named as a driver."
        )
    elif distinct < FEW_DRAWS:
        doc.para(
            f"These runs drew {_plural(draws, 'parameter set')} ({distinct} distinct posterior "
            f"particles): with fewer than {FEW_DRAWS} distinct draws the shares are rough, "
            "and parameters that move together across the draws cannot be told apart (they "
            "show the same share)."
        )
    rows = []
    for s in policies:
        pc = comps[s]
        for m in DRIVER_MEASURES:
            e = pc.effects[m.column]
            share = e.param_share
            named = [
                f"{d.name} {100 * d.share:.0f}% ({'+' if d.sign > 0 else '-'})"
                for d in pc.drivers.get(m.column, [])[:DRIVERS_SHOWN]
                if d.share >= 0.005
            ]
            rows.append(
                [
                    s,
                    m.short,
                    "n/a" if not math.isfinite(share) else f"{100 * share:.0f}%",
                    "n/a" if not math.isfinite(share) else f"{100 * (1 - share):.0f}%",
                    "; ".join(named) or ("none" if e.n_draws >= 5 else "too few draws"),
                ]
            )
    doc.table(
        [
            "Policy",
            "Measure",
            "Parameters' share",
            "Chance's share",
            "Largest drivers (first-order share)",
        ],
        rows,
    )


def _runaway_section(doc: _Doc, s: pd.DataFrame, comps: dict[str, PolicyComparison]) -> None:
    flagged = s.loc[s["runaway"]]
    if flagged.empty:
        return
    doc.heading("Runs whose offending ran away")
    doc.para(
        "These runs committed more offences a year than the calibration allows (it stops a "
        "fit there: the corners of the posterior where offending spreads without limit). "
        "Their pairs are left out of every comparison; where only the policy's run ran away, "
        "the policy may itself push offending over the edge under those parameters."
    )
    cols = [
        "scenario",
        "draw",
        "replicate",
        "particle",
        "true_offences_per_year",
        "population_10_17",
    ]
    rows = [
        [
            str(r["scenario"]),
            str(r["draw"]),
            str(r["replicate"]),
            str(r.get("particle", "")),
            fmt(float(r["true_offences_per_year"])),
            fmt(float(r["true_offences_per_year"]) / float(r["population_10_17"])),
        ]
        for _, r in flagged.sort_values(["scenario", "draw", "replicate"]).head(50).iterrows()
        if all(c in r for c in cols[:3])
    ]
    doc.table(
        [
            "Scenario",
            "Draw",
            "Replicate",
            "Particle",
            "True offences a year",
            "Per child aged 10-17",
        ],
        rows,
    )
    doc.bullets(
        [
            f"{pc.name}: {pc.runaway_pairs} pairs left out, {pc.runaway_policy_only} of them with "
            "only the policy's run running away"
            for pc in comps.values()
            if pc.runaway_pairs
        ]
    )


def _costs_section(
    doc: _Doc,
    comps: dict[str, PolicyComparison],
    s: pd.DataFrame,
    baseline: str,
    policies: list[str],
    bases: dict[str, str],
    out: Path,
    rng: np.random.Generator,
) -> None:
    doc.heading("Costs, and whether each is sourced or assumed")
    doc.para(
        "Programme and justice spending is priced from each run's activity with the unit "
        "costs of the parameter register (`yjsim params`); each item below says whether its "
        "unit cost is sourced (a published figure) or assumed. Baseline: median over its runs; "
        "change: median paired change."
    )
    base = s.loc[(s["scenario"] == baseline) & ~s["runaway"]]
    rows = []
    for item, basis in bases.items():
        col = f"cost_per_year_gbp.{item}"
        if col not in s:
            continue
        rows.append(
            [
                item,
                "justice pathway" if item in PATHWAY_ITEMS else "programme",
                basis,
                fmt(float(base[col].median()), "money") if len(base) else "n/a",
                *[_item_change(s, baseline, p, col) for p in policies],
            ]
        )
    doc.table(["Cost item", "Kind", "Unit cost", f"{baseline} a year", *policies], rows)
    params = CostParams()
    doc.para(
        "The offences' cost to society and their harm, per offence type: Home Office unit costs "
        "(Heeks et al. 2018, 2015/16 prices) and Cambridge Crime Harm Index weights (days of "
        "custody; Sherman et al. 2016), each with the band the report carries (central value "
        "used; low and high give the range of the valuation). The sources' categories do not "
        "match the model's types, so most values are assumptions (docs/experiments.md gives the "
        "mapping); drugs and weapon carrying have no Home Office cost, and the Cambridge index "
        "leaves out offences found by proactive policing. Heeks et al.'s costs include the "
        "police and court response, which the model also prices: the net social cost counts "
        "that response to a detected offence twice (the overlap is not removed)."
    )
    rows = []
    for t in OFFENCE_TYPES:
        c = getattr(params, f"crime_cost_{t}")
        h = getattr(params, f"harm_days_{t}")
        col = f"true_offences_per_year_by_type.{t}"
        rows.append(
            [
                t,
                f"{fmt(c[1], 'money')} ({fmt(c[0], 'money')} to {fmt(c[2], 'money')})",
                _basis(f"crime_cost_{t}"),
                f"{h[1]:g} ({h[0]:g} to {h[2]:g})",
                _basis(f"harm_days_{t}"),
                fmt(float(base[col].median())) if col in base and len(base) else "n/a",
                *[_item_change(s, baseline, p, col, "count") for p in policies],
            ]
        )
    doc.table(
        [
            "Offence type",
            "Cost per offence (band)",
            "Cost basis",
            "Harm days (band)",
            "Harm basis",
            f"{baseline}: offences a year",
            *[f"{p}: change" for p in policies],
        ],
        rows,
    )
    doc.para(
        "These are the defaults; a scenario file may set its own ([costs] crime_cost_TYPE, "
        "harm_days_TYPE), and each run's cost of crime uses its scenario's values."
    )
    doc.heading("Value for money", 3)
    doc.para(
        "Extra spending a year (policy minus baseline, paired) divided by what it averts a "
        "year (means over the pairs, bootstrap intervals over pairs or, with draws, over whole "
        "draws). A policy that averts nothing on average has no cost per unit averted."
    )
    rows = []
    for p in policies:
        ce = _cost_effectiveness(s, baseline, p, rng)
        rows.append(
            [
                p,
                fmt(comps[p].effects[COST.column].centre, "money", True),
                _ratio_text(ce["offence"], "offences"),
                _ratio_text(ce["fte"], "first-time entrants"),
            ]
        )
    doc.table(
        [
            "Policy",
            "Extra spending a year",
            "Cost per offence averted",
            "Cost per first-time entrant averted",
        ],
        rows,
    )
    doc.image(
        _plot_cost_effectiveness(comps, baseline, out / "cost_effectiveness.png"),
        "cost-effectiveness plane",
    )


def _basis(field: str) -> str:
    extra = CostParams.model_fields[field].json_schema_extra or {}
    return str(extra.get("basis", "")) if isinstance(extra, dict) else ""


def _item_change(
    s: pd.DataFrame, baseline: str, policy: str, column: str, kind: str = "money"
) -> str:
    """The median paired change of one column (runaway pairs left out)."""
    m = pairs(s, baseline, policy)
    m = m.loc[~m["runaway"]]
    if f"{column}_p" not in m or m.empty:
        return "n/a"
    return fmt(float(np.nanmedian(m[f"{column}_p"] - m[f"{column}_b"])), kind, True)


def _composition_sentence(pc: PolicyComparison) -> str:
    rate = pc.effects[REOFFENDING.column]
    true = pc.effects[TRUE_OFFENCES.column]
    size = pc.cohort.size
    if not all(math.isfinite(x) for x in (rate.centre, true.centre, size.centre)):
        return f"{pc.name}: not enough runs with a reoffending cohort to compare."
    rate_dir = "rises" if rate.centre > 0 else "falls" if rate.centre < 0 else "stays"
    true_dir = "fall" if true.centre < 0 else "rise" if true.centre > 0 else "stay level"
    text = (
        f"{pc.name}: the measured reoffending rate {rate_dir} by {abs(100 * rate.centre):.1f} "
        f"points while true offences {true_dir} by {abs(true.pct):.1f}% and the cohort "
        f"the rate is measured on changes by {size.pct:+.1f}%."
    )
    if not pc.cohort.comparable:
        more = size.centre > 0
        text += (
            f" Not comparable: {pc.cohort.reason}. {'More' if more else 'Fewer'} children are "
            f"counted, and those {'added' if more else 'left out'} differ from the rest, so the "
            "rate is not a like-for-like measure of this policy; compare true offences."
        )
    elif rate.verdict == "unclear":
        text += " The change in the measured rate is within the uncertainty of these runs."
    elif true.verdict != "unclear" and (rate.centre > 0) != (true.centre > 0):
        text += (
            " The rate moves against true offending: it counts only proven reoffences, so it "
            "also moves with how much offending is detected and proven."
        )
    return text


def _composition_section(
    doc: _Doc,
    s: pd.DataFrame,
    comps: dict[str, PolicyComparison],
    scenarios: list[str],
    baseline: str,
    policies: list[str],
    out: Path,
) -> None:
    doc.heading("Measured reoffending and true offending: the composition effect")
    doc.para(
        "The proven reoffending rate is measured on the children cautioned, convicted or released "
        "in a year. A policy that keeps low-risk children out of the formal system (triage, "
        "diversion) removes them from that cohort, so the children still counted are fewer and "
        "of higher risk: the measured rate can rise while true offending falls, and a policy "
        "that brings more low-risk children in can lower the rate without anyone reoffending "
        "less. The rule: the rate is 'not comparable' where, beyond the uncertainty (the 95% "
        "interval excludes no change), the cohort's size changes by 5% or more, or the change "
        "in its mix of previous offences alone would move the rate by 1 point or more (at the "
        "baseline's reoffending rate in each band of previous offences)."
    )
    rows = []
    for sc in scenarios:
        v = s.loc[(s["scenario"] == sc) & ~s["runaway"]]
        cells = [
            fmt(float(v[c].median()), "rate" if k == "rate" else "count")
            if c in v and v[c].notna().any()
            else "n/a"
            for c, _, _, k in COMPOSITION
        ]
        if sc == baseline:
            rows.append([sc, *cells, "baseline", "", "", ""])
            continue
        pc = comps[sc]
        rows.append(
            [
                sc,
                *cells,
                change(pc.effects[REOFFENDING.column], REOFFENDING),
                interval(pc.cohort.size.pct, pc.cohort.size.pct_lo, pc.cohort.size.pct_hi, "pct"),
                interval(
                    pc.cohort.mix_shift.centre,
                    pc.cohort.mix_shift.lo,
                    pc.cohort.mix_shift.hi,
                    "rate",
                ),
                "yes" if pc.cohort.comparable else "not comparable",
            ]
        )
    doc.table(
        [
            "Scenario",
            "Reoffending rate",
            "Cohort (children a year)",
            "True offences a year",
            "Rate change (pts)",
            "Cohort size change",
            "Rate change from the cohort's mix alone",
            "Rate comparable",
        ],
        rows,
    )
    doc.bullets([_composition_sentence(comps[p]) for p in policies])
    doc.image(
        _plot_composition(s, scenarios, baseline, out / "composition.png"), "composition effect"
    )


def _disproportionality_section(
    doc: _Doc,
    s: pd.DataFrame,
    comps: dict[str, PolicyComparison],
    baseline: str,
    policies: list[str],
) -> None:
    doc.heading("Disproportionality")
    doc.para(DISPROPORTIONALITY_CAN_AND_CANNOT)
    doc.para(
        "Each cell: the index (median over runs, with the median of the within-run 95% "
        "intervals: the noise of counting a run's children), and for a policy its paired change "
        "with the 95% interval; green or red only where the distance from parity (1) clearly "
        "shrinks or grows."
    )
    base = s.loc[(s["scenario"] == baseline) & ~s["runaway"]]
    rows, tints = [], []
    for m in DISPROPORTIONALITY:
        stage = m.column.split(".")[1]
        lo_col = f"relative_rate_index_interval.{stage}.Black.low"
        hi_col = f"relative_rate_index_interval.{stage}.Black.high"
        level = "n/a"
        if m.column in base and base[m.column].notna().any():
            level = fmt(float(base[m.column].median()), "ratio")
            if lo_col in base and hi_col in base:
                level += (
                    f" (within-run {fmt(float(base[lo_col].median()), 'ratio')} to "
                    f"{fmt(float(base[hi_col].median()), 'ratio')})"
                )
        rows.append([m.short, level, *[cell(comps[p], m) for p in policies]])
        tints.append([None, None, *[VERDICT_TINT[verdict(comps[p], m)] for p in policies]])
    doc.table(["Stage (Black vs White)", baseline, *policies], rows, tints)


def _detail(doc: _Doc, pc: PolicyComparison, baseline: str) -> None:
    doc.heading(f"{pc.name} against {baseline}", 3)
    rows, tints = [], []
    for m in MEASURES:
        e = pc.effects[m.column]
        kind = m.kind
        v = verdict(pc, m)
        label = f"{m.label}; {m.unit}"
        levels = (fmt(e.base, kind), fmt(e.policy, kind))
        if e.distance is not None:  # the change shown is in the distance from parity
            label += "; change: in the distance from parity"
            e = e.distance
        share = e.param_share
        rows.append(
            [
                label,
                *levels,
                fmt(e.centre, kind, True),
                f"{fmt(e.lo, kind, True)} to {fmt(e.hi, kind, True)}",
                fmt(e.pct, "pct", True) if m.kind in ("count", "money") else "",
                v,
                sure(e.p_worse),
                "n/a" if not math.isfinite(share) else f"{100 * share:.0f}%",
                f"{fmt(e.range_lo, kind, True)} to {fmt(e.range_hi, kind, True)}",
                str(e.n),
            ]
        )
        tints.append([None] * 6 + [VERDICT_TINT[v]] + [None] * 4)
    doc.table(
        [
            "Measure",
            "Baseline (median)",
            "Policy (median)",
            "Change (median)",
            "95% interval",
            "Change",
            "Verdict",
            "Sure it is worse",
            "Parameters' share of variance",
            "Single runs: 95% of differences",
            "Pairs",
        ],
        rows,
        tints,
    )


def _failures_section(doc: _Doc, failures: pd.DataFrame) -> None:
    if failures.empty:
        return
    doc.heading("Runs that failed")
    doc.para(
        "These runs are left out of every comparison (with their pairs). "
        "A rerun of the experiment retries them."
    )
    rows = [
        [r["scenario"], str(r["draw"]), str(r["replicate"]), r["error"]]
        for _, r in failures.sort_values(["scenario", "draw", "replicate"]).head(50).iterrows()
    ]
    doc.table(["Scenario", "Draw", "Replicate", "Error"], rows)


def _spending_note(bases: dict[str, str]) -> str:
    assumed = [k for k, b in bases.items() if b != "sourced"]
    return (
        f"Of the {len(bases)} spending items, {len(assumed)} are priced with assumed unit "
        "costs; each policy's lines say how much of its change in spending they make."
    )


# -- the report ------------------------------------------------------------------------------


def write_report(results_dir: Path, log: Callable[[str], None] | None = None) -> Path:
    """Write ``results_dir/report/index.html`` (and ``index.md``, PNGs); return the HTML path.

    Raises :class:`sim.experiment.ExperimentError` if the folder holds no experiment results,
    and :class:`sim.faults.Fault` if its manifest is damaged or the report cannot be written.
    Parts that are damaged or no part of the experiment are left out, each named through
    ``log``.
    """
    from sim.experiment import ExperimentError
    from sim.faults import check_writable

    results_dir = Path(results_dir)
    manifest = read_manifest(results_dir)
    plan = manifest_parts(manifest)
    left_out: list[str] = []  # damaged or foreign parts, named on the page and through log

    def note(line: str) -> None:
        left_out.append(line)
        if log is not None:
            log(line)

    summary = read_results(results_dir, "summary", plan, note)
    if summary.empty:
        raise ExperimentError(results_dir, "summary", "no finished runs to report on yet")
    series = read_results(results_dir, "timeseries", plan, note)
    failures = read_results(results_dir, FAILURES, plan, note)
    baseline = manifest["baseline"]
    order = [s["name"] for s in manifest["scenarios"]]
    scenarios = [s for s in order if s in set(summary["scenario"])]
    policies = [s for s in scenarios if s != baseline]
    if baseline not in scenarios:
        raise ExperimentError(
            results_dir, "summary", f"no finished run of the baseline {baseline!r}"
        )
    out = results_dir / "report"
    check_writable(out)
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    descriptions = {s["name"]: s.get("description", "") for s in manifest["scenarios"]}
    interventions = programmes(summary)
    comps = compare_all(summary, baseline, policies, descriptions, interventions)
    s = with_derived(summary)
    bases = {k: v for k, v in cost_bases(interventions).items() if not k.startswith("crime:")}

    check = find_check_record(manifest)  # the posterior's check-fit, read once
    doc = _Doc(f"Policy comparison: {manifest['name']}")
    doc.heading(f"Policy comparison: {manifest['name']}", 1)
    if manifest.get("description"):
        doc.para(manifest["description"])
    if not policies:
        doc.para("Only the baseline has finished runs: there is nothing to compare yet.")
    else:
        _glance(doc, comps, policies, manifest, out, _spending_note(bases), check)
    doc.heading("The evidence")
    doc.heading("The experiment", 3)
    _intro(doc, manifest, summary, failures, results_dir)
    _fit_quality_section(doc, manifest, check)
    if policies:
        doc.heading("Paired differences")
        doc.para(
            "Every measure for every policy: the median change against the baseline and its 95% "
            "interval (counts and money in %, the reoffending rate in percentage points, "
            "disproportionality in the index), with the verdict and how sure we are of it."
        )
        doc.table(*evidence_rows(comps, policies))
        doc.image(_plot_effects(comps, policies, baseline, out / "effects.png"), "effects")
        _uncertainty_section(
            doc,
            comps,
            policies,
            manifest.get("draws", 0),
            len(set(manifest.get("particles") or [])) or manifest.get("draws", 0),
        )
        _runaway_section(doc, s, comps)
        _costs_section(doc, comps, s, baseline, policies, bases, out, rng)
        _composition_section(doc, s, comps, scenarios, baseline, policies, out)
        _disproportionality_section(doc, s, comps, baseline, policies)
        if not series.empty:
            doc.heading("Over time")
            doc.para(
                "Annual values over the measured years: the line is the median of the runs, the "
                "band holds 95% of them. Grey and black: the baseline."
            )
            for column, label, unit, how in SERIES:
                if column in series.columns:
                    name = _plot_series(
                        series,
                        column,
                        label,
                        unit,
                        how,
                        baseline,
                        policies,
                        out / f"series_{column}.png",
                    )
                    doc.image(name, label)
        doc.heading("Each policy in detail")
        for p in policies:
            _detail(doc, comps[p], baseline)
    _failures_section(doc, failures)
    if left_out:
        doc.heading("Parts left out")
        doc.para(
            "These files in the results folder are damaged or are no part of this "
            "experiment; the report leaves them out (a rerun of the experiment runs a "
            "damaged run again):"
        )
        doc.bullets(left_out)
    doc.para(
        "Intervals are 95% intervals of the expected paired difference over the parameter "
        "draws and chance (a random-effects mixture over draws of Student's t; with one draw, "
        "the t interval of the mean); 'single runs' ranges are the 2.5th to 97.5th "
        "percentiles of the paired differences; cost ratios have bootstrap intervals "
        f"({BOOTSTRAP_RESAMPLES} resamples). Made by yjsim from {results_dir}.",
        note=True,
    )
    page, md = doc.finish()
    (out / "index.html").write_text(page, encoding="utf-8")
    (out / "index.md").write_text(md, encoding="utf-8")
    return out / "index.html"


def headline_markdown(results_dir: Path) -> str:
    """The headline table alone, as Markdown (for notes and issue comments)."""
    manifest = read_manifest(Path(results_dir))
    summary = read_results(results_dir, "summary", manifest_parts(manifest))
    baseline = manifest["baseline"]
    policies = [s["name"] for s in manifest["scenarios"] if s["name"] != baseline]
    policies = [s for s in policies if s in set(summary["scenario"])]
    comps = compare_all(summary, baseline, policies, interventions=programmes(summary))
    doc = _Doc("")
    header, rows, _ = headline_rows(comps, policies)
    doc.table(header, rows)
    return doc.finish()[1]


def publish_report(
    results_dir: Path, target: Path, log: Callable[[str], None] | None = None
) -> Path:
    """Write the report of ``results_dir`` and copy it to ``target`` (a ``.md`` file), its
    PNGs to a folder beside it named after it (``docs/results.md`` -> ``docs/results/``),
    with a line under the title saying which commands, commit and runs made it; return
    ``target``.

    For results that ship with the repository (``docs/results.md``), so that a reader
    sees what the model concludes before running anything. ``target`` is checked before
    anything is written; the Markdown is written last, whole or not at all.
    """
    import shutil

    from sim.experiment import ExperimentError
    from sim.faults import write_atomically

    results_dir, target = Path(results_dir), Path(target)
    if target.suffix != ".md":
        raise ExperimentError(target, "--publish", "expected the path of a .md file to write")
    if not target.parent.is_dir():
        raise ExperimentError(target, "--publish", f"no such folder {str(target.parent)!r}")
    report = write_report(results_dir, log=log).parent
    images = target.with_suffix("")
    images.mkdir(exist_ok=True)
    for png in sorted(report.glob("*.png")):
        shutil.copyfile(png, images / png.name)
    md = (report / "index.md").read_text(encoding="utf-8")
    # The report's image links are file names beside it; here they live in ``images``.
    md = re.sub(r"\]\(([^)/]+\.png)\)", lambda m: f"]({images.name}/{m.group(1)})", md)
    title, _, body = md.partition("\n")
    manifest = read_manifest(results_dir)
    commit = manifest.get("git_commit") or "not recorded"
    from sim.results import git_commit

    # The report's code may be newer than the runs' (a fix to how results are written):
    # then both commits are named.
    written = git_commit()
    at = (
        f"runs made at commit `{commit}`, report written at commit `{written}`"
        if written and written != commit
        else f"at commit `{commit}`"
    )
    experiment_file = manifest.get("experiment_file", "?")
    draws = manifest.get("draws", 0)
    design = (
        f"{len(manifest.get('scenarios', []))} scenarios x {manifest.get('replicates', '?')} "
        + (f"replicates x {draws} parameter draws" if draws else "replicates at the posterior mean")
    )
    provenance = (
        f"> **How these results were made:** `yjsim experiment {experiment_file} "
        f"--out {results_dir.as_posix()}`, then `yjsim report {results_dir.as_posix()} "
        f"--publish {target.as_posix()}`, {at} (model source of the runs "
        f"`{manifest.get('code_version', '?')}`), started "
        f"{manifest.get('created', '?')}: {manifest.get('runs', '?')} runs ({design}; "
        f"{manifest.get('years', '?')} measured years after "
        f"{manifest.get('burn_in_years', '?')} of burn-in). The same commands and seed give "
        "the same runs, bit for bit."
    )
    text = "\n".join([title, "", provenance, body])
    write_atomically(target, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return target
