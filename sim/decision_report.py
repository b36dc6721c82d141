"""The answer a strategist reads: ``DIR/report/index.html`` and ``index.md`` of a decision.

Written from ``DIR/decision.json`` (sim/decision.py) alone: the recommendation in plain
language first, then the frontier of cost against harm averted (PNG), the leading
portfolios (the design's and the searched ones) as the verification runs found them,
when the recommendation loses (PRIM boxes in words), what is worth finding out next
(EVPPI), and the emulator's accuracy.
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from sim.results import write_text

REPORT = "report"


def gbp(x: float) -> str:
    sign = "-" if x < 0 else ""
    x = abs(x)
    if x >= 1e6:
        return f"{sign}GBP {x / 1e6:.2f}m"
    if x >= 1e3:
        return f"{sign}GBP {x / 1e3:.0f}k"
    return f"{sign}GBP {x:.0f}"


def number(x: float | None) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    return f"{x:,.3g}" if abs(x) < 100 else f"{x:,.0f}"


def levers_text(p: dict[str, Any]) -> str:
    if not p.get("levers"):
        return "no change (today's policies)"
    return ", ".join(f"{k.removeprefix('interventions.')} = {v}" for k, v in p["levers"].items())


class _Writer:
    """The same content as HTML and Markdown."""

    def __init__(self, title: str) -> None:
        self.html = [
            "<!doctype html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>{html.escape(title)}</title>",
            "<style>body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;"
            "padding:0 1em;line-height:1.45}table{border-collapse:collapse}th,td{border:1px "
            "solid #ccc;padding:0.3em 0.6em;text-align:left}th{background:#f2f2f2}"
            "img{max-width:100%}</style></head><body>",
            f"<h1>{html.escape(title)}</h1>",
        ]
        self.md = [f"# {title}", ""]

    def heading(self, text: str) -> None:
        self.html.append(f"<h2>{html.escape(text)}</h2>")
        self.md += [f"## {text}", ""]

    def para(self, text: str) -> None:
        self.html.append(f"<p>{html.escape(text)}</p>")
        self.md += [text, ""]

    def bullets(self, items: list[str]) -> None:
        self.html.append("<ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in items) + "</ul>")
        self.md += [f"- {i}" for i in items] + [""]

    def image(self, name: str, alt: str) -> None:
        self.html.append(f'<img src="{html.escape(name)}" alt="{html.escape(alt)}">')
        self.md += [f"![{alt}]({name})", ""]

    def table(self, header: list[str], rows: list[list[str]]) -> None:
        head = "".join(f"<th>{html.escape(c)}</th>" for c in header)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows
        )
        self.html.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        self.md += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        self.md += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in rows]
        self.md.append("")


def _frontier_png(answer: dict[str, Any], path: Path) -> None:
    primary = answer["ranked_by"]
    fig = Figure(figsize=(7, 4.5))
    ax = fig.add_subplot()
    pts = answer["portfolios"]
    design = [p for p in pts if p.get("origin") != "search"]
    ax.scatter(
        [p["cost_gbp"] / 1e3 for p in design],
        [-p["expected"][primary] for p in design],
        color="#999",
        s=18,
        label="portfolios (emulator's expectation)",
    )
    searched = [p for p in pts if p.get("origin") == "search"]
    if searched:
        ax.scatter(
            [p["cost_gbp"] / 1e3 for p in searched],
            [-p["expected"][primary] for p in searched],
            color="#e67e22",
            marker="D",
            s=30,
            zorder=4,  # above the frontier's markers, which they often are
            label="searched portfolios (cost predicted)",
        )
    front = answer["frontier"]
    ax.plot(
        [f["cost_gbp"] / 1e3 for f in front],
        [f[f"{primary}_averted"] for f in front],
        color="#1f5fa8",
        marker="o",
        label="frontier",
    )
    best = next((p for p in pts if p["name"] == answer["recommended"]), None)
    if best is not None:
        ax.scatter(
            [best["cost_gbp"] / 1e3],
            [-best["expected"][primary]],
            color="#c0392b",
            s=80,
            zorder=3,
            label=f"recommended ({best['name']})",
        )
    ax.axvline(answer["budget_gbp"] / 1e3, color="#c0392b", ls="--", lw=1, label="budget")
    ax.axhline(0, color="#444", lw=0.6)
    ax.set_xlabel("cost above today's programme spend (GBP thousand a year)")
    ax.set_ylabel(f"{primary} averted a year")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def share(x: float) -> str:
    """A share as a whole percentage, without rounding a few in a thousand to none."""
    return "under 1%" if 0 < x < 0.005 else f"{x:.0%}"


def recommendation_paragraphs(answer: dict[str, Any]) -> list[str]:
    """The recommendation in plain language (``answer``: ``decision.json``'s content): what
    to do and what it buys, what was set aside, when it loses and what to find out first.

    The paragraphs that open the report, and the browser's decision page (sim/viz).
    """
    out: list[str] = []
    primary = answer["ranked_by"]
    label = answer["objectives"][primary]
    by_name = {p["name"]: p for p in answer["portfolios"]}
    best = answer["recommended"]
    checked = answer.get("verification") or {}
    if best is None:
        out.append("No portfolio of the design is within the budget and the constraints.")
    elif best == "base":
        out.append(
            f"Keep today's policies: no portfolio of the design within "
            f"{gbp(answer['budget_gbp'])} a year more did better on {label} in the "
            "verification runs."
        )
    else:
        p = by_name[best]
        v = checked.get("portfolios", {}).get(best, {})
        # The verification runs' measured spend where there are any: a searched
        # portfolio's own cost_gbp is the cost emulator's prediction.
        cost = v.get("cost_gbp", p["cost_gbp"])
        spend = (
            f"costs {gbp(cost)} a year more than"
            if cost >= 0
            else f"saves {gbp(-cost)} a year against"
        )
        line = (
            f"Recommended: {best}: {levers_text(p)}. It {spend} today's programmes (the budget "
            f"is {gbp(answer['budget_gbp'])} a year more)."
        )
        if primary in v:
            e = v[primary]
            line += (
                f" In {v['runs']} verification runs its {label} changed by {number(e['median'])}"
                f" (median; 90% of runs between {number(e['low'])} and {number(e['high'])})"
            )
            if "probability_best" in v:
                line += (
                    f", and it was the best of the options within budget and constraints "
                    f"(today's policies among them) in {v['probability_best']:.0%} of them"
                )
            line += "."
        out.append(line)
        passed = [
            f"{n} was set aside: {v['why_not']}."
            for n, v in checked.get("portfolios", {}).items()
            if not v.get("feasible", True)
        ]
        if passed:
            out.append(" ".join(passed))
    found = answer.get("scenario_discovery")
    if found:
        margin = found.get("margin") or 0
        by = (
            f" by more than its own error on held-back runs ({number(margin)} {label})"
            if margin
            else ""
        )
        words = [
            f"Over {found['draws']:,} draws of the uncertain parameters the emulator says "
            f"the recommendation is beaten{by} in {share(found['share_beaten'])} of them"
        ]
        if found["beaten_by"]:
            top = max(found["beaten_by"], key=found["beaten_by"].get)
            words.append(f"most often by {top} ({share(found['beaten_by'][top])})")
        if margin and "share_beaten_at_all" in found:
            words.append(f"and by any margin in {share(found['share_beaten_at_all'])}")
        out.append(", ".join(words) + ".")
    value = (answer.get("evppi") or {}).get(primary)
    if value:
        ranked = [(k, v) for k, v in value.items() if k != "all" and v > 0]
        if ranked:
            k, v = ranked[0]
            out.append(
                f"Worth finding out first: {k} (perfect knowledge of it is worth {number(v)} "
                f"{label} averted a year in expectation, of {number(value['all'])} for "
                "knowing everything)."
            )
    return out


def box_text(box: dict[str, Any]) -> str:
    """One PRIM box of ``scenario_discovery`` in words: where the recommendation loses."""
    where = " and ".join(
        f"{r['parameter']} from {number(r['low'])} to {number(r['high'])}" for r in box["restricts"]
    )
    return (
        f"When {where}: it loses in {box['density']:.0%} of the draws there "
        f"(density), which hold {box['coverage']:.0%} of all the draws where it "
        f"loses (coverage)."
    )


def write_decision_report(out: str | Path) -> Path:
    """Write ``out/report/index.html``, ``index.md`` and ``frontier.png``; return the HTML."""
    out = Path(out)
    answer = json.loads((out / "decision.json").read_text())
    folder = out / REPORT
    folder.mkdir(exist_ok=True)
    primary = answer["ranked_by"]
    label = answer["objectives"][primary]
    by_name = {p["name"]: p for p in answer["portfolios"]}
    doc = _Writer(f"Decision: {answer['name']}")
    doc.heading("The recommendation")
    for line in recommendation_paragraphs(answer):
        doc.para(line)
    checked = answer.get("verification") or {}
    found = answer.get("scenario_discovery")
    value = (answer.get("evppi") or {}).get(primary)
    search = answer.get("search") or {}
    if search.get("portfolios"):
        first = by_name[search["portfolios"][0]]
        design_best = next(
            (p for p in answer["portfolios"] if p.get("origin") == "design" and p["rank"]), None
        )
        line = (
            f"Beyond the design's portfolios, a search of the levers on the emulator "
            f"(NSGA-II, {search.get('evaluations', 0):,} portfolios tried) proposed "
            f"{', '.join(search['portfolios'])}; the first, {first['name']} "
            f"({levers_text(first)}, predicted to cost {gbp(first['cost_gbp'])} a year more), "
            f"is expected to change {label} by {number(first['expected'][primary])}"
        )
        if design_best is not None:
            line += (
                f", against {number(design_best['expected'][primary])} for the design's best "
                f"within budget ({design_best['name']})"
            )
        doc.para(line + ".")
    _frontier_png(answer, folder / "frontier.png")
    doc.heading("Cost against harm averted")
    doc.image("frontier.png", "the frontier of cost against harm averted")
    if checked.get("portfolios"):
        doc.heading("The leading portfolios, verified by real paired runs")
        header = ["portfolio", "levers", "cost a year"]
        objectives = list(answer["objectives"])
        header += [f"{o}: median [5%, 95%]" for o in objectives]
        header += ["within budget and constraints", "P(best)", "expected regret"]
        header += ["emulator agrees"]
        rows = []
        for name, v in checked["portfolios"].items():
            searched = by_name[name].get("origin") == "search"
            row = [f"{name} (searched)" if searched else name, levers_text(by_name[name])]
            row.append(gbp(v["cost_gbp"]))
            for o in objectives:
                e = v.get(o)
                row.append(
                    f"{number(e['median'])} [{number(e['low'])}, {number(e['high'])}]"
                    if e
                    else "n/a"
                )
            agree = [o for o in objectives if v.get(o, {}).get("agrees_with_emulator") is False]
            row += [
                "yes" if v.get("feasible", True) else f"no: {v['why_not']}",
                f"{v['probability_best']:.0%}" if "probability_best" in v else "n/a",
                number(v.get("expected_regret")),
                "yes" if not agree else "not on " + ", ".join(agree),
            ]
            rows.append(row)
        doc.table(header, rows)
    if found:
        doc.heading("When would it lose?")
        if not found["boxes"]:
            doc.para("PRIM found no simple box of parameter values where it loses.")
        items = [box_text(box) for box in found["boxes"]]
        if items:
            doc.bullets(items)
    if value:
        doc.heading("What to find out next")
        doc.table(
            ["parameter", f"EVPPI ({label} a year)"],
            [[k, number(v)] for k, v in list(value.items())[:10]],
        )
    doc.heading("How good is the emulator?")
    acc = dict(answer["emulator"]["accuracy"])
    if answer["emulator"].get("cost_accuracy"):  # the cost's emulator, on the levers alone
        acc["cost (GBP a year)"] = answer["emulator"]["cost_accuracy"]
    doc.table(
        ["objective", "R^2 on held-back portfolios", "RMSE", "SD of the differences", "runs"],
        [
            [o, number(a["r2"]), number(a["rmse"]), number(a["sd"]), str(a["n_held_back"])]
            for o, a in acc.items()
        ],
    )
    write_text(folder / "index.md", "\n".join(doc.md) + "\n")
    target = folder / "index.html"
    write_text(target, "\n".join([*doc.html, "</body></html>"]) + "\n")
    return target
