"""The policy comparison report: each scenario against the baseline, on paired runs.

``write_report(DIR)`` reads an experiment's results folder (made by ``sim.batch``) and
writes ``DIR/report/index.html`` and its Markdown twin ``index.md``, with PNG charts.

Every comparison is paired: replicate r of a policy ran with the same seed (and, once
posteriors exist, the same posterior draw) as replicate r of the baseline, so the
difference between the two is the policy's effect in that simulated future, with the
noise both share cancelled out. For each measure the report gives

- the mean of the paired differences (policy minus baseline) with a 95% confidence
  interval for that mean (Student's t over the pairs): how sure we are of the average
  effect given the number of replicates;
- the chance the policy is better: the share of paired futures in which the policy
  did better than the baseline (ties count half), which says how often a borough that
  adopts it would see an improvement, not only whether the average improves;
- cost per offence averted and per first-time entrant averted, with bootstrap intervals.

The composition effect is shown beside the headline: a policy that keeps low-risk
children out of the formal system shrinks the reoffending cohort and leaves a
higher-risk one, so the measured (proven) reoffending rate can rise while true
offending falls.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from scipy import stats

from sim.results import FAILURES, batch_log, manifest_parts, read_manifest, read_results

BOOTSTRAP_RESAMPLES = 2000  # enough for stable 2.5/97.5% quantiles of a ratio
BOOTSTRAP_SEED = 20240601  # fixed, so the same results give the same report
LEVEL = 0.95
BASELINE_COLOUR = "#222222"
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2")


@dataclass(frozen=True)
class Measure:
    """A headline measure: its column, how to say it, and which direction is better."""

    column: str
    label: str
    unit: str
    better: str  # "lower" or "closer to 1"
    kind: str  # "count" (compare in %), "rate" (compare in points), "ratio", "money"
    short: str  # column title in the overview table


MEASURES: tuple[Measure, ...] = (
    Measure(
        "children_cautioned_or_sentenced_per_year",
        "Children cautioned or sentenced",
        "children a year",
        "lower",
        "count",
        "Cautioned or sentenced",
    ),
    Measure(
        "first_time_entrants_per_year",
        "First-time entrants to the justice system",
        "children a year",
        "lower",
        "count",
        "First-time entrants",
    ),
    Measure(
        "proven_reoffending_rate",
        "Proven reoffending rate (MoJ measure)",
        "% of the cohort",
        "lower",
        "rate",
        "Reoffending rate",
    ),
    Measure(
        "true_offences_per_year",
        "True offences (all offending, seen only by the model)",
        "offences a year",
        "lower",
        "count",
        "True offences",
    ),
    Measure(
        "custody_sentences_per_year",
        "Custodial sentences",
        "sentences a year",
        "lower",
        "count",
        "Custody sentences",
    ),
    Measure(
        "custody_population_mean",
        "Children in custody",
        "children (mean)",
        "lower",
        "count",
        "In custody",
    ),
    Measure(
        "cost_per_year_gbp.total",
        "Cost (justice pathway and interventions)",
        "GBP a year",
        "lower",
        "money",
        "Cost",
    ),
    # Disproportionality comes from where children live and from the police's decisions
    # (search, gang listing) that differ by group (sim/justice.py), never from offending.
    Measure(
        "relative_rate_index.stop_search.Black",
        "Disproportionality in stop and search (drugs and weapons found by police activity): "
        "relative rate index per head, Black vs White children",
        "ratio, 1 = parity",
        "closer to 1",
        "ratio",
        "RRI stop-search (Black)",
    ),
    Measure(
        "relative_rate_index.arrest.Black",
        "Disproportionality at arrest: relative rate index, Black vs White children",
        "ratio, 1 = parity",
        "closer to 1",
        "ratio",
        "RRI arrest (Black)",
    ),
    Measure(
        "relative_rate_index.formal_disposal.Black",
        "Disproportionality at formal disposal: relative rate index, Black vs White children",
        "ratio, 1 = parity",
        "closer to 1",
        "ratio",
        "RRI formal disposal (Black)",
    ),
    Measure(
        "relative_rate_index.gang_listing.Black",
        "Disproportionality on the gangs list: relative rate index per gang member, Black vs "
        "White children",
        "ratio, 1 = parity",
        "closer to 1",
        "ratio",
        "RRI gang list (Black)",
    ),
)

COMPOSITION: tuple[Measure, ...] = (
    Measure(
        "proven_reoffending_rate",
        "Measured (proven) reoffending rate",
        "% of the cohort",
        "lower",
        "rate",
        "Reoffending rate",
    ),
    Measure(
        "reoffending_cohort_per_year",
        "Reoffending cohort: children counted by the measure",
        "children a year",
        "lower",
        "count",
        "Cohort size",
    ),
    Measure(
        "true_offences_per_year",
        "True offences (all offending)",
        "offences a year",
        "lower",
        "count",
        "True offences",
    ),
)

# Weekly series drawn as annual values: column, label, unit, how a year is made.
SERIES: tuple[tuple[str, str, str, str], ...] = (
    ("offences", "True offences", "offences a year", "sum"),
    ("first_time_entrants", "First-time entrants", "children a year", "sum"),
    ("formal_disposals", "Formal disposals (caution or sentence)", "disposals a year", "sum"),
    ("custody_population", "Children in custody", "children (mean over the year)", "mean"),
    ("yos_caseload", "YOS caseload", "children supervised (mean over the year)", "mean"),
)


# -- statistics ----------------------------------------------------------------------------


def _better(policy: np.ndarray, base: np.ndarray, better: str) -> np.ndarray:
    """1 where the policy did better in a pair, 0.5 for a tie, 0 where worse."""
    if better == "closer to 1":
        p, b = np.abs(policy - 1.0), np.abs(base - 1.0)
    else:
        p, b = policy, base
    return np.where(p < b, 1.0, np.where(p == b, 0.5, 0.0))


def paired_comparison(base: np.ndarray, policy: np.ndarray, better: str) -> dict[str, float]:
    """Paired differences (policy - baseline): mean, 95% CI of the mean, chance better.

    Pairs where either value is undefined (NaN, e.g. a reoffending rate with an empty
    cohort) are left out; ``n`` says how many pairs remain.
    """
    base, policy = np.asarray(base, dtype=float), np.asarray(policy, dtype=float)
    ok = np.isfinite(base) & np.isfinite(policy)
    b, p = base[ok], policy[ok]
    n = int(ok.sum())
    nan = math.nan
    if n == 0:
        return dict(
            n=0,
            base=nan,
            policy=nan,
            diff=nan,
            lo=nan,
            hi=nan,
            pct=nan,
            p_better=nan,
            range_lo=nan,
            range_hi=nan,
        )
    d = p - b
    mean = float(d.mean())
    if n > 1:
        half = float(stats.t.ppf(0.5 + LEVEL / 2, n - 1) * d.std(ddof=1) / math.sqrt(n))
    else:
        half = nan
    base_mean = float(b.mean())
    return dict(
        n=n,
        base=base_mean,
        policy=float(p.mean()),
        diff=mean,
        lo=mean - half,
        hi=mean + half,
        pct=100.0 * mean / base_mean if base_mean else nan,
        p_better=float(_better(p, b, better).mean()),
        range_lo=float(np.quantile(d, (1 - LEVEL) / 2)),
        range_hi=float(np.quantile(d, 0.5 + LEVEL / 2)),
    )


def cost_per_unit_averted(
    d_cost: np.ndarray, averted: np.ndarray, rng: np.random.Generator
) -> dict[str, float]:
    """Extra cost per unit averted (mean extra cost / mean averted), bootstrap 95% interval.

    Defined when the policy averts something on average, and, for a policy that takes
    something away (it saves money and more happens), as the saving per extra unit.
    The interval is given only if at least 97.5% of resamples agree on the sign of
    what is averted; otherwise the ratio could be anything.
    """
    ok = np.isfinite(d_cost) & np.isfinite(averted)
    c, a = d_cost[ok], averted[ok]
    n = len(c)
    out = dict(n=n, cost=math.nan, averted=math.nan, ratio=math.nan, lo=math.nan, hi=math.nan)
    if n == 0:
        return out
    out["cost"], out["averted"] = float(c.mean()), float(a.mean())
    sign = math.copysign(1.0, out["averted"])
    if out["averted"] > 0 or (out["averted"] < 0 and out["cost"] < 0):
        out["ratio"] = out["cost"] / out["averted"]
    if n > 1 and math.isfinite(out["ratio"]):
        idx = rng.integers(0, n, size=(BOOTSTRAP_RESAMPLES, n))
        cs, avs = c[idx].mean(axis=1), a[idx].mean(axis=1)
        same = avs * sign > 0
        if same.mean() >= 0.5 + LEVEL / 2:
            ratios = cs[same] / avs[same]
            out["lo"], out["hi"] = (
                float(np.quantile(ratios, (1 - LEVEL) / 2)),
                float(np.quantile(ratios, 0.5 + LEVEL / 2)),
            )
    return out


def _pairs(summary: pd.DataFrame, baseline: str, scenario: str, column: str) -> pd.DataFrame:
    """Baseline and policy values of ``column`` side by side, one row per (draw, replicate)."""
    keys = ["draw", "replicate"]
    b = summary.loc[summary["scenario"] == baseline, [*keys, column]]
    p = summary.loc[summary["scenario"] == scenario, [*keys, column]]
    return b.merge(p, on=keys, suffixes=("_base", "_policy")).sort_values(keys)


def compare(summary: pd.DataFrame, baseline: str, scenario: str, measure: Measure) -> dict:
    """The paired comparison of one measure for one scenario against the baseline."""
    if measure.column not in summary.columns:
        return paired_comparison(np.array([]), np.array([]), measure.better)
    pairs = _pairs(summary, baseline, scenario, measure.column)
    return paired_comparison(
        pairs[f"{measure.column}_base"].to_numpy(float),
        pairs[f"{measure.column}_policy"].to_numpy(float),
        measure.better,
    )


# -- formatting ------------------------------------------------------------------------------


def _num(x: float, kind: str = "count", signed: bool = False) -> str:
    """A number the way a report reader expects it (rates in %, money in GBP)."""
    if x is None or not math.isfinite(x):
        return "n/a"
    sign = "+" if signed and x > 0 else ""
    if kind == "rate":
        return f"{sign}{100 * x:.1f}%" if not signed else f"{sign}{100 * x:.1f} pts"
    if kind == "money":
        if abs(x) >= 1e6:
            return f"{sign}{x / 1e6:,.2f}m GBP".replace("+-", "-")
        return f"{sign}{x:,.0f} GBP"
    if kind == "ratio":
        return f"{sign}{x:.2f}"
    if abs(x) < 1:
        return f"{sign}{x:.2f}"
    return f"{sign}{x:,.1f}" if abs(x) < 100 else f"{sign}{x:,.0f}"


def _ci(r: dict, kind: str) -> str:
    if not math.isfinite(r["lo"]):
        return "n/a"
    return f"{_num(r['lo'], kind, True)} to {_num(r['hi'], kind, True)}"


def _chance(p: float) -> str:
    return "n/a" if not math.isfinite(p) else f"{100 * p:.0f}%"


def _change(r: dict, m: Measure) -> str:
    """The overview cell: change against the baseline in the measure's natural terms."""
    if not math.isfinite(r["diff"]):
        return "n/a"
    if m.kind in ("count", "money"):
        text = f"{r['pct']:+.1f}%" if math.isfinite(r["pct"]) else _num(r["diff"], m.kind, True)
    else:
        text = _num(r["diff"], m.kind, True)
    return f"{text} ({_chance(r['p_better'])})"


