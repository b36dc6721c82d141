"""A finished decision for the browser: ``DIR/decision.json`` read, checked and put in words.

``yjsim decide DECISION.toml --out DIR`` (sim/decision.py) writes ``DIR/decision.json``;
the browser's decision page (sim/viz/decision_page.py) shows it. This module holds what
the page needs without solara, as plain functions the tests call directly:

- :func:`load_decision_folder`: the folder read and checked against the schema of
  ``decision.json`` (:class:`DecisionAnswer`, the keys the page reads); a folder that is
  not a finished decision raises :class:`DecisionFolderError`, one line naming the path
  and what is expected;
- :func:`frontier_stops`: the portfolios a visitor moves along, cheapest first;
- :func:`portfolio_text`: what one portfolio buys, in words;
- :func:`recommendation`, :func:`losing_boxes`, :func:`evppi_rows`: the recommendation, when
  it loses and what to find out next, phrased as the report phrases them
  (sim/decision_report.py);
- :func:`frontier_png`: the frontier of cost against harm averted, the selected portfolio
  marked.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from sim.decision_report import (
    box_text,
    gbp,
    levers_text,
    number,
    recommendation_paragraphs,
)
from sim.tomlfile import InputError, describe_error

DECISION_FILE = "decision.json"
BASE = "base"  # the portfolio that changes nothing (sim/decision.py's BASE)
EXPECTED = "expected a finished decision folder (yjsim decide DECISION.toml --out DIR)"
# The largest decision.json read: a design has at most 2,000 portfolios (sim/decision.py's
# MAX_PORTFOLIOS) of about 2 kB each in the file, so 4 MB; 64 MB leaves room for more
# objectives and keys and still refuses a file that is not a decision's answer.
MAX_BYTES = 64 * 2**20
EVPPI_ROWS = 10  # the parameters and groups listed under "what to find out next"


class DecisionFolderError(InputError):
    """A folder that is not a finished decision: no decision.json, broken JSON, wrong schema."""


# -- the schema of decision.json, as far as the page reads it -----------------------------
# Strict: a number written as a string is an error, not a number; keys the page does not
# read are ignored, so a decision.json with more in it still opens.


class _Part(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


class Interval(_Part):
    """A median and 90% interval (5%, 95%) of a portfolio's paired differences."""

    low: float
    median: float
    high: float


