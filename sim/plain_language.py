"""The comparisons in words: lines a strategist can quote, and the rankings.

Used by the report's top layer (``sim/report.py``) and by ``yjsim compare``; the
numbers come from :mod:`sim.comparison`. A measure is called better or worse only where
its 95% interval excludes no change (``Effect.verdict``); "about N% sure" is the share
of the uncertainty on that side. The proven reoffending rate is never called better or
worse where its cohort changed (``CohortCheck``): the line says "not comparable" and
points to true offences.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from sim.comparison import (
    COST,
    FTE,
    HARM,
    HEADLINE,
    IN_CUSTODY,
    JUSTICE_COST,
    NET_COST,
    PROGRAMME_COST,
    REOFFENDING,
    TRUE_OFFENCES,
    Effect,
    Measure,
    PolicyComparison,
)

# A verdict's colour, the same everywhere (tables, figures): green better, red worse, and
# only where the 95% interval excludes no change; grey otherwise. Tints fill table cells.
GREEN, RED, GREY = "#1a7f37", "#c62828", "#6e6e6e"
VERDICT_COLOUR = {"better": GREEN, "worse": RED, "unclear": GREY, "not comparable": GREY}
VERDICT_TINT = {"better": "#dcefe0", "worse": "#f8dedb", "unclear": None, "not comparable": None}


# How the lines name the headline measures.
SPOKEN = {
    TRUE_OFFENCES.column: "true offences",
    HARM.column: "harm",
    FTE.column: "first-time entrants",
    IN_CUSTODY.column: "children in custody",
    REOFFENDING.column: "the reoffending rate",
    COST.column: "spending",
    NET_COST.column: "net social cost",
}


# -- numbers ----------------------------------------------------------------------------------


# Decimals shown for rates (in points or %), percentages and ratios, unless more are
# needed to show a small change that is clear of zero (``interval``).
DECIMALS = {"rate": 1, "pct": 1, "ratio": 2}
MAX_DECIMALS = 6


def fmt(x: float, kind: str = "count", signed: bool = False, decimals: int | None = None) -> str:
    """A number the way a reader expects it (rates in %, money in GBP); ``decimals``
    overrides the usual number of them for rates, percentages and ratios."""
    if x is None or not math.isfinite(x):
        return "n/a"
    d = DECIMALS.get(kind, 1) if decimals is None else decimals
    if kind in DECIMALS and round(x * (100 if kind == "rate" else 1), d) == 0:
        x = 0.0  # no "-0.0%"
    sign = "+" if signed and x > 0 else ""
    if kind == "rate":
        return f"{sign}{100 * x:.{d}f} pts" if signed else f"{100 * x:.{d}f}%"
    if kind == "money":
        if abs(x) >= 1e6:
            return f"{sign}{x / 1e6:,.2f}m GBP"
        if abs(x) >= 1e4:
            return f"{sign}{x / 1e3:,.0f}k GBP"
        return f"{sign}{x:,.0f} GBP"
    if kind == "ratio":
        return f"{sign}{x:.{d}f}"
    if kind == "pct":
        return f"{sign}{x:.{d}f}%"
    if abs(x) < 1:
        return f"{sign}{x:.2f}"
    return f"{sign}{x:,.1f}" if abs(x) < 100 else f"{sign}{x:,.0f}"


def sure(p: float) -> str:
    """A probability as "about N%" (never 0 or 100: these are estimates)."""
    if not math.isfinite(p):
        return "n/a"
    if p >= 0.995:
        return "over 99%"
    if p <= 0.005:
        return "under 1%"
    return f"about {100 * p:.0f}%"


def interval(centre: float, lo: float, hi: float, kind: str) -> str:
    """A signed change and its interval: "+4.7% (+2.1% to +7.0%)".

    An interval clear of zero (the verdict is then "better" or "worse") gets as many
    decimals as its end nearest zero needs to show a digit, so it never reads
    "0.00 (0.00 to 0.00): worse".
    """
    d = DECIMALS.get(kind)
    if d is not None and all(map(math.isfinite, (lo, hi))) and (lo > 0 or hi < 0):
        nearest = min(abs(lo), abs(hi)) * (100 if kind == "rate" else 1)
        d = min(MAX_DECIMALS, max(d, math.ceil(-math.log10(nearest))))
    return f"{fmt(centre, kind, True, d)} ({fmt(lo, kind, True, d)} to {fmt(hi, kind, True, d)})"


def change(e: Effect, m: Measure) -> str:
    """The central change and its 95% interval in the measure's natural terms."""
    if not math.isfinite(e.centre):
        return "n/a"
    if m.kind == "count" and math.isfinite(e.pct):
        return interval(e.pct, e.pct_lo, e.pct_hi, "pct")
    return interval(e.centre, e.lo, e.hi, m.kind)


