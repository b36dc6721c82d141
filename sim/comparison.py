"""Paired comparisons of a policy with the baseline, with all their uncertainty.

The statistics behind ``yjsim report`` and ``yjsim compare``; nothing here writes a file.

A comparison is paired: run (draw d, replicate r) of a policy shares its seed and its
parameter draw (one posterior particle, and whatever else the draw sets, such as
programme effects) with run (d, r) of the baseline, so their difference is the policy's
effect in that simulated future. Two things make those differences vary:

- **parameter uncertainty** (the behavioural posterior and any drawn effects): the
  expected effect itself differs from draw to draw;
- **chance**: within a draw, replicates differ by the luck of the simulation.

:func:`effect` separates them by a one-way random-effects (ANOVA) split of the paired
differences over draws x replicates: the variance between draws of the draw-mean
difference, less what chance puts there, is the parameters'; the variance of replicates
within a draw is chance's. What we are unsure of is the expected effect under the
parameters we do not know: its distribution is a mixture over draws of each draw's
expected effect (shrunk towards the overall mean by how much of its spread is chance),
each with its estimation error (Student's t). The report's central figure is that
distribution's median, its interval the 2.5 and 97.5 percentiles, and "how sure" the
share of it on one side of no change. With one draw (``draws = 0``) this is the usual
t interval of the mean paired difference: chance only.

:func:`drivers` names the uncertain parameters that drive a comparison: each recorded
parameter's first-order share of the variance of a run's paired difference, by linear
regression of the draw-mean difference on the parameter (and, with 40 draws or more,
by binned conditional means), adjusted for the chance correlation of few draws.

Runs whose offending ran away (more than the calibration's limit of offences per child a
year, ``RUNAWAY_OFFENCES_PER_CHILD_YEAR``) are flagged; their pairs are left out of every
comparison and reported. The proven reoffending rate is compared only where the cohort
it is measured on kept its size and its mix of previous offences (:func:`cohort_check`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from sim.calibration import RUNAWAY_OFFENCES_PER_CHILD_YEAR
from sim.costs import PATHWAY_ITEMS, PATHWAY_UNIT_COSTS
from sim.events import OFFENCE_TYPES

LEVEL = 0.95
# Halvings of the bracket when reading a quantile of the mixture: 2**-80 of its width.
BISECTIONS = 80
# A parameter decomposition needs this many draws; below it there is no variance to split.
MIN_DRAWS_FOR_DRIVERS = 5
# With this many draws or more, first-order shares also come from binned conditional means
# (BINS quantile bins), which see a relation that is not a straight line.
MIN_DRAWS_FOR_BINS = 40
BINS = 5
# "Sure" below this is no verdict: the plain-language lines say the direction is unclear.
CLEAR = 0.8
# The reoffending cohort is "changed" when its size moves by at least this share, or when
# the change in its mix of previous offences alone would move the rate by at least this
# many points (at the baseline's rates per band), each beyond chance (the 95% interval of
# the change excludes none). Smaller changes cannot move the rate by much.
COHORT_SIZE_TOLERANCE = 0.05
COHORT_MIX_TOLERANCE = 0.01
KEYS = ["draw", "replicate"]
PARAM_PREFIX = "param."


@dataclass(frozen=True)
class Measure:
    """A measure: its column, how to say it, and which direction is better."""

    column: str
    label: str
    unit: str
    # "lower" or "closer to 1" (every measure compared is one or the other: a higher
    # difference, or a larger distance from parity, is worse)
    better: str
    kind: str  # "count" (compare in %), "rate" (compare in points), "ratio", "money"
    short: str  # column title in the overview table


TRUE_OFFENCES = Measure(
    "true_offences_per_year",
    "True offences (all offending, seen only by the model)",
    "offences a year",
    "lower",
    "count",
    "True offences",
)
HARM = Measure(
    "crime_harm_days_per_year.total",
    "Harm of the offences (Cambridge Crime Harm Index method, assumed weights)",
    "days of custody a year",
    "lower",
    "count",
    "Harm (CCHI)",
)
FTE = Measure(
    "first_time_entrants_per_year",
    "First-time entrants to the justice system",
    "children a year",
    "lower",
    "count",
    "First-time entrants",
)
CAUTIONED = Measure(
    "children_cautioned_or_sentenced_per_year",
    "Children cautioned or sentenced",
    "children a year",
    "lower",
    "count",
    "Cautioned or sentenced",
)
REOFFENDING = Measure(
    "proven_reoffending_rate",
    "Proven reoffending rate (MoJ measure)",
    "% of the cohort",
    "lower",
    "rate",
    "Reoffending rate",
)
CUSTODY_SENTENCES = Measure(
    "custody_sentences_per_year",
    "Custodial sentences",
    "sentences a year",
    "lower",
    "count",
    "Custody sentences",
)
IN_CUSTODY = Measure(
    "custody_population_mean",
    "Children in custody",
    "children (mean)",
    "lower",
    "count",
    "In custody",
)
COST = Measure(
    "cost_per_year_gbp.total",
    "Cost of programmes and the justice pathway",
    "GBP a year",
    "lower",
    "money",
    "Programme + justice cost",
)
CRIME_COST = Measure(
    "crime_cost_per_year_gbp.total",
    "Cost of the offences to society (Home Office unit costs)",
    "GBP a year",
    "lower",
    "money",
    "Cost of crime",
)
NET_COST = Measure(
    "net_social_cost_per_year_gbp",
    "Net social cost: programmes + justice + the offences' cost to society",
    "GBP a year",
    "lower",
    "money",
    "Net social cost",
)


# Spending split: the justice pathway's items (costs.PATHWAY_ITEMS), and the rest.
JUSTICE_COST = "justice_cost_per_year_gbp"
PROGRAMME_COST = "programme_cost_per_year_gbp"


def _rri(stage: str, label: str, short: str) -> Measure:
    return Measure(
        f"relative_rate_index.{stage}.Black",
        label,
        "ratio, 1 = parity",
        "closer to 1",
        "ratio",
        short,
    )


# Disproportionality comes from where children live and from the police's decisions
# (search, gang listing) that differ by group (sim/justice.py), never from offending.
DISPROPORTIONALITY: tuple[Measure, ...] = (
    _rri(
        "stop_search",
        "Disproportionality in stop and search (drugs and weapons found by police activity): "
        "relative rate index per head, Black vs White children",
        "RRI stop-search (Black)",
    ),
    _rri(
        "arrest",
        "Disproportionality at arrest: relative rate index, Black vs White children",
        "RRI arrest (Black)",
    ),
    _rri(
        "formal_disposal",
        "Disproportionality at formal disposal: relative rate index, Black vs White children",
        "RRI formal disposal (Black)",
    ),
    _rri(
        "court_sentence",
        "Disproportionality in charging: of children cautioned or sentenced, those sentenced "
        "at court; relative rate index, Black vs White children",
        "RRI court (Black)",
    ),
    _rri(
        "remand_detention",
        "Disproportionality in remand to youth detention: per child arrested; relative rate "
        "index, Black vs White children",
        "RRI remand (Black)",
    ),
    _rri(
        "gang_listing",
        "Disproportionality on the gangs list: relative rate index per gang member, Black vs "
        "White children",
        "RRI gang list (Black)",
    ),
)

# The evidence table: every measure compared, in order.
MEASURES: tuple[Measure, ...] = (
    TRUE_OFFENCES,
    HARM,
    FTE,
    CAUTIONED,
    REOFFENDING,
    CUSTODY_SENTENCES,
    IN_CUSTODY,
    COST,
    CRIME_COST,
    NET_COST,
    *DISPROPORTIONALITY,
)
# The measures of the plain-language lines and the headline, in order.
HEADLINE: tuple[Measure, ...] = (
    TRUE_OFFENCES,
    HARM,
    FTE,
    IN_CUSTODY,
    REOFFENDING,
    COST,
    NET_COST,
)
# The comparisons whose drivers the report names.
DRIVER_MEASURES: tuple[Measure, ...] = (TRUE_OFFENCES, HARM, FTE, NET_COST)


# -- the uncertainty of one paired comparison ---------------------------------------------


@dataclass
class Effect:
    """A policy's effect on one measure, with its uncertainty (policy minus baseline).

    ``centre``, ``lo``, ``hi``: median and 95% interval of the expected difference over
    the uncertain parameters and chance; ``p_higher``: the share of that distribution
    above no change (ties half). ``param_var``, ``chance_var``: the random-effects split
    of the variance of a run's difference (NaN where it cannot be made). ``range_lo``,
    ``range_hi``: the 2.5 and 97.5 percentiles of single runs' differences.
    """

    n: int = 0
    n_draws: int = 0
    base: float = math.nan  # the baseline's median over the pairs used
    policy: float = math.nan
    centre: float = math.nan
    lo: float = math.nan
    hi: float = math.nan
    p_higher: float = math.nan
    param_var: float = math.nan
    chance_var: float = math.nan
    range_lo: float = math.nan
    range_hi: float = math.nan
    # For "closer to 1" measures, the same for the distance from parity (decides better).
    distance: Effect | None = None

    @property
    def pct(self) -> float:
        return _pct(self.centre, self.base)

    @property
    def pct_lo(self) -> float:
        return _pct(self.lo, self.base)

    @property
    def pct_hi(self) -> float:
        return _pct(self.hi, self.base)

    @property
    def param_share(self) -> float:
        """The parameters' share of the variance of a run's difference (NaN: not split)."""
        total = self.param_var + self.chance_var
        return self.param_var / total if total > 0 else math.nan

    @property
    def p_worse(self) -> float:
        """How sure we are that the policy is worse on this measure (0 to 1)."""
        if self.distance is not None:
            return self.distance.p_higher
        return self.p_higher

    @property
    def p_better(self) -> float:
        return 1.0 - self.p_worse if math.isfinite(self.p_worse) else math.nan

    @property
    def verdict(self) -> str:
        """ "better" or "worse" where the 95% interval excludes no change; else "unclear"."""
        e = self.distance if self.distance is not None else self
        if not (math.isfinite(e.lo) and math.isfinite(e.hi)) or e.lo <= 0 <= e.hi:
            return "unclear"
        return "worse" if e.lo > 0 else "better"


def _pct(x: float, base: float) -> float:
    return 100.0 * x / base if base and math.isfinite(base) else math.nan


def effect(
    diffs: np.ndarray,
    draws: np.ndarray,
    base: np.ndarray | None = None,
    policy: np.ndarray | None = None,
) -> Effect:
    """The uncertainty of the expected paired difference (see the module's docstring).

    ``diffs`` are paired differences (policy - baseline), ``draws`` the draw of each pair;
    undefined pairs (NaN) are left out.
    """
    d = np.asarray(diffs, dtype=float)
    g = np.asarray(draws)
    ok = np.isfinite(d)
    out = Effect()
    if base is not None and policy is not None:
        b, p = np.asarray(base, dtype=float), np.asarray(policy, dtype=float)
        ok &= np.isfinite(b) & np.isfinite(p)
        if ok.any():
            out.base, out.policy = float(np.median(b[ok])), float(np.median(p[ok]))
    d, g = d[ok], g[ok]
    n = len(d)
    out.n = n
    if n == 0:
        return out
    labels, inv = np.unique(g, return_inverse=True)
    j = len(labels)
    out.n_draws = j
    n_j = np.bincount(inv).astype(float)
    m_j = np.bincount(inv, weights=d) / n_j
    df_within = n - j
    s2w = float(((d - m_j[inv]) ** 2).sum() / df_within) if df_within > 0 else math.nan
    if j > 1 and math.isfinite(s2w):
        n0 = (n - (n_j**2).sum() / n) / (j - 1)
        msb = float((n_j * (m_j - d.mean()) ** 2).sum() / (j - 1))
        s2b = max(0.0, (msb - s2w) / n0)
    elif j > 1:  # one run per draw: chance and parameters cannot be told apart
        s2b = float(np.var(m_j, ddof=1))
    else:
        s2b = 0.0
    out.param_var, out.chance_var = s2b, s2w
    out.range_lo = float(np.quantile(d, (1 - LEVEL) / 2))
    out.range_hi = float(np.quantile(d, 0.5 + LEVEL / 2))
    centres, scales = _components(m_j, n_j, s2b, s2w)
    out.centre, out.lo, out.hi, out.p_higher = _mixture(centres, scales, df_within)
    return out


def _components(
    m_j: np.ndarray, n_j: np.ndarray, s2b: float, s2w: float
) -> tuple[np.ndarray, np.ndarray]:
    """Each draw's expected effect: its centre and its standard error (random effects)."""
    if not math.isfinite(s2w):  # no replicates within draws: the draw means as they are
        return m_j, np.zeros_like(m_j)
    noise = s2w / n_j
    total = s2b + noise
    if not (total > 0).all():  # every run the same: a point
        return m_j, np.zeros_like(m_j)
    w = 1.0 / total
    mu = float((w * m_j).sum() / w.sum())
    var_mu = float(1.0 / w.sum())
    shrink = s2b / total
    centres = mu + shrink * (m_j - mu)
    return centres, np.sqrt(shrink * noise + var_mu)


def _mixture(centres: np.ndarray, scales: np.ndarray, df: int) -> tuple[float, float, float, float]:
    """Median, 95% interval and the share above zero of an equal mixture over draws of
    t distributions (``df`` degrees of freedom; a zero scale is a point)."""
    spread = np.where(scales > 0, scales, 1.0)
    t = stats.t(max(df, 1))

    def cdf(x: np.ndarray) -> np.ndarray:  # P(X <= x) for each x
        z = (x[:, None] - centres[None, :]) / spread[None, :]
        inside = np.where(scales[None, :] > 0, t.cdf(z), (z >= 0).astype(float))
        return inside.mean(axis=1)

    probs = np.array([(1 - LEVEL) / 2, 0.5, 0.5 + LEVEL / 2])
    reach = 50 * float(scales.max(initial=0.0)) + 1e-12  # far beyond any t's 99.99th
    lo = np.full(3, float(centres.min()) - reach)
    hi = np.full(3, float(centres.max()) + reach)
    for _ in range(BISECTIONS):
        mid = (lo + hi) / 2
        below = cdf(mid) < probs
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    q_lo, q_mid, q_hi = hi
    above = np.where(
        scales > 0,
        t.sf(-centres / spread),
        np.where(centres > 0, 1.0, np.where(centres == 0, 0.5, 0.0)),
    )
    return float(q_mid), float(q_lo), float(q_hi), float(above.mean())


# -- pairs, runaway runs and the measures of a summary table --------------------------------


def runaway(summary: pd.DataFrame) -> pd.Series:
    """Runs whose offending ran away: more offences a year than the calibration's limit
    (``RUNAWAY_OFFENCES_PER_CHILD_YEAR`` per child aged 10-17), where it stops a fit."""
    if "population_10_17" not in summary or "true_offences_per_year" not in summary:
        return pd.Series(False, index=summary.index)
    limit = RUNAWAY_OFFENCES_PER_CHILD_YEAR * summary["population_10_17"].astype(float)
    return summary["true_offences_per_year"].astype(float) > limit


def with_derived(summary: pd.DataFrame) -> pd.DataFrame:
    """The summary with the columns the comparisons add: programme and justice costs
    apart, the net social cost, and the runaway flag."""
    s = summary.copy()
    cost = [f"cost_per_year_gbp.{k}" for k in PATHWAY_ITEMS]
    if all(c in s for c in cost):
        s[JUSTICE_COST] = s[cost].astype(float).sum(axis=1)
        if COST.column in s:
            s[PROGRAMME_COST] = s[COST.column] - s[JUSTICE_COST]
    if COST.column in s and CRIME_COST.column in s:
        s[NET_COST.column] = s[COST.column].astype(float) + s[CRIME_COST.column].astype(float)
        for end in ("low", "high"):
            col = f"crime_cost_per_year_gbp.total_{end}"
            if col in s:
                s[f"{NET_COST.column}_{end}"] = s[COST.column].astype(float) + s[col]
    s["runaway"] = runaway(s)
    return s


def pairs(summary: pd.DataFrame, baseline: str, scenario: str) -> pd.DataFrame:
    """Baseline and policy rows side by side (suffixes _b and _p), one row per (draw,
    replicate) both finished, sorted; ``runaway`` is true where either run ran away."""
    b = summary.loc[summary["scenario"] == baseline]
    p = summary.loc[summary["scenario"] == scenario]
    m = b.merge(p, on=KEYS, suffixes=("_b", "_p")).sort_values(KEYS).reset_index(drop=True)
    m["runaway"] = m.get("runaway_b", False) | m.get("runaway_p", False)
    return m


def measure_effect(m: pd.DataFrame, measure: Measure) -> Effect:
    """One measure's effect on the pairs ``m`` (runaway pairs already left out)."""
    col = measure.column
    if f"{col}_b" not in m or f"{col}_p" not in m or m.empty:
        return Effect()
    b = m[f"{col}_b"].to_numpy(float)
    p = m[f"{col}_p"].to_numpy(float)
    e = effect(p - b, m["draw"].to_numpy(), b, p)
    if measure.better == "closer to 1":
        e.distance = effect(np.abs(p - 1) - np.abs(b - 1), m["draw"].to_numpy())
    return e


def _side(m: pd.DataFrame, column: str, side: str) -> np.ndarray:
    """A column of one side of the pairs as floats (NaN if the results lack it)."""
    name = f"{column}_{side}"
    return m[name].to_numpy(float) if name in m else np.full(len(m), np.nan)


# -- the reoffending cohort -------------------------------------------------------------------


@dataclass
class CohortCheck:
    """Whether the proven reoffending rate compares like with like."""

    comparable: bool
    size: Effect  # the cohort a year (policy - baseline)
    mix_shift: Effect  # the change in the rate its mix of previous offences alone makes
    reason: str


def cohort_check(m: pd.DataFrame, summary: pd.DataFrame, baseline: str) -> CohortCheck:
    """The rule: the rate is not comparable where the cohort's size changes by at least
    ``COHORT_SIZE_TOLERANCE`` or its mix of previous offences alone would move the rate by
    at least ``COHORT_MIX_TOLERANCE``, beyond chance (the 95% interval excludes no change).

    The mix's effect is a direct standardisation: each pair's shares of the cohort by
    band of previous offences, policy minus baseline, times the baseline's reoffending
    rate in each band (pooled over its runs).
    """
    draws = m["draw"].to_numpy()
    size_b, size_p = (
        _side(m, "reoffending_cohort_per_year", "b"),
        _side(m, "reoffending_cohort_per_year", "p"),
    )
    size = effect(size_p - size_b, draws, size_b, size_p)
    bands = [
        c.removeprefix("reoffending_cohort_by_previous_offences.")
        for c in summary.columns
        if c.startswith("reoffending_cohort_by_previous_offences.")
    ]
    mix = Effect()
    if bands and all(f"reoffending_rate_by_previous_offences.{k}" in summary for k in bands):
        base = summary.loc[summary["scenario"] == baseline]
        counts = base[[f"reoffending_cohort_by_previous_offences.{k}" for k in bands]]
        rates = base[[f"reoffending_rate_by_previous_offences.{k}" for k in bands]]
        c, r = counts.to_numpy(float), rates.to_numpy(float)
        weight = np.where(np.isfinite(r), c, 0.0).sum(axis=0)
        pooled = np.where(np.isfinite(r), r * c, 0.0).sum(axis=0)
        standard = np.divide(pooled, weight, out=np.zeros_like(pooled), where=weight > 0)

        def shares(side: str) -> np.ndarray:
            x = m[[f"reoffending_cohort_by_previous_offences.{k}_{side}" for k in bands]]
            x = x.to_numpy(float)
            total = x.sum(axis=1, keepdims=True)
            return np.divide(x, total, out=np.full_like(x, np.nan), where=total > 0)

        shift = ((shares("p") - shares("b")) * standard).sum(axis=1)
        mix = effect(shift, draws)
    reasons = []
    if size.n == 0 or mix.n == 0:  # nothing to check it by: never call it better or worse
        reasons.append("these results do not record the cohort it is measured on")
    if size.verdict != "unclear" and abs(size.pct) >= 100 * COHORT_SIZE_TOLERANCE:
        reasons.append(f"the cohort it is measured on changes size by {size.pct:+.0f}%")
    if mix.verdict != "unclear" and abs(mix.centre) >= COHORT_MIX_TOLERANCE:
        reasons.append(
            f"its mix of previous offences changes, which alone would move the rate by "
            f"{100 * mix.centre:+.1f} points"
        )
    return CohortCheck(not reasons, size, mix, " and ".join(reasons))


# -- which uncertain parameters drive a comparison --------------------------------------------


@dataclass(frozen=True)
class Driver:
    """One parameter's first-order share of the variance of a run's paired difference."""

    name: str
    share: float
    sign: int  # +1: the difference grows with the parameter; -1: it falls
    method: str  # "linear" or "binned"


def drawn_parameters(m: pd.DataFrame) -> pd.DataFrame:
    """One row per draw: each recorded parameter that varies between draws.

    Parameter columns are ``param.NAME`` (sim/results.py); the policy's value is taken
    where it has one (an effect drawn only where the programme runs), else the
    baseline's. Columns that do not vary between draws carry no parameter uncertainty.
    """
    names = sorted(
        {
            c[: -len(s)]
            for c in m.columns
            for s in ("_b", "_p")
            if c.startswith(PARAM_PREFIX) and c.endswith(s)
        }
    )
    per_run = {}
    for name in names:
        sides = [
            pd.to_numeric(m[f"{name}_{side}"], errors="coerce")
            for side in ("p", "b")
            if f"{name}_{side}" in m
        ]
        value = sides[0]
        for other in sides[1:]:
            value = value.where(value.notna(), other)
        per_run[name.removeprefix(PARAM_PREFIX)] = value
    frame = pd.DataFrame(per_run, index=m.index)
    frame["draw"] = m["draw"].to_numpy()
    by_draw = frame.groupby("draw").first()
    keep = [c for c in by_draw if by_draw[c].notna().all() and by_draw[c].nunique() >= 3]
    return by_draw[keep]


def drivers(m: pd.DataFrame, column: str, e: Effect) -> list[Driver]:
    """The parameters that drive the paired difference of ``column``, largest first.

    Each share is of the variance of one run's difference (chance + parameters):
    the variance of the draw-mean difference explained by the parameter (adjusted R^2 of
    a straight line, or with ``MIN_DRAWS_FOR_BINS`` draws the larger of that and the
    adjusted correlation ratio over ``BINS`` quantile bins), over that total.
    """
    if f"{column}_p" not in m or e.n_draws < MIN_DRAWS_FOR_DRIVERS:
        return []
    d = m[f"{column}_p"].to_numpy(float) - m[f"{column}_b"].to_numpy(float)
    frame = pd.DataFrame({"d": d, "draw": m["draw"].to_numpy()}).dropna()
    means = frame.groupby("draw")["d"].mean()
    theta = drawn_parameters(m).reindex(means.index)
    total = e.param_var + e.chance_var if math.isfinite(e.chance_var) else float(d.var())
    var_m = float(means.var(ddof=1))
    j = len(means)
    if not (total > 0 and var_m > 0 and j >= MIN_DRAWS_FOR_DRIVERS):
        return []
    out = []
    y = means.to_numpy(float)
    for name in theta.columns:
        x = theta[name].to_numpy(float)
        if np.std(x) == 0:
            continue
        r = float(np.corrcoef(x, y)[0, 1])
        explained = _adjusted(r * r, j, 2) * var_m
        method = "linear"
        if j >= MIN_DRAWS_FOR_BINS:
            binned = _adjusted(_correlation_ratio(x, y, BINS), j, BINS) * var_m
            if binned > explained:
                explained, method = binned, "binned"
        # A parameter explains at most what the parameters do (the random-effects split).
        explained = min(explained, e.param_var) if math.isfinite(e.chance_var) else explained
        out.append(Driver(name, min(explained / total, 1.0), 1 if r >= 0 else -1, method))
    return sorted(out, key=lambda dr: -dr.share)


def _adjusted(r2: float, n: int, k: int) -> float:
    """R^2 adjusted for the fit of ``k`` groups or coefficients to ``n`` points (>= 0)."""
    if n <= k:
        return 0.0
    return max(0.0, 1.0 - (1.0 - r2) * (n - 1) / (n - k))


def _correlation_ratio(x: np.ndarray, y: np.ndarray, bins: int) -> float:
    """eta^2 of ``y`` over quantile bins of ``x``."""
    edges = np.unique(np.quantile(x, np.linspace(0, 1, bins + 1)))
    which = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, len(edges) - 2)
    total = ((y - y.mean()) ** 2).sum()
    if total == 0:
        return 0.0
    between = sum(
        (which == k).sum() * (y[which == k].mean() - y.mean()) ** 2 for k in np.unique(which)
    )
    return float(between / total)


