"""The search of ``yjsim decide`` (sim/decision.py, step 4): portfolios the design does
not hold, found on the emulators.

The design is a Latin hypercube of ``portfolios`` points; the best mix within budget is
rarely one of them. Once the emulators are fitted, NSGA-II (pymoo) searches the whole
lever space for the portfolios that trade the primary objective against cost best:

- two objectives, both minimised: the emulator's expected paired difference of the
  primary objective (the mean of its predictions over the design's parameter points,
  as the ranking takes it) and the predicted cost (the cost emulator on the levers);
  they conflict, since more programmes avert more and cost more;
- constraints (``<= 0``): the predicted cost within the budget, and each constraint's
  objective risen by at most its ``rise_at_most`` (expected). Each is divided by its
  spread over the design's runs, so that pymoo's sum of violations, which orders
  infeasible portfolios, weighs pounds and children alike;
- mixed variables as pymoo handles them (pymoo.core.mixed): a range of whole numbers is
  an ``Integer`` (SBX crossover and polynomial mutation on the real line, then
  rounded), a range of reals a ``Real`` (SBX and polynomial mutation), a list of
  choices a ``Choice`` (uniform crossover, and mutation to another choice at random,
  since choices such as the gangs team's modes have no order that an encoding as
  numbers would imply); NSGA-II's binary tournament and rank-and-crowding survival
  choose among them. A real lever is rounded to four significant digits of its range
  before it is evaluated (a range of 900,000 to hundreds), so a scenario file says
  523400.0, not 523412.8734;
- seeded from the decision's seed (pymoo's own generator, :func:`search_seed`), so the
  same decision and runs give the same candidates.

The candidates are the final population's Pareto front within budget and constraints,
best on the primary objective first, less any portfolio the design already holds, the
first ``[search] candidates`` of them. The front itself is recorded too (the frontier
of cost against the primary objective beyond the design's points).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from sim.decision import Decision, Emulators, Lever

# The search's stream: pymoo's seed is drawn from (decision seed, this salt), so that it
# is not the Latin hypercube's own (which is seeded with the decision's seed itself).
SEARCH_SALT = 20  # issue 20; a new salt for a new stream, never reused
# A real lever's value is rounded to 10^(floor(log10(range)) - 3): four significant
# digits of its range (a range of 900,000 to hundreds, of 1.0 to thousandths).
ROUND_DIGITS = 4
MATING_TRIES = 10  # pymoo's mating rounds a generation to find offspring not yet seen


def search_seed(seed: int) -> int:
    """The search's seed, from the decision's."""
    return int(np.random.SeedSequence([seed, SEARCH_SALT]).generate_state(1)[0])


def tidy(lever: Lever, value: Any) -> int | float | str:
    """A lever's value as the search proposes it: a choice as it is, a whole number as an
    int, a real rounded (:data:`ROUND_DIGITS`) and kept within its range."""
    if lever.choices is not None:
        return str(value)
    lo, hi = lever.range  # type: ignore[misc]
    if lever.integer:
        return int(min(max(round(float(value)), lo), hi))
    digits = ROUND_DIGITS - 1 - math.floor(math.log10(hi - lo))
    return float(min(max(round(float(value), digits), lo), hi))


def key_of(levers: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """A portfolio's identity: its lever values (an int and the equal float are one)."""
    return tuple(
        sorted((k, repr(float(v)) if not isinstance(v, str) else v) for k, v in levers.items())
    )