# -- plots -------------------------------------------------------------------------------


def _save(fig: Figure, path: Path) -> str:
    fig.savefig(path, dpi=110, bbox_inches="tight")
    return path.name


def _plot_effects(
    results: dict[str, dict[str, dict]], policies: Sequence[str], baseline: str, path: Path
) -> str:
    """Forest plot: each measure's paired change against the baseline, with 95% CIs."""
    n = len(MEASURES)
    ncols = 3
    nrows = math.ceil(n / ncols)
    fig = Figure(figsize=(4.6 * ncols, 0.45 * len(policies) * nrows + 1.6 * nrows))
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for ax, m in zip(axes.flat, MEASURES, strict=False):
        ys = np.arange(len(policies))[::-1]
        for y, s in zip(ys, policies, strict=True):
            r = results[s][m.column]
            _, lo, hi, x = _effect_scale(r, m)
            if not math.isfinite(x):
                ax.text(0, y, "n/a", va="center", ha="center", fontsize=8, color="grey")
                continue
            colour = (
                "#2ca02c" if r["p_better"] >= 0.9 else "#d62728" if r["p_better"] <= 0.1 else "#555"
            )
            if math.isfinite(lo):
                ax.plot([lo, hi], [y, y], color=colour, lw=2)
            ax.plot([x], [y], "o", color=colour)
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
        "Change against the baseline (paired runs): mean and 95% CI. "
        "Green: better in at least 90% of paired runs; red: worse in at least 90%",
        fontsize=10,
    )
    fig.tight_layout()
    return _save(fig, path)