# -- a policy against the baseline ------------------------------------------------------------


@dataclass
class PolicyComparison:
    """Everything the report and ``yjsim compare`` say about one policy."""

    name: str
    description: str
    effects: dict[str, Effect]
    cohort: CohortCheck
    drivers: dict[str, list[Driver]]
    pairs: int  # pairs compared (both runs finished, neither ran away)
    runaway_pairs: int
    runaway_policy_only: int  # pairs where only the policy's run ran away
    net_cost_band: tuple[float, float] = (math.nan, math.nan)  # centre at the cost bands' ends
    spending_assumed_share: float = math.nan  # of the change in spending, share assumed


def compare_policy(
    summary: pd.DataFrame,
    baseline: str,
    scenario: str,
    description: str = "",
    bases: dict[str, str] | None = None,
) -> PolicyComparison:
    """Compare ``scenario`` with ``baseline`` on every measure; ``summary`` is
    :func:`with_derived`'s table."""
    m_all = pairs(summary, baseline, scenario)
    m = m_all.loc[~m_all["runaway"]].reset_index(drop=True)
    effects = {x.column: measure_effect(m, x) for x in MEASURES}
    for col in (JUSTICE_COST, PROGRAMME_COST):
        effects[col] = measure_effect(m, _money(col))
    band = (math.nan, math.nan)
    lo, hi = (f"{NET_COST.column}_{k}" for k in ("low", "high"))
    if f"{lo}_p" in m:  # every unit cost low, or every one high: either may be the larger
        ends = sorted((measure_effect(m, _money(lo)).centre, measure_effect(m, _money(hi)).centre))
        band = (ends[0], ends[1])
    runaway_only = int((m_all.get("runaway_p", False) & ~m_all.get("runaway_b", False)).sum())
    return PolicyComparison(
        name=scenario,
        description=description,
        effects=effects,
        cohort=cohort_check(m, summary, baseline),
        drivers={x.column: drivers(m, x.column, effects[x.column]) for x in DRIVER_MEASURES},
        pairs=len(m),
        runaway_pairs=int(m_all["runaway"].sum()),
        runaway_policy_only=runaway_only,
        net_cost_band=band,
        spending_assumed_share=_assumed_share(m, bases or {}),
    )