def verdict(pc: PolicyComparison, m: Measure) -> str:
    """ "better", "worse", "unclear" or (the reoffending rate) "not comparable"."""
    if m is REOFFENDING and not pc.cohort.comparable:
        return "not comparable"
    return pc.effects[m.column].verdict


def shown(e: Effect, m: Measure) -> str:
    """The change a cell shows: for a ratio whose better is "closer to 1", the index before
    and after and the change in its distance from parity (which decides better)."""
    if m.better == "closer to 1" and e.distance is not None:
        d = e.distance
        return (
            f"{fmt(e.base, 'ratio')} to {fmt(e.policy, 'ratio')}; distance from parity "
            f"{interval(d.centre, d.lo, d.hi, 'ratio')}"
        )
    return change(e, m)


def cell(pc: PolicyComparison, m: Measure) -> str:
    """A headline cell: the change, its interval and how sure, or "not comparable"."""
    e = pc.effects[m.column]
    if m is REOFFENDING and not pc.cohort.comparable:
        return "not comparable (cohort changed): see true offences"
    if not math.isfinite(e.centre):
        return "n/a"
    v = e.verdict
    if v == "unclear":
        return f"{shown(e, m)}: no clear change"
    p = e.p_worse if v == "worse" else e.p_better
    return f"{shown(e, m)}: {v} ({sure(p)} sure)"


# -- the lines of one policy ------------------------------------------------------------------


def _measure_line(pc: PolicyComparison, m: Measure) -> str:
    e = pc.effects[m.column]
    name = m.label.split(" (")[0]
    if not math.isfinite(e.centre):
        return f"{name}: not in these results."
    if m is REOFFENDING and not pc.cohort.comparable:
        return (
            f"{name}: not comparable, because {pc.cohort.reason}; its change "
            f"({fmt(e.centre, 'rate', True)}) shows who is counted, not whether children "
            "reoffend less: judge the policy by true offences."
        )
    v = e.verdict
    what = shown(e, m)
    if v == "unclear":
        lean = "worse" if e.p_worse >= 0.5 else "better"
        p = e.p_worse if lean == "worse" else e.p_better
        return f"{name}: {what}, not clear ({sure(p)} sure it would be {lean})."
    p = e.p_worse if v == "worse" else e.p_better
    return f"{name}: {what}, {v}: we are {sure(p)} sure."


def policy_lines(pc: PolicyComparison, baseline: str, draws: int) -> list[str]:
    """A few lines a strategist can quote about one policy against the baseline."""
    lines = []
    if pc.description:
        lines.append(f'The question: what changes against {baseline} with "{pc.description}"?')
    if pc.pairs == 0:
        return [*lines, "No pair of finished runs to compare."]
    groups: dict[str, list[str]] = {"worse": [], "better": [], "unclear": []}
    for m in HEADLINE:
        v = verdict(pc, m)
        if v in groups:
            groups[v].append(SPOKEN.get(m.column, m.short.lower()))
    summary = [f"{v} on {_and(groups[v])}" for v in ("worse", "better") if groups[v]]
    if summary:
        summary[0] = "be " + summary[0]
    if groups["unclear"]:
        summary.append(f"make no clear change in {_and(groups['unclear'])}")
    lines.append(f"Against {baseline}, {pc.name} would " + "; ".join(summary) + ".")
    lines += [_measure_line(pc, m) for m in HEADLINE if m not in (COST, NET_COST)]
    lines.append(_spending_line(pc))
    lines.append(_net_cost_line(pc))
    if pc.runaway_pairs:
        lines.append(
            f"{pc.runaway_pairs} paired futures were left out because offending ran away "
            f"(in {pc.runaway_policy_only} of them only under {pc.name})."
        )
    if draws == 0:
        lines.append(
            "These intervals carry chance only: the runs used one set of parameters, so "
            "they leave out what we do not know about behaviour and programme effects."
        )
    return lines


def _spending_line(pc: PolicyComparison) -> str:
    e = pc.effects[COST.column]
    if not math.isfinite(e.centre):
        return "Spending: not in these results."
    span = f"95% interval {fmt(e.lo, 'money', True)} to {fmt(e.hi, 'money', True)}"
    if e.verdict == "unclear":
        text = (
            f"Programme and justice spending: {fmt(e.centre, 'money', True)} a year ({span}), "
            "no clear change"
        )
    else:
        word = "cost" if e.centre > 0 else "save"
        text = (
            f"It would {word} {fmt(abs(e.centre), 'money')} a year in programme and justice "
            f"spending ({span})"
        )
    programme = pc.effects.get(PROGRAMME_COST)
    justice = pc.effects.get(JUSTICE_COST)
    if programme is not None and justice is not None and math.isfinite(programme.centre):
        text += (
            f"; programmes {fmt(programme.centre, 'money', True)}, justice pathway "
            f"{fmt(justice.centre, 'money', True)}"
        )
    if math.isfinite(pc.spending_assumed_share):
        text += (
            f"; {100 * pc.spending_assumed_share:.0f}% of that change is priced with assumed "
            "unit costs"
        )
    return text + "."