def _effect_scale(r: dict, m: Measure) -> tuple[float, float, float, float]:
    """(scale, lo, hi, centre) in the units of the forest plot: % change, points or ratio."""
    if m.kind in ("count", "money"):
        if not r["base"]:
            return 1.0, math.nan, math.nan, math.nan
        s = 100.0 / r["base"]
    elif m.kind == "rate":
        s = 100.0
    else:
        s = 1.0
    return s, r["lo"] * s, r["hi"] * s, r["diff"] * s


def _effect_unit(m: Measure) -> str:
    if m.kind in ("count", "money"):
        return "change against baseline, %"
    if m.kind == "rate":
        return "change against baseline, percentage points"
    return "change in the index (1 = parity)"


def _wrap(text: str, width: int) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width)) or text


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


def _plot_composition(
    summary: pd.DataFrame, scenarios: Sequence[str], baseline: str, path: Path
) -> str:
    """Three panels side by side: measured reoffending rate, cohort size, true offences."""
    fig = Figure(figsize=(13, 0.5 * len(scenarios) + 2.2))
    axes = fig.subplots(1, len(COMPOSITION), squeeze=False)[0]
    ys = np.arange(len(scenarios))[::-1]
    for ax, m in zip(axes, COMPOSITION, strict=True):
        scale = 100.0 if m.kind == "rate" else 1.0
        base_mean = math.nan
        for i, (y, s) in enumerate(zip(ys, scenarios, strict=True)):
            v = summary.loc[summary["scenario"] == s, m.column].to_numpy(float) * scale
            v = v[np.isfinite(v)]
            if not len(v):
                continue
            mean = v.mean()
            half = (
                stats.t.ppf(0.5 + LEVEL / 2, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v))
                if len(v) > 1
                else 0.0
            )
            colour = BASELINE_COLOUR if s == baseline else COLOURS[(i - 1) % len(COLOURS)]
            ax.plot([mean - half, mean + half], [y, y], color=colour, lw=2)
            ax.plot([mean], [y], "o", color=colour)
            if s == baseline:
                base_mean = mean
        if math.isfinite(base_mean):
            ax.axvline(base_mean, color=BASELINE_COLOUR, ls="--", lw=1)
        ax.set_yticks(
            ys,
            [_wrap(s + (" (baseline)" if s == baseline else ""), 24) for s in scenarios],
            fontsize=8,
        )
        ax.set_xlabel(m.unit, fontsize=8)
        ax.set_title(_wrap(m.label, 40), fontsize=9)
        ax.tick_params(axis="x", labelsize=8)
        ax.grid(alpha=0.3, axis="x")
    fig.suptitle(
        "The composition effect: the measured rate depends on who is counted. "
        "Mean and 95% CI; dashed line = baseline",
        fontsize=10,
    )
    fig.tight_layout()
    return _save(fig, path)


