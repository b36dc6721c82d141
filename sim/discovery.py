"""When would the recommendation lose, and what is worth finding out? (``yjsim decide``)

Both questions are asked of the emulators (sim/emulator.py) over many fresh draws of
the uncertain parameters (posterior particles x programme effects, drawn as experiments
draw them: :func:`parameter_sample`), so they see parameter uncertainty, not chance:

- scenario discovery: PRIM (the EMA workbench's, Friedman and Fisher 1999, as Bryant
  and Lempert 2010 use it) finds the boxes of parameter values in which the recommended
  portfolio is beaten on the primary objective by another of the portfolios compared,
  with each box's coverage (the share of all losing draws inside it) and density (the
  share of draws inside it that lose);
- the expected value of partial perfect information per parameter, regression-based
  (Strong, Oakley and Brennan 2014): the net benefit of each option regressed on the
  parameter alone (a cubic spline), EVPPI = E[max of the fitted values] - max E[net
  benefit]. In the objective's units a year (GBP for the net social cost).

Both rest on what the emulator learned of each parameter from the design's draws; with
few draws it learns little, and the answers say so only through small EVPPIs and
boxes that explain little. Report them with the emulator's accuracy.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from sim.experiment import Experiment, effect_values

# PRIM's settings: peel 5% of the remaining draws at a step (the EMA workbench's
# default) down to boxes holding 5% of the draws; from the peeling trajectory take the
# box of at most 3 restricted parameters (a box a reader can hold in mind) with the
# largest coverage among those of density 0.8 or more (the recommendation loses four
# times in five inside it), or failing that the densest.
PEEL_ALPHA = 0.05
MASS_MIN = 0.05
DENSITY = 0.8
MAX_DIMS = 3
MAX_BOXES = 2
SPLINE_KNOTS = 6  # the EVPPI regression: a cubic spline with 6 knots over the quantiles


def parameter_sample(
    exp: Experiment, names: Sequence[str], n: int, seed: int
) -> pd.DataFrame | None:
    """``n`` fresh draws of the parameters ``names`` (dotted, without ``param.``), made as
    the experiment makes its draws (a posterior particle by systematic resampling and
    the programme effects from their priors), with ``seed``; None if a name is neither."""
    post = exp.posterior
    rows = []
    particles = post.pick(n, seed) if post is not None else [0] * n
    for d, particle in enumerate(particles, start=1):
        values = dict(post.draw(particle)) if post is not None else {}
        values.update(effect_values(exp.effect_priors, seed, d))
        rows.append(values)
    frame = pd.DataFrame(rows)
    if any(name not in frame for name in names):
        return None
    return frame[list(names)].astype(float)


def _box_words(lims: pd.DataFrame, sample: pd.DataFrame) -> list[dict[str, float | str]]:
    """The parameters a box restricts, with its bounds: those whose bounds leave out at
    least a peel's share of the draws (a narrower cut is a step of the peeling, not a
    condition a reader should weigh)."""
    out = []
    for col in lims.columns:
        lo, hi = float(lims.at[0, col]), float(lims.at[1, col])
        x = sample[col].to_numpy(float)
        if np.mean((x < lo) | (x > hi)) >= PEEL_ALPHA:
            out.append({"parameter": str(col), "low": lo, "high": hi})
    return out


def losses(values: np.ndarray, margin: float) -> tuple[np.ndarray, np.ndarray]:
    """Where the first option (row 0 of ``values``, lower is better) is beaten, and by whom.

    ``values`` has one row per option and one column per draw. The first option counts
    as beaten at a draw only when another is better there by more than ``margin``: a
    win smaller than the emulator's own error on held-back runs is one it cannot see,
    and counting it would make a near-twin of the recommendation (the same levers but
    one officer) "beat" it in almost every draw. Returns the beaten mask and, for each
    draw, the row of the best other option (meaningful where beaten).
    """
    others = values[1:]
    best = others.argmin(axis=0)
    beaten = values[0] - others.min(axis=0) > margin
    return beaten, best + 1


def discover(sample: pd.DataFrame, beaten: np.ndarray) -> dict[str, object]:
    """PRIM boxes of ``sample`` (one row per draw) where ``beaten`` is true."""
    share = float(np.mean(beaten))
    result: dict[str, object] = {"share_beaten": share, "draws": len(beaten), "boxes": []}
    if not 0 < beaten.sum() < len(beaten):
        return result
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from ema_workbench.analysis import prim

        p = prim.Prim(
            sample.reset_index(drop=True),
            beaten.astype(bool),
            threshold=DENSITY,
            peel_alpha=PEEL_ALPHA,
            mass_min=MASS_MIN,
        )
        boxes = []
        for _ in range(MAX_BOXES):
            try:
                box = p.find_box()
            except Exception:  # no more box worth finding (the workbench raises or warns)
                break
            if box is None:
                break
            trajectory = box.peeling_trajectory
            simple = trajectory.loc[trajectory["res_dim"] <= MAX_DIMS]
            if simple.empty:
                break
            dense = simple.loc[simple["density"] >= DENSITY]
            pick = dense["coverage"].idxmax() if not dense.empty else simple["density"].idxmax()
            box.select(int(simple.at[pick, "id"]))
            restricted = _box_words(box.box_lim, sample)
            if not restricted:
                break
            boxes.append(
                {
                    "restricts": restricted,
                    "coverage": float(box.coverage),
                    "density": float(box.density),
                    "mass": float(box.mass),
                }
            )
    result["boxes"] = boxes
    return result


def parameter_groups(names: Sequence[str]) -> dict[str, list[str]]:
    """The parameters by what one study could measure: each programme's effects
    (``interventions.NAME.*``: an evaluation of it), and each part of the behavioural
    model (``behaviour``, ``justice``, ...); groups of one parameter are left out (their
    EVPPI is the parameter's own)."""
    groups: dict[str, list[str]] = {}
    for name in names:
        parts = name.split(".")
        key = f"programme {parts[1]}" if parts[0] == "interventions" else parts[0]
        groups.setdefault(key, []).append(name)
    return {k: v for k, v in groups.items() if len(v) > 1}


def evppi(
    sample: pd.DataFrame, benefit: np.ndarray, groups: dict[str, list[str]] | None = None
) -> dict[str, float]:
    """EVPPI of each parameter (column of ``sample``) and of each group of them (an
    additive spline regression on the group's parameters) for options with net
    ``benefit`` (options x draws, higher is better), and ``"all"``: the EVPI."""
    from sklearn.linear_model import LinearRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import SplineTransformer

    best_now = float(benefit.mean(axis=1).max())
    out = {"all": float(benefit.max(axis=0).mean() - best_now)}
    subsets = {str(c): [c] for c in sample.columns}
    subsets.update({f"group: {k}": v for k, v in (groups or {}).items()})
    for key, cols in subsets.items():
        theta = sample[cols].to_numpy(float)
        if min(np.unique(theta[:, j]).size for j in range(theta.shape[1])) < SPLINE_KNOTS:
            continue
        fitted = np.empty_like(benefit)
        for i, nb in enumerate(benefit):
            model = make_pipeline(
                SplineTransformer(n_knots=SPLINE_KNOTS, degree=3, knots="quantile"),
                LinearRegression(),
            )
            fitted[i] = model.fit(theta, nb).predict(theta)
        # The regression's own noise biases the estimate up (Strong et al. 2014): at most
        # the EVPI, and no less than 0; differences below a billionth of the benefits'
        # spread are rounding.
        value = float(fitted.max(axis=0).mean() - best_now)
        tiny = 1e-9 * float(np.abs(benefit).max() or 1.0)
        out[key] = min(out["all"], value) if value > tiny else 0.0
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def values_at(
    predict: Callable[[str, pd.DataFrame], np.ndarray],
    options: Sequence[str],
    sample: pd.DataFrame,
) -> np.ndarray:
    """Each option's predicted paired difference at each draw (options x draws)."""
    return np.array([predict(name, sample) for name in options])