class Portfolio(_Part):
    """One portfolio of the design (or ``base``), as the emulator and the design runs see it."""

    name: str
    levers: dict[str, bool | int | float | str]
    cost_gbp: float
    within_budget: bool
    feasible: bool
    rank: int | None
    expected: dict[str, float]
    observed_interval: dict[str, Interval | None]
    probability_best: float | None
    expected_regret: float | None

    @field_validator("observed_interval", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        # An objective with no finite run is written as {} (sim/decision.py).
        if isinstance(value, dict):
            return {k: None if v == {} else v for k, v in value.items()}
        return value

    def interval(self, objective: str) -> Interval | None:
        """The design runs' median and 90% interval of ``objective``, if any."""
        return self.observed_interval.get(objective)


class FrontierPoint(_Part):
    """A portfolio no cheaper one beats on harm averted (``<ranked_by>_averted`` is checked
    by :class:`DecisionAnswer`)."""

    model_config = ConfigDict(strict=True, extra="allow", frozen=True)
    name: str
    cost_gbp: float


class VerifiedObjective(_Part):
    """One objective's paired differences over the verification runs."""

    mean: float
    median: float
    low: float
    high: float


class VerifiedPortfolio(_Part):
    """A leading portfolio as real paired runs on fresh draws found it."""

    cost_gbp: float
    runs: int
    feasible: bool
    why_not: str
    probability_best: float | None = None
    expected_regret: float | None = None
    objectives: dict[str, VerifiedObjective] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _gather_objectives(cls, data: Any) -> Any:
        # decision.json writes each objective's entry (a table) beside the portfolio's own
        # keys; an objective without a finite run has none.
        if not isinstance(data, dict):
            return data
        own = set(cls.model_fields)
        kept = {k: v for k, v in data.items() if k in own}
        kept["objectives"] = {k: v for k, v in data.items() if k not in own and isinstance(v, dict)}
        return kept

    @field_validator("probability_best", "expected_regret", mode="before")
    @classmethod
    def _absent_not_null(cls, value: Any) -> Any:
        # Written only where scored, and then a number (the report formats it as one).
        if value is None:
            raise ValueError("expected a number (the key is left out where not scored)")
        return value


class BaseScore(_Part):
    """Today's policies among the verified options: how often best, and the regret."""

    probability_best: float | None = None
    expected_regret: float | None = None


class Verification(_Part):
    portfolios: dict[str, VerifiedPortfolio]
    base: BaseScore = BaseScore()
    draws: int


class Restrict(_Part):
    parameter: str
    low: float
    high: float


class Box(_Part):
    """A PRIM box: where (in the uncertain parameters) the recommendation loses."""

    restricts: list[Restrict]
    coverage: float
    density: float
    mass: float


class Discovery(_Part):
    share_beaten: float
    draws: int
    boxes: list[Box]
    beaten_by: dict[str, float]


class Evppi(_Part):
    """The expected value of partial perfect information, per objective valued (extra keys:
    each a table of parameter or group -> value, with ``all``, the EVPI)."""

    model_config = ConfigDict(strict=True, extra="allow", frozen=True)
    draws: int
    options: list[str]

    def values(self, objective: str) -> dict[str, float] | None:
        """Parameter (or group) -> EVPPI for ``objective``, if it was valued."""
        found = (self.model_extra or {}).get(objective)
        return found if isinstance(found, dict) else None


class DecisionAnswer(_Part):
    """The keys of ``decision.json`` the page reads (README: decision.json)."""

    name: str
    budget_gbp: float
    ranked_by: str
    objectives: dict[str, str] = Field(min_length=1)
    recommended: str | None
    portfolios: list[Portfolio] = Field(min_length=1)
    frontier: list[FrontierPoint]
    verification: Verification | None = None
    scenario_discovery: Discovery | None = None
    evppi: Evppi | None = None

    @model_validator(mode="after")
    def _consistent(self) -> DecisionAnswer:
        names = [p.name for p in self.portfolios]
        if len(set(names)) != len(names):
            raise ValueError("portfolios: two portfolios have the same name")
        if self.ranked_by not in self.objectives:
            raise ValueError(f"ranked_by: {self.ranked_by!r} is not among the objectives")
        known = set(names)
        for p in self.portfolios:
            missing = [o for o in self.objectives if o not in p.expected]
            if missing:
                raise ValueError(f"portfolios: {p.name!r} has no expected {missing[0]}")
        if self.recommended is not None and self.recommended not in known:
            raise ValueError(f"recommended: {self.recommended!r} is not among the portfolios")
        averted = f"{self.ranked_by}_averted"
        for f in self.frontier:
            if f.name not in known:
                raise ValueError(f"frontier: {f.name!r} is not among the portfolios")
            value = (f.model_extra or {}).get(averted)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"frontier: {f.name!r} has no number {averted}")
        if self.verification is not None:
            for name in self.verification.portfolios:
                if name not in known:
                    raise ValueError(f"verification: {name!r} is not among the portfolios")
        if self.evppi is not None:
            for objective, table in (self.evppi.model_extra or {}).items():
                if not isinstance(table, dict) or "all" not in table:
                    raise ValueError(f"evppi: {objective} has no 'all' (the EVPI)")
                if not all(isinstance(v, int | float) for v in table.values()):
                    raise ValueError(f"evppi: {objective} holds a value that is not a number")
        return self

    def portfolio(self, name: str) -> Portfolio:
        return next(p for p in self.portfolios if p.name == name)

    def averted(self, name: str) -> float:
        """The primary objective averted a year by ``name`` (the emulator's expectation)."""
        return -self.portfolio(name).expected[self.ranked_by]


@dataclass(frozen=True)
class OpenDecision:
    """A finished decision folder: its path, the checked answer and the file's content
    (which the report's phrasing reads)."""

    folder: Path
    answer: DecisionAnswer
    raw: dict[str, Any]


def load_decision_folder(folder: str | Path) -> OpenDecision:
    """Read and check ``folder/decision.json``.

    Raises :class:`DecisionFolderError` (one line naming the path and what is expected)
    for a folder that does not exist, has no decision.json (or one still being written),
    or holds one that is not JSON or not the answer of ``yjsim decide``.
    """
    if not str(folder).strip():
        raise DecisionFolderError("(no folder named)", "", EXPECTED)
    try:
        folder = Path(folder).expanduser()
    except RuntimeError:  # ~someone who has no home here: the name as written
        folder = Path(folder)
    if not folder.is_dir():
        what = "not a folder" if folder.exists() else "no such folder"
        raise DecisionFolderError(folder, "", f"{what}; {EXPECTED}")
    path = folder / DECISION_FILE
    if not path.is_file():
        raise DecisionFolderError(
            folder,
            "",
            f"no {DECISION_FILE} in it (a decision writes it when it finishes); {EXPECTED}",
        )
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise DecisionFolderError(
                path, "", f"{size:,} bytes, larger than a decision's answer ({MAX_BYTES:,} at most)"
            )
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        why = e.strerror if isinstance(e, OSError) and e.strerror else "not UTF-8 text"
        raise DecisionFolderError(path, "", f"cannot be read ({why}); {EXPECTED}") from None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as e:
        raise DecisionFolderError(
            path, "", f"not valid JSON (line {e.lineno}, column {e.colno}: {e.msg}); {EXPECTED}"
        ) from None
    except RecursionError:
        raise DecisionFolderError(path, "", f"nested too deeply to be read; {EXPECTED}") from None
    if not isinstance(raw, dict):
        raise DecisionFolderError(path, "", f"expected a JSON object; {EXPECTED}")
    try:
        answer = DecisionAnswer.model_validate(raw)
    except ValidationError as e:
        key, message = describe_error(e, DecisionAnswer)
        message = _short(message)
        raise DecisionFolderError(
            path, key, f"{message} (not the answer of yjsim decide)"
        ) from None
    return OpenDecision(folder, answer, raw)