def _plot_cost_effectiveness(ce: dict[str, dict], baseline: str, path: Path) -> str:
    """The cost-effectiveness plane: offences averted against extra cost, per policy."""
    fig = Figure(figsize=(7, 5))
    ax = fig.subplots()
    for i, (s, r) in enumerate(ce.items()):
        x, y = r["averted"], r["cost"]
        if not (math.isfinite(x) and math.isfinite(y)):
            continue
        colour = COLOURS[i % len(COLOURS)]
        ax.errorbar(
            [x],
            [y / 1e3],
            xerr=[[x - r["averted_lo"]], [r["averted_hi"] - x]],
            yerr=[[(y - r["cost_lo"]) / 1e3], [(r["cost_hi"] - y) / 1e3]],
            fmt="o",
            color=colour,
            capsize=3,
            label=s,
        )
    ax.axhline(0, color=BASELINE_COLOUR, lw=1)
    ax.axvline(0, color=BASELINE_COLOUR, lw=1)
    ax.plot([0], [0], "s", color=BASELINE_COLOUR, label=f"baseline ({baseline})")
    ax.set_xlabel("true offences averted a year (against the baseline)")
    ax.set_ylabel("extra cost, thousand GBP a year")
    ax.set_title("Cost-effectiveness: lower right saves money and averts offences", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return _save(fig, path)


# -- the report --------------------------------------------------------------------------


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
            ".note{color:#555;font-size:0.92em}</style>",
            "</head><body>",
        ]
        self.md: list[str] = []

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

    def table(self, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        h = "".join(f"<th>{html.escape(c)}</th>" for c in header)

        def td(c: Any) -> str:  # numbers right-aligned, words left
            cls = ' class="num"' if re.match(r"[+-]?[0-9][0-9.,]*", str(c)) else ""
            return f"<td{cls}>{html.escape(str(c))}</td>"

        body = "".join("<tr>" + "".join(td(c) for c in row) + "</tr>" for row in rows)
        self.html.append(f"<table><thead><tr>{h}</tr></thead><tbody>{body}</tbody></table>")

        def cell(c: Any) -> str:
            return str(c).replace("|", "\\|")

        self.md.append("| " + " | ".join(cell(c) for c in header) + " |")
        self.md.append("|" + "|".join("---" for _ in header) + "|")
        self.md += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
        self.md.append("")

    def image(self, name: str, alt: str) -> None:
        self.html.append(f'<p><img src="{html.escape(name)}" alt="{html.escape(alt)}"></p>')
        self.md += [f"![{alt}]({name})", ""]

    def finish(self) -> tuple[str, str]:
        return "\n".join([*self.html, "</body></html>", ""]), "\n".join(self.md)


def headline_rows(
    results: dict[str, dict[str, dict]], policies: Sequence[str]
) -> tuple[list[str], list[list[str]]]:
    """The overview table: a row per policy, a column per measure."""
    header = ["Policy (vs baseline)", *[m.short for m in MEASURES]]
    rows = [[s, *[_change(results[s][m.column], m) for m in MEASURES]] for s in policies]
    return header, rows


def _composition_sentence(s: str, comp: dict[str, dict]) -> str:
    rate, cohort, true = (comp[m.column] for m in COMPOSITION)
    if not all(math.isfinite(r["diff"]) for r in (rate, cohort, true)):
        return f"{s}: not enough runs with a reoffending cohort to compare."
    rate_dir = "rises" if rate["diff"] > 0 else "falls" if rate["diff"] < 0 else "stays"
    true_dir = "fall" if true["diff"] < 0 else "rise" if true["diff"] > 0 else "stay level"
    text = (
        f"{s}: the measured reoffending rate {rate_dir} by {abs(100 * rate['diff']):.1f} "
        f"points while true offences {true_dir} by {abs(true['pct']):.1f}% and the cohort "
        f"the rate is measured on changes by {cohort['pct']:+.1f}%."
    )

    def clear(r: dict) -> bool:  # the 95% CI of the paired difference excludes 0
        return r["lo"] > 0 or r["hi"] < 0

    against_cohort = math.copysign(1, rate["diff"]) != math.copysign(1, cohort["diff"])
    against_true = math.copysign(1, rate["diff"]) != math.copysign(1, true["diff"])
    if not clear(rate):
        text += " The change in the measured rate is within the noise of these runs."
    elif clear(cohort) and against_cohort:
        more = cohort["diff"] > 0
        text += (
            f" The rate {'falls' if more else 'rises'} partly because other children are "
            f"counted: {'more' if more else 'fewer'} children enter the cohort, and those "
            f"{'added' if more else 'left out'} reoffend less often than the rest, so the "
            "rate is not a like-for-like measure of this policy; compare true offences."
        )
    elif clear(true) and against_true:
        text += (
            " The rate moves against true offending: it counts only proven reoffences, so it "
            "also moves with how much offending is detected and proven."
        )
    return text


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

    results = {
        s: {m.column: compare(summary, baseline, s, m) for m in (*MEASURES, *COMPOSITION)}
        for s in policies
    }
    ce = {s: _cost_effectiveness(summary, baseline, s, rng) for s in policies}

    doc = _Doc(f"Policy comparison: {manifest['name']}")
    doc.heading(f"Policy comparison: {manifest['name']}", 1)
    if manifest.get("description"):
        doc.para(manifest["description"])
    _intro(doc, manifest, summary, failures, results_dir)
    if not policies:
        doc.para("Only the baseline has finished runs: there is nothing to compare yet.")
    else:
        doc.heading("Headline: each policy against the baseline")
        doc.para(
            "Each cell is the change against the baseline on paired runs (same seed), and in "
            "brackets the chance the policy is better: the share of paired runs in which it did "
            "better. Counts and cost: change in %; the reoffending rate: change in percentage "
            "points; disproportionality (relative rate index, 1 = parity): change in the "
            "index, where better means closer to 1."
        )
        doc.table(*headline_rows(results, policies))
        doc.image(_plot_effects(results, policies, baseline, out / "effects.png"), "effects")
        _cost_section(doc, ce, baseline, out)
        _composition_section(doc, summary, results, scenarios, baseline, policies, out)
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
        for s in policies:
            _detail(doc, s, results[s], ce[s], baseline)
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
        "Confidence intervals are for the mean paired difference (Student's t over the pairs); "
        "'95% of runs' ranges are the 2.5th to 97.5th percentiles of the paired differences; "
        "cost ratios have bootstrap intervals "
        f"({BOOTSTRAP_RESAMPLES} resamples of the pairs). Made by yjsim from {results_dir}.",
        note=True,
    )
    page, md = doc.finish()
    (out / "index.html").write_text(page, encoding="utf-8")
    (out / "index.md").write_text(md, encoding="utf-8")
    return out / "index.html"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


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