def _money(column: str) -> Measure:
    return Measure(column, column, "GBP a year", "lower", "money", column)


def _assumed_share(m: pd.DataFrame, bases: dict[str, str]) -> float:
    """Of the absolute change in spending summed over cost items, the share from items
    whose unit cost is assumed (median over pairs of the paired changes)."""
    moved, assumed = 0.0, 0.0
    for item, basis in bases.items():
        col = f"cost_per_year_gbp.{item}"
        if f"{col}_p" not in m:
            continue
        change = abs(float(np.nanmedian(m[f"{col}_p"] - m[f"{col}_b"]))) if len(m) else 0.0
        if not math.isfinite(change):
            continue
        moved += change
        if basis != "sourced":
            assumed += change
    return assumed / moved if moved > 0 else math.nan


def cost_bases(interventions: Iterable[str] = ()) -> dict[str, str]:
    """Whether each cost item's unit costs are sourced or assumed, from the register.

    Pathway items: the basis of their unit cost parameter (``costs.*``); an
    intervention: "assumed" if any of its parameters in GBP is assumed, "sourced" if all
    are sourced; each offence type's cost of crime: ``costs.crime_cost_TYPE``.
    """
    from sim.interventions import load_all
    from sim.params import register_rows
    from sim.scenario import Scenario

    rows = {r.name: r.basis for r in Scenario(name="bases").register()}
    out = {item: rows[f"costs.{unit}"] for item, unit in PATHWAY_UNIT_COSTS.items()}
    known = load_all()
    for name in interventions:
        cls = known.get(name)
        if cls is None:
            out[name] = "unknown"
            continue
        found = {r.basis for r in register_rows(name, cls.Params()) if "GBP" in r.unit}
        out[name] = "assumed" if "assumed" in found else "sourced" if found else "unknown"
    for t in OFFENCE_TYPES:
        out[f"crime:{t}"] = rows[f"costs.crime_cost_{t}"]
    return out


def programmes(summary: pd.DataFrame) -> list[str]:
    """The programmes with a cost column in the results (``cost_per_year_gbp.NAME``)."""
    prefix = "cost_per_year_gbp."
    return sorted(
        c.removeprefix(prefix)
        for c in summary.columns
        if c.startswith(prefix) and c.removeprefix(prefix) not in (*PATHWAY_ITEMS, "total")
    )


def compare_all(
    summary: pd.DataFrame,
    baseline: str,
    policies: Sequence[str],
    descriptions: dict[str, str] | None = None,
    interventions: Iterable[str] = (),
) -> dict[str, PolicyComparison]:
    """Every policy against the baseline (``summary`` as read from a results folder)."""
    s = with_derived(summary)
    bases = {k: v for k, v in cost_bases(interventions).items() if not k.startswith("crime:")}
    return {
        p: compare_policy(s, baseline, p, (descriptions or {}).get(p, ""), bases) for p in policies
    }