def _short(message: str, limit: int = 200) -> str:
    """One line, not too long (a message may quote a whole value from the file)."""
    message = " ".join(message.split())
    return message if len(message) <= limit else message[: limit - 3] + "..."


def open_decision(folder: str | Path) -> tuple[OpenDecision | None, str]:
    """(the decision, "") or (None, the one-line message): for the page, which never raises."""
    try:
        return load_decision_folder(folder), ""
    except DecisionFolderError as e:
        return None, str(e)


# -- what the page says ---------------------------------------------------------------------


def frontier_stops(d: OpenDecision) -> list[str]:
    """The portfolios the page's slider moves along: the frontier, cheapest first, with the
    recommendation put in its place by cost if the frontier lacks it."""
    a = d.answer
    names = [f.name for f in a.frontier]
    if a.recommended is not None and a.recommended not in names:
        names.append(a.recommended)
    cost = {p.name: p.cost_gbp for p in a.portfolios}
    return sorted(dict.fromkeys(names), key=lambda n: (cost[n], n))


def first_stop(d: OpenDecision) -> int:
    """Where the slider starts: at the recommendation, else at the cheapest."""
    stops = frontier_stops(d)
    return stops.index(d.answer.recommended) if d.answer.recommended in stops else 0


def recommendation(d: OpenDecision) -> list[str]:
    """The recommendation in plain language: the paragraphs that open the report."""
    return recommendation_paragraphs(d.raw)


@dataclass(frozen=True)
class PortfolioText:
    """What one portfolio buys, in words."""

    name: str
    heading: str  # the name, and "(recommended)" for the recommendation
    levers: str  # its lever values in words
    recommended: bool
    lines: list[str]


def _spend(cost: float) -> str:
    if cost >= 0:
        return f"costs {gbp(cost)} a year more than today's programmes"
    return f"saves {gbp(-cost)} a year against today's programmes"


def _change(label: str, e: Interval | VerifiedObjective, where: str) -> str:
    return (
        f"{label}: changed by {number(e.median)} (median; 90% of runs between "
        f"{number(e.low)} and {number(e.high)}) in {where}"
    )


def portfolio_text(d: OpenDecision, name: str) -> PortfolioText:
    """What portfolio ``name`` buys: its levers in words, its cost against the budget, each
    objective's median and interval (from the verification runs where it was verified,
    else the design's runs), its probability of being best and expected regret, and
    whether it is the recommendation."""
    a = d.answer
    p = a.portfolio(name)
    primary = a.ranked_by
    label = a.objectives[primary]
    checked = a.verification.portfolios.get(name) if a.verification else None
    is_best = name == a.recommended
    lines: list[str] = []
    if is_best:
        lines.append(
            "The recommendation: the best verified portfolio within budget and constraints."
        )
    elif a.recommended is not None:
        lines.append(f"Not the recommendation (that is {a.recommended}).")
    if name == BASE:
        lines.append(
            "Today's policies, unchanged: the yardstick every portfolio is paired with, so "
            "it costs nothing more and changes nothing."
        )
    else:
        cost = checked.cost_gbp if checked else p.cost_gbp
        budget = "within" if cost <= a.budget_gbp else "over"
        lines.append(f"It {_spend(cost)}: {budget} the budget of {gbp(a.budget_gbp)} a year more.")
        lines.append(
            f"{primary} averted a year (the emulator's expectation over the design's draws): "
            f"{number(a.averted(name))}."
        )
        for objective, olabel in a.objectives.items():
            if checked and objective in checked.objectives:
                where = f"{checked.runs} verification runs"
                line = _change(olabel, checked.objectives[objective], where)
            elif (e := p.interval(objective)) is not None:
                line = _change(olabel, e, "the design's runs")
            else:
                line = f"{olabel}: no finished run measured it"
            line += f"; the emulator expects {number(p.expected.get(objective))}."
            lines.append(line)
    if checked:
        if not checked.feasible:
            lines.append(f"Set aside by the verification runs: {checked.why_not}.")
        if checked.probability_best is not None:
            lines.append(
                _odds(checked.probability_best, checked.expected_regret, label, checked.runs)
            )
        elif checked.feasible:
            lines.append("The verification runs did not score it against the others.")
    elif name == BASE and a.verification and a.verification.base.probability_best is not None:
        b = a.verification.base
        lines.append(_odds(b.probability_best, b.expected_regret, label, None))
    else:
        if not p.feasible:
            lines.append("Not within budget and constraints (the emulator's expectation).")
        words = "Not verified by real paired runs"
        if p.probability_best is not None:
            words += (
                f"; over the design's draws the emulator puts its probability of being best "
                f"at {p.probability_best:.0%} (expected regret {number(p.expected_regret)}, "
                f"in {label})"
            )
        lines.append(words + ".")
    heading = f"{name} (recommended)" if is_best else name
    return PortfolioText(name, heading, levers_text({"levers": p.levers}), is_best, lines)