def _intro(
    doc: _Doc, manifest: dict, summary: pd.DataFrame, failures: pd.DataFrame, results_dir: Path
) -> None:
    planned = manifest.get("runs", 0)
    done = len(summary)
    draws = manifest.get("draws", 0)
    doc.para(
        f"{manifest['replicates']} paired replicates per scenario"
        + (
            f" x {draws} posterior draws of {Path(manifest['posterior']).name} (the same "
            "particle for every scenario, so intervals include parameter uncertainty)"
            if draws and manifest.get("posterior")
            else " (each scenario's own parameters or posterior mean; no posterior draws, "
            "so intervals show chance only)"
        )
        + f", {_plural(manifest['years'], 'measured year')} after "
        f"{_plural(manifest['burn_in_years'], 'year')} of burn-in; "
        f"{done} of {planned} runs finished, {len(failures)} failed."
    )
    doc.para(_burn_in_sentence(manifest))
    rows = []
    described = {s["name"]: s for s in manifest["scenarios"]}
    for s in [x["name"] for x in manifest["scenarios"]]:
        info = described[s]
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


def _cost_effectiveness(
    summary: pd.DataFrame, baseline: str, s: str, rng: np.random.Generator
) -> dict:
    cost = "cost_per_year_gbp.total"
    keys = ["draw", "replicate"]
    cols = [cost, "true_offences_per_year", "first_time_entrants_per_year"]
    if any(c not in summary.columns for c in cols):
        nan = math.nan
        keys = ("averted", "averted_lo", "averted_hi", "cost", "cost_lo", "cost_hi")
        return {"offence": {}, "fte": {}, **dict.fromkeys(keys, nan)}
    b = summary.loc[summary["scenario"] == baseline, [*keys, *cols]]
    p = summary.loc[summary["scenario"] == s, [*keys, *cols]]
    m = b.merge(p, on=keys, suffixes=("_b", "_p"))
    d_cost = (m[f"{cost}_p"] - m[f"{cost}_b"]).to_numpy(float)
    off = (m["true_offences_per_year_b"] - m["true_offences_per_year_p"]).to_numpy(float)
    fte = (m["first_time_entrants_per_year_b"] - m["first_time_entrants_per_year_p"]).to_numpy(
        float
    )
    cost_cmp = paired_comparison(
        m[f"{cost}_b"].to_numpy(float), m[f"{cost}_p"].to_numpy(float), "lower"
    )
    off_cmp = paired_comparison(
        m["true_offences_per_year_p"].to_numpy(float),
        m["true_offences_per_year_b"].to_numpy(float),
        "lower",
    )  # averted = baseline - policy, so the roles swap
    return {
        "offence": cost_per_unit_averted(d_cost, off, rng),
        "fte": cost_per_unit_averted(d_cost, fte, rng),
        "averted": off_cmp["diff"],
        "averted_lo": off_cmp["lo"],
        "averted_hi": off_cmp["hi"],
        "cost": cost_cmp["diff"],
        "cost_lo": cost_cmp["lo"],
        "cost_hi": cost_cmp["hi"],
    }