def search_portfolios(
    decision: Decision, fit: Emulators, design: list[dict[str, Any]]
) -> dict[str, Any]:
    """Search the lever space on the emulators ``fit``; return the search's record:
    its settings, ``candidates`` (lever values, best first) and ``front`` (each point's
    levers, predicted ``cost_gbp`` and expected primary difference). ``design``: the
    design's portfolios' lever values, which are not proposed again."""
    from pymoo.algorithms.moo.nsga2 import NSGA2, binary_tournament
    from pymoo.core.mixed import (
        MixedVariableDuplicateElimination,
        MixedVariableMating,
        MixedVariableSampling,
    )
    from pymoo.core.problem import Problem
    from pymoo.core.variable import Choice, Integer, Real
    from pymoo.operators.selection.tournament import TournamentSelection
    from pymoo.optimize import minimize
    from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

    spec = decision.spec
    settings = spec.search
    primary = spec.ranked_by
    seed = search_seed(spec.seed)
    record: dict[str, Any] = {
        "method": "NSGA-II (pymoo), mixed variables (pymoo.core.mixed)",
        "objectives": [primary, "cost_gbp"],
        "constraints": ["cost_gbp <= budget_gbp"]
        + [f"{c.objective} <= {c.rise_at_most:g}" for c in spec.constraints],
        "population": settings.population,
        "generations": settings.generations,
        "candidates_asked": settings.candidates,
        "seed": seed,
        "candidates": [],
        "front": [],
    }
    missing = [o for o in spec.objectives if o not in fit.objectives]
    if fit.cost is None or missing:
        record["skipped"] = "too few runs to emulate " + ", ".join(missing or ["the cost"])
        return record
    levers = spec.levers
    variables: dict[str, Any] = {}
    for i, lever in enumerate(levers):
        if lever.choices is not None:
            variables[f"x{i}"] = Choice(options=list(lever.choices))
        elif lever.integer:
            variables[f"x{i}"] = Integer(bounds=lever.range)
        else:
            variables[f"x{i}"] = Real(bounds=lever.range)
    needed = [primary, *(c.objective for c in spec.constraints if c.objective != primary)]

    def decode(x: dict[str, Any]) -> dict[str, Any]:
        return {lv.key: tidy(lv, x[f"x{i}"]) for i, lv in enumerate(levers)}

    def evaluate(portfolios: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
        mean = {o: fit.by_draw(decision, portfolios, o).mean(axis=1) for o in needed}
        cost = fit.predicted_cost(decision, portfolios)
        f = np.column_stack([mean[primary], cost])
        g = [(cost - spec.budget_gbp) / max(fit.scale["cost"], 1.0)]
        for c in spec.constraints:
            yardstick = fit.scale.get(c.objective) or 1.0
            g.append((mean[c.objective] - c.rise_at_most) / yardstick)
        return f, np.column_stack(g)

    class Portfolios(Problem):
        def __init__(self) -> None:
            super().__init__(vars=variables, n_obj=2, n_ieq_constr=1 + len(spec.constraints))

        def _evaluate(self, X: Any, out: dict[str, Any], *args: Any, **kwargs: Any) -> None:
            out["F"], out["G"] = evaluate([decode(x) for x in X])

    # pymoo's NSGA-II with its mixed-variable sampling, mating and duplicate elimination.
    # Mating tries again while its offspring duplicate known portfolios; in a small lever
    # space (the smoke decision's 33 x 5) most do, and pymoo's default of 100 tries a
    # generation spends seconds for nothing: after MATING_TRIES the generation is smaller.
    algorithm = NSGA2(
        pop_size=settings.population,
        sampling=MixedVariableSampling(),
        mating=MixedVariableMating(
            selection=TournamentSelection(func_comp=binary_tournament),
            eliminate_duplicates=MixedVariableDuplicateElimination(),
            n_max_iterations=MATING_TRIES,
        ),
        eliminate_duplicates=MixedVariableDuplicateElimination(),
    )
    result = minimize(
        Portfolios(), algorithm, ("n_gen", settings.generations), seed=seed, verbose=False
    )
    pop = result.pop
    record["evaluations"] = int(result.algorithm.evaluator.n_eval)
    found: dict[tuple[tuple[str, str], ...], dict[str, Any]] = {}
    for x in pop.get("X"):
        p = decode(x)
        found.setdefault(key_of(p), p)
    portfolios = list(found.values())
    f, g = evaluate(portfolios)
    ok = np.flatnonzero((g <= 0).all(axis=1))
    if not ok.size:
        return record
    front = ok[NonDominatedSorting().do(f[ok], only_non_dominated_front=True)]
    front = sorted(front, key=lambda i: (f[i, 0], f[i, 1], key_of(portfolios[i])))
    record["front"] = [
        {"levers": portfolios[i], "cost_gbp": float(f[i, 1]), primary: float(f[i, 0])}
        for i in front
    ]
    held = {key_of(p) for p in design}
    new = [portfolios[i] for i in front if key_of(portfolios[i]) not in held]
    record["candidates"] = new[: settings.candidates]
    return record