def _odds(p_best: float, regret: float | None, label: str, runs: int | None) -> str:
    where = f"the {runs} verification runs" if runs else "the verification runs"
    return (
        f"Best of the options within budget and constraints (today's policies among them) in "
        f"{p_best:.0%} of {where}; expected regret {number(regret)} (in {label})."
    )


def losing_boxes(d: OpenDecision) -> list[str]:
    """When the recommendation loses: each PRIM box in words (none if discovery did not run)."""
    found = d.answer.scenario_discovery
    if found is None:
        return []
    if not found.boxes:
        return ["PRIM found no simple box of parameter values where it loses."]
    return [box_text(box) for box in d.raw["scenario_discovery"]["boxes"]]


def evppi_rows(d: OpenDecision, top: int = EVPPI_ROWS) -> tuple[str, list[tuple[str, str]]]:
    """What to find out next: (the EVPI in words, the ``top`` parameters or groups by EVPPI
    on the primary objective, highest first, as (name, value in words))."""
    a = d.answer
    values = a.evppi.values(a.ranked_by) if a.evppi else None
    if not values:
        return "", []
    label = a.objectives[a.ranked_by]
    ranked = sorted(((k, v) for k, v in values.items() if k != "all"), key=lambda kv: -kv[1])
    evpi = (
        f"Knowing every uncertain parameter perfectly is worth {number(values['all'])} {label} "
        f"averted a year in expectation (over {a.evppi.draws:,} draws); each parameter or "
        "group below is worth this much alone."
    )
    return evpi, [(k, number(v)) for k, v in ranked[:top]]


# -- the figure ------------------------------------------------------------------------------

FIGSIZE = (7.0, 4.5)  # inches, as the report's frontier.png
DPI = 90  # a 630 x 405 px image: the page's left column


def frontier_png(d: OpenDecision, selected: str | None) -> bytes:
    """The frontier of cost against harm averted (PNG): every portfolio, the frontier, the
    budget, the recommendation, and ``selected`` ringed."""
    a = d.answer
    primary = a.ranked_by
    fig = Figure(figsize=FIGSIZE, dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.scatter(
        [p.cost_gbp / 1e3 for p in a.portfolios],
        [a.averted(p.name) for p in a.portfolios],
        color="#999",
        s=18,
        label="portfolios (emulator's expectation)",
    )
    front = sorted(a.frontier, key=lambda f: (f.cost_gbp, f.name))
    ax.plot(
        [f.cost_gbp / 1e3 for f in front],
        [a.averted(f.name) for f in front],
        color="#1f5fa8",
        marker="o",
        label="frontier",
    )
    if a.recommended is not None:
        best = a.portfolio(a.recommended)
        ax.scatter(
            [best.cost_gbp / 1e3],
            [a.averted(best.name)],
            color="#c0392b",
            s=80,
            zorder=3,
            label=f"recommended ({best.name})",
        )
    if selected is not None:
        chosen = a.portfolio(selected)
        x, y = chosen.cost_gbp / 1e3, a.averted(selected)
        ax.scatter(
            [x], [y], s=260, facecolors="none", edgecolors="#111", linewidths=2, zorder=4,
            label=f"selected ({selected})",
        )  # fmt: skip
        ax.annotate(selected, (x, y), xytext=(8, -14), textcoords="offset points", fontsize=9)
    ax.axvline(a.budget_gbp / 1e3, color="#c0392b", ls="--", lw=1, label="budget")
    ax.axhline(0, color="#444", lw=0.6)
    ax.set_xlabel("cost above today's programme spend (GBP thousand a year)")
    ax.set_ylabel(f"{primary} averted a year")
    ax.legend(fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