def _ratio_text(r: dict, what: str) -> str:
    if not r or not r["n"]:
        return "n/a"
    one = what.replace("entrants", "entrant").rstrip("s")
    interval = (
        f" (95% interval {_num(r['lo'], 'money')} to {_num(r['hi'], 'money')})"
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
            f"saves {_num(-r['cost'], 'money')} a year for {-r['averted']:,.1f} more {what} a "
            f"year: {_num(r['ratio'], 'money')} saved per extra {one}{interval}"
        )
    if not math.isfinite(r["averted"]) or r["averted"] <= 0:
        return f"averts no {what} on average"
    if r["cost"] <= 0:
        return (
            f"saves {_num(-r['cost'], 'money')} a year and averts {r['averted']:.1f} {what} a year"
        )
    return f"{_num(r['ratio'], 'money')} per {one} averted{interval}"


def _cost_section(doc: _Doc, ce: dict[str, dict], baseline: str, out: Path) -> None:
    doc.heading("Value for money")
    doc.para(
        "Extra cost a year (policy minus baseline, paired) divided by what it averts a year. "
        "A policy that averts nothing on average has no cost per unit averted."
    )
    rows = [
        [
            s,
            _num(r["cost"], "money", True),
            _ratio_text(r["offence"], "offences"),
            _ratio_text(r["fte"], "first-time entrants"),
        ]
        for s, r in ce.items()
    ]
    doc.table(
        [
            "Policy",
            "Extra cost a year",
            "Cost per offence averted",
            "Cost per first-time entrant averted",
        ],
        rows,
    )
    doc.image(
        _plot_cost_effectiveness(ce, baseline, out / "cost_effectiveness.png"),
        "cost-effectiveness plane",
    )