def _net_cost_line(pc: PolicyComparison) -> str:
    e = pc.effects[NET_COST.column]
    if not math.isfinite(e.centre):
        return (
            "Net social cost: not in these results (runs made before the cost of crime was "
            "recorded)."
        )
    more = "more" if e.centre > 0 else "less"
    lo, hi = pc.net_cost_band
    band = ""
    if math.isfinite(lo) and math.isfinite(hi):
        band = (
            f"; {fmt(lo, 'money', True)} to {fmt(hi, 'money', True)} with every crime unit "
            "cost at the low or high end of its band"
        )
    v = e.verdict
    how = (
        f"we are {sure(e.p_worse if e.centre > 0 else e.p_better)} sure it would cost "
        f"society {more}"
        if v != "unclear"
        else "no clear change"
    )
    return (
        f"Net social cost (spending plus the offences' cost to society, Home Office unit "
        f"costs, most mapped by assumption): {fmt(e.centre, 'money', True)} a year (95% "
        f"interval {fmt(e.lo, 'money', True)} to {fmt(e.hi, 'money', True)}{band}): {how}."
    )


def _and(items: Sequence[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


# -- rankings -------------------------------------------------------------------------------


def rank_by_net_cost(comps: Mapping[str, PolicyComparison]) -> list[list[str]]:
    """Rows (rank, policy, change in net social cost, interval, how sure it saves), cheapest
    for society first; policies without a net social cost last."""

    def key(pc: PolicyComparison) -> float:
        c = pc.effects[NET_COST.column].centre
        return c if math.isfinite(c) else math.inf

    rows = []
    for i, pc in enumerate(sorted(comps.values(), key=key), start=1):
        e = pc.effects[NET_COST.column]
        rows.append(
            [
                str(i),
                pc.name,
                fmt(e.centre, "money", True),
                f"{fmt(e.lo, 'money', True)} to {fmt(e.hi, 'money', True)}",
                sure(e.p_better),
                e.verdict,
            ]
        )
    return rows


def rank_by_harm_per_pound(comps: Mapping[str, PolicyComparison]) -> list[list[str]]:
    """Rows (rank, policy, harm averted, extra spending, harm averted per GBP 1m, reading).

    Order: policies that save money and avert harm; then those that cost money to avert
    harm, most harm averted per pound first; then those that save money but add harm,
    least harm added per pound saved first; then those that cost money and add harm.
    Central figures (medians); their intervals are in the evidence tables.
    """
    groups: dict[int, list[tuple[float, PolicyComparison, str, float]]] = {
        0: [],
        1: [],
        2: [],
        3: [],
        4: [],
    }
    for pc in comps.values():
        averted = -pc.effects[HARM.column].centre
        cost = pc.effects[COST.column].centre
        if not (math.isfinite(averted) and math.isfinite(cost)):
            groups[4].append((0.0, pc, "not in these results", math.nan))
            continue
        per_m = averted / cost * 1e6 if cost else math.inf
        if averted == 0 and cost == 0:
            groups[4].append((0.0, pc, "no change", math.nan))
        elif averted >= 0 and cost <= 0:
            groups[0].append((cost, pc, "saves money and averts harm", per_m))
        elif averted >= 0:
            groups[1].append((-per_m, pc, "costs money to avert harm", per_m))
        elif cost < 0:
            groups[2].append((per_m, pc, "saves money but adds harm", per_m))
        else:
            groups[3].append((cost, pc, "costs money and adds harm", per_m))
    rows = []
    for g in range(5):
        for _, pc, reading, per_m in sorted(groups[g], key=lambda t: t[0]):
            averted = -pc.effects[HARM.column].centre
            # A ratio only for a trade-off: harm bought or given up per pound.
            per = f"{abs(per_m):,.0f} days" if g in (1, 2) and math.isfinite(per_m) else ""
            rows.append(
                [
                    str(len(rows) + 1),
                    pc.name,
                    fmt(averted, "count", True),
                    fmt(pc.effects[COST.column].centre, "money", True),
                    per,
                    reading,
                ]
            )
    return rows