def _composition_section(
    doc: _Doc,
    summary: pd.DataFrame,
    results: dict[str, dict[str, dict]],
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
        "of higher risk: the measured rate can rise while true offending falls. Read the rate "
        "beside the cohort size and true offences."
    )
    rows = []
    for s in scenarios:
        vals = [
            summary.loc[summary["scenario"] == s, m.column].to_numpy(float) for m in COMPOSITION
        ]
        cells = []
        for m, v in zip(COMPOSITION, vals, strict=True):
            mean = float(np.nanmean(v)) if np.isfinite(v).any() else math.nan
            cells.append(_num(mean, m.kind))
        if s == baseline:
            change = "baseline"
        else:
            change = ", ".join(
                f"{m.short}: "
                + (
                    _num(results[s][m.column]["diff"], m.kind, True)
                    if m.kind == "rate"
                    else f"{results[s][m.column]['pct']:+.1f}%"
                )
                for m in COMPOSITION
            )
        rows.append([s, *cells, change])
    doc.table(
        [
            "Scenario",
            "Reoffending rate",
            "Cohort (children a year)",
            "True offences a year",
            "Change against baseline",
        ],
        rows,
    )
    doc.bullets([_composition_sentence(s, results[s]) for s in policies])
    doc.image(
        _plot_composition(summary, scenarios, baseline, out / "composition.png"),
        "composition effect",
    )


def _detail(doc: _Doc, s: str, res: dict[str, dict], ce: dict, baseline: str) -> None:
    doc.heading(f"{s} against {baseline}", 3)
    rows = []
    for m in MEASURES:
        r = res[m.column]
        rows.append(
            [
                f"{m.label}; {m.unit}",
                _num(r["base"], m.kind),
                _num(r["policy"], m.kind),
                _num(r["diff"], m.kind, True),
                _ci(r, m.kind),
                f"{r['pct']:+.1f}%"
                if math.isfinite(r["pct"]) and m.kind in ("count", "money")
                else "",
                _chance(r["p_better"]),
                f"{_num(r['range_lo'], m.kind, True)} to {_num(r['range_hi'], m.kind, True)}",
                str(r["n"]),
            ]
        )
    doc.table(
        [
            "Measure",
            "Baseline",
            "Policy",
            "Difference",
            "95% CI of the difference",
            "Change",
            "Chance better",
            "Difference in 95% of runs",
            "Pairs",
        ],
        rows,
    )
    doc.bullets(
        [
            f"Cost per offence averted: {_ratio_text(ce['offence'], 'offences')}.",
            "Cost per first-time entrant averted: "
            f"{_ratio_text(ce['fte'], 'first-time entrants')}.",
        ]
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


def headline_markdown(results_dir: Path) -> str:
    """The headline table alone, as Markdown (for notes and issue comments)."""
    manifest = read_manifest(Path(results_dir))
    summary = read_results(results_dir, "summary", manifest_parts(manifest))
    baseline = manifest["baseline"]
    policies = [s["name"] for s in manifest["scenarios"] if s["name"] != baseline]
    policies = [s for s in policies if s in set(summary["scenario"])]
    results = {s: {m.column: compare(summary, baseline, s, m) for m in MEASURES} for s in policies}
    doc = _Doc("")
    doc.table(*headline_rows(results, policies))
    return doc.finish()[1]
