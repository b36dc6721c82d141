"""Calibration: fit the shared behavioural parameters to the seeds' figures by ABC-SMC.

A calibration config (``calibration/*.toml``) names the targets file, the settings (one
scenario file each: Croydon 2018, Islington 2014, an average area), the free parameters
with their priors, and the budget. :func:`calibrate` runs pyabc's ABC-SMC:

- one simulation runs every setting with the same parameter set and returns each
  target's statistic; the distance is the sum of squared misfits in units of each
  target's tolerance (a bound counts only when it is broken);
- parallel on the cores with pyabc's multicore sampler (it forks), with a progress bar;
- resumable: pyabc keeps each finished generation in a SQLite history under
  ``calibration/runs/``; running the same config again continues from the last one;
- the output is the last generation as a Parquet table (one row per particle: the
  parameters, their weight and distance), never a pickle, which scenarios name with
  ``parameters = ...`` (see :mod:`sim.posterior`).

The simulations of the fit run at reduced size and burn-in ([simulation] in the config)
to fit in the time budget; :func:`check_fit` judges the result at the scenarios' own
settings, over many seeds.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from sim import simulation
from sim.posterior import effective_size
from sim.scenario import Scenario, ScenarioError, apply_overrides, load_scenario
from sim.tomlfile import InputError, load_toml

# Summary keys that count people or events in the borough: divided by the scale, so a
# half-size simulation is compared with the full-size target.
COUNT_STATISTICS = frozenset(
    {
        "children_cautioned_or_sentenced_per_year",
        "first_time_entrants_per_year",
        "yos_caseload_mean",
        "custody_population_mean",
        "true_offences_per_year",
        "proven_offences_per_year",
        "arrests_per_year",
        "custody_sentences_per_year",
        "reoffending_cohort_per_year",
        "detected_offences_per_year",
        "diversions_per_year",
    }
)

# Scalar summary.json keys a target may name (rates and ratios are not scaled).
_SUMMARY_KEYS = COUNT_STATISTICS | {
    "proven_reoffending_rate",
    "proven_reoffending_rate_3_month_cohorts",
    "reoffences_per_reoffender",
    "first_time_entrants_per_100k",
    "offending_prevalence_10_17",
    "remand_share_of_custody_population",
}

# Statistics computed from the summary rather than read from it.
DERIVED_STATISTICS: dict[str, Callable[[Mapping[str, Any]], float]] = {
    "first_time_entrant_share": lambda s: _ratio(
        s["first_time_entrants_per_year"], s["children_cautioned_or_sentenced_per_year"]
    ),
    # Share of true offences that led to a suspect: what detection sets, free of the
    # run-to-run swings in how much offending there is.
    "detected_share_of_offences": lambda s: _ratio(
        s["detected_offences_per_year"], s["true_offences_per_year"]
    ),
    "children_cautioned_or_sentenced_per_100k": lambda s: _ratio(
        1e5 * s["children_cautioned_or_sentenced_per_year"], s["population_10_17"]
    ),
    # Of 10-17s, the share with six or more true offences in a year (the survey's
    # frequent offenders), and the share of 10-17s' offences they commit.
    "frequent_offender_share_10_17": lambda s: s["offending_frequency_10_17"]["frequent_share"],
    "frequent_offender_offence_share": lambda s: s["offending_frequency_10_17"][
        "frequent_offence_share"
    ],
    # Patterns reported beside the fit (targets with fit = false): co-offending, the
    # proven offence mix, the disposal tiers and the RRI of Black children's cautions
    # and sentences per head.
    "peak_offending_age": lambda s: _peak_age(s["offending_rate_by_age"]),
    "co_offended_share_of_offences_10_17": lambda s: s["co_offending"]["share_of_offences_10_17"],
    "proven_share_violence": lambda s: s["proven_offence_mix"]["violence"],
    "proven_share_drugs": lambda s: s["proven_offence_mix"]["drugs"],
    "proven_share_robbery": lambda s: s["proven_offence_mix"]["robbery"],
    "disposal_share_pre_court": lambda s: s["disposal_mix_by_tier"]["pre_court"],
    "disposal_share_first_tier": lambda s: s["disposal_mix_by_tier"]["first_tier"],
    "disposal_share_community": lambda s: s["disposal_mix_by_tier"]["community"],
    "rri_black_cautioned_or_sentenced": lambda s: _number(
        s["relative_rate_index_per_population"]["formal_disposal"].get("Black")
    ),
    # Of the offences 10-17s commit, the share proven by a caution or conviction.
    "attrition_10_17": lambda s: s["attrition_10_17"]["proven"],
    # Of children's remand episodes (charged cases heard), the share to youth detention.
    "remand_to_youth_detention_share": lambda s: s["remand"]["episode_shares"]["youth_detention"],
    # Of the children who reoffended, the share whose first proven reoffence came within
    # one month of the index event.
    "first_reoffence_within_one_month": lambda s: s["time_to_first_reoffence"]["within_one_month"],
    # Of the children remanded to youth detention, the share not sentenced to custody.
    "remanded_to_detention_not_sentenced_to_custody": lambda s: _not_custody(
        s["remand"]["youth_detention_outcomes"]
    ),
    # Reoffending (annual cohorts, as the MoJ's tables by group were published) of the
    # children with no proven previous offence and with one or two, and after each kind
    # of index disposal: patterns of state dependence and of who gets which disposal.
    "proven_reoffending_rate_no_previous_offences": lambda s: _number(
        s["reoffending_rate_by_previous_offences"]["0"]
    ),
    "proven_reoffending_rate_1_2_previous_offences": lambda s: _number(
        s["reoffending_rate_by_previous_offences"]["1-2"]
    ),
    **{
        f"proven_reoffending_rate_after_{kind}": (
            lambda s, kind=kind: _number(s["reoffending_rate_by_index_disposal"][kind])
        )
        for kind in ("youth_caution", "referral_order", "youth_rehabilitation_order", "custody")
    },
}

# A simulation whose statistic is undefined (nobody indexed, say) is as far as can be.
UNDEFINED_DISTANCE = 1e6

# A fit's simulation stops early once its true offending passes this many offences per
# child aged 10-17 per year (checked each simulated year): such a run is hopeless for
# every target, and runaway contagion in the corners of the prior is what makes a
# simulation slow. The bound sits well above every plausible setting. The self-reported
# dark figure (a quarter of 10-17s offending in a year, 7% offending six or more times:
# ocjs-2005) puts the average area at 0.9 offences per child a year at the least (see
# the attrition target's note), and the validity refit's probes that met the average
# area's prevalence, frequency and volume ran it at 1.8 to 3.4, with the most deprived
# setting (Islington) at 2.6 to 3 times the average. The first bound, 4, was set when
# Croydon's defaults made 0.65 (before issue 17 gave the model its dark figure); it
# rejected Islington in exactly the region where the average area fits, and kept the
# refit's second run at a prevalence of 8% (calibration/README.md).
RUNAWAY_OFFENCES_PER_CHILD_YEAR = 10.0


def _peak_age(rate_by_age: Mapping[str, float]) -> float:
    """The age (in whole years) at which true offending per head is highest."""
    rates = {int(a): r for a, r in rate_by_age.items() if r is not None and not math.isnan(r)}
    return float(max(rates, key=rates.__getitem__)) if rates else math.nan


def _number(x: float | None) -> float:
    """A summary value as a float, NaN where it is missing (no one in the group)."""
    return math.nan if x is None else float(x)


def _ratio(a: float | None, b: float | None) -> float:
    if a is None or b is None or not b:
        return math.nan
    return float(a) / float(b)


def _not_custody(outcomes: Mapping[str, float | None]) -> float:
    """1 - the custody share of remands to youth detention; NaN with none (every share 0)."""
    shares = [outcomes.get(k) for k in ("acquittal", "custody", "other_sentence")]
    if any(x is None for x in shares) or not sum(shares):  # type: ignore[arg-type]
        return math.nan
    return 1.0 - float(outcomes["custody"]) / float(sum(shares))  # type: ignore[arg-type]


class CalibrationError(InputError):
    """A problem with a calibration config, targets file or posterior: file and key."""


# -- files -----------------------------------------------------------------------------


class Target(BaseModel):
    """One figure the model should reproduce, with its source."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    setting: str
    statistic: str
    value: float | None = None
    above: float | None = None
    below: float | None = None
    tolerance: float = Field(gt=0, description="one unit of misfit, in the statistic's units")
    source: str = Field(min_length=10, description="keys of docs/sources.md: the figure")
    fit: bool = True
    note: str = ""

    @model_validator(mode="after")
    def _one_kind(self) -> Target:
        kinds = [k for k in ("value", "above", "below") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError("give exactly one of value, above or below")
        return self

    def misfit(self, simulated: float) -> float:
        """Signed misfit in tolerances; 0 inside a bound; NaN when undefined."""
        if simulated is None or not math.isfinite(simulated):
            return math.nan
        if self.value is not None:
            return (simulated - self.value) / self.tolerance
        if self.above is not None:
            return min(0.0, simulated - self.above) / self.tolerance
        return max(0.0, simulated - self.below) / self.tolerance  # type: ignore[operator]

    def met(self, simulated: float) -> bool:
        """Within one tolerance of the value, or on the right side of the bound."""
        m = self.misfit(simulated)
        return math.isfinite(m) and (abs(m) <= 1.0 if self.value is not None else m == 0.0)

    @property
    def wanted(self) -> str:
        if self.value is not None:
            return f"{format_value(self.value)} ± {format_value(self.tolerance)}"
        if self.above is not None:
            return f"> {format_value(self.above)}"
        return f"< {format_value(self.below)}"


class TargetsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    target: list[Target] = Field(min_length=1)


class PriorSpec(BaseModel):
    """A free parameter: its dotted name, its prior, and why that prior."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[a-z_]+\.[a-z_0-9]+$")
    prior: Literal["uniform", "loguniform"]
    low: float
    high: float
    why: str = Field(min_length=10)

    @model_validator(mode="after")
    def _range(self) -> PriorSpec:
        if not self.high > self.low:
            raise ValueError(f"high must be above low, got low={self.low}, high={self.high}")
        if self.prior == "loguniform" and self.low <= 0:
            raise ValueError(f"a loguniform prior needs low > 0, got {self.low}")
        return self

    # Where the fit samples the parameter. A loguniform prior is sampled as a uniform
    # prior on log10 of the parameter (the same prior, written in other units), so that
    # pyabc's Gaussian transition kernel moves particles in the space where the prior is
    # flat. Sampled in natural units, the kernel is spread by a range of 20 to 60 times
    # (0.05 to 3 for detection) while the prior's density falls as 1/x, and the
    # importance weights collapse onto the particles at the bottom of the range: the
    # first generations of the validity refit kept effective sizes of 44 and then 23 of
    # 200, with log weights falling with the log of each loguniform parameter.
    @property
    def sampled_on_log10(self) -> bool:
        return self.prior == "loguniform"

    @property
    def key(self) -> str:
        """The name pyabc stores (no dots, which its history would mangle)."""
        base = self.name.replace(".", "__")
        return f"log10__{base}" if self.sampled_on_log10 else base

    def rv(self):  # -> pyabc.RV
        import pyabc

        if self.sampled_on_log10:
            low, high = math.log10(self.low), math.log10(self.high)
            return pyabc.RV("uniform", low, high - low)
        return pyabc.RV("uniform", self.low, self.high - self.low)

    def natural(self, sampled: Any) -> Any:
        """The parameter's value from the value pyabc sampled (a number or an array)."""
        return np.power(10.0, sampled) if self.sampled_on_log10 else sampled


class SimulationSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scale: float = Field(1.0, gt=0, le=1, description="population scale of the fit's runs")
    burn_in_years: int = Field(8, ge=0, le=50)
    years: int = Field(3, ge=1, le=50)


class ABCSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    population_size: int = Field(100, ge=4, le=100_000)
    generations: int = Field(8, ge=1, le=100)
    min_epsilon: float = Field(1.0, ge=0)
    max_minutes: float = Field(100, gt=0)
    # ABC-SMC importance weights can collapse onto one or two particles (a lucky
    # proposal far from the others); such a generation is a point, not a posterior.
    min_effective_size: float = Field(5.0, ge=1)
    seed: int = Field(1, ge=0, lt=2**32)


class CalibrationConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    description: str = ""
    targets: str
    posterior: str = Field(pattern=r"\.parquet$")
    report: str = "report"
    settings: dict[str, str] = Field(min_length=1)
    simulation: SimulationSettings = Field(default_factory=SimulationSettings)
    abc: ABCSettings = Field(default_factory=ABCSettings)
    parameter: list[PriorSpec] = Field(min_length=1)
    sensitivity: dict[str, Any] | None = Field(
        None, description="settings of `yjsim sensitivity` (validated by sim.sensitivity)"
    )


class Calibration:
    """A loaded config: its targets, priors and each setting's base scenario."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.config = _load_model(self.path, CalibrationConfig)
        self.dir = self.path.parent
        self.targets_path = self.dir / self.config.targets
        if not os.path.lexists(self.targets_path):  # a link that loops is reported on reading
            raise CalibrationError(self.path, "targets", f"no such file {self.config.targets!r}")
        self.targets = _load_model(self.targets_path, TargetsFile).target
        self.priors = self.config.parameter
        names = [p.name for p in self.priors]
        if len(set(names)) != len(names):
            raise CalibrationError(self.path, "parameter", "a parameter is listed twice")
        self.scenarios: dict[str, Scenario] = {}
        for setting, rel in self.config.settings.items():
            try:
                # Without the posterior a scenario may name: the fit sets those
                # parameters itself, and must not depend on an earlier fit.
                self.scenarios[setting] = load_scenario(self.dir / rel, use_posterior=False)
            except ScenarioError as e:
                raise CalibrationError(self.path, f"settings.{setting}", str(e)) from None
        for i, t in enumerate(self.targets):
            if t.setting not in self.scenarios:
                raise CalibrationError(
                    self.targets_path,
                    f"target.{i}.setting",
                    f"unknown setting {t.setting!r}; the config has {sorted(self.scenarios)}",
                )
            if t.statistic not in DERIVED_STATISTICS and t.statistic not in _SUMMARY_KEYS:
                raise CalibrationError(
                    self.targets_path,
                    f"target.{i}.statistic",
                    f"unknown statistic {t.statistic!r}; expected a summary.json key or one "
                    f"of {sorted(DERIVED_STATISTICS)}",
                )
        # Each prior's bounds must be values the parameter may take.
        base = next(iter(self.scenarios.values()))
        for i, p in enumerate(self.priors):
            for bound in (p.low, p.high):
                try:
                    apply_overrides(base, {p.name: bound})
                except ScenarioError as e:
                    raise CalibrationError(
                        self.path, f"parameter.{i}", f"{p.name}: {e.message}"
                    ) from None

    @property
    def posterior_path(self) -> Path:
        return self.dir / self.config.posterior

    @property
    def report_dir(self) -> Path:
        return self.dir / self.config.report

    @property
    def history_path(self) -> Path:
        """pyabc's SQLite history (working state for resuming; only the validity refit's
        is committed, calibration/README.md says why)."""
        return self.dir / "runs" / f"{self.config.name}.db"

    @property
    def journal_path(self) -> Path:
        """The folder of the journal of a generation in progress (sim/fit_journal.py),
        beside the history: working state, never committed."""
        return self.history_path.with_suffix(".journal")

    @property
    def fingerprint_path(self) -> Path:
        """The fingerprint of the fit that wrote the saved history, beside it."""
        return self.history_path.with_suffix(".fingerprint")

    def history_is_this_fit(self) -> bool:
        """Whether the saved history's fingerprint is this config's (its particles answer
        this fit); False when either file is missing."""
        stamp = self.fingerprint_path
        return (
            self.history_path.is_file()
            and stamp.is_file()
            and stamp.read_text().strip() == self.fingerprint()
        )

    def fingerprint(self) -> str:
        """A hash of what determines the fit: config, targets and resolved settings."""
        return hashlib.sha256(
            json.dumps(self.fingerprint_data(), sort_keys=True).encode()
        ).hexdigest()[:16]

    def fingerprint_data(self) -> dict[str, object]:
        """What the fit's simulations and distance depend on, as the fingerprint hashes it.

        Not the report's or the sensitivity analysis's settings, nor the stopping rules,
        nor the targets that are reported but not fitted, nor the unit costs.
        Each setting's parameters are taken whole, defaults included: a default changed
        in the code is a different model, and a saved history of the old one must not be
        resumed under it (a new parameter, even at a value that changes nothing, also
        asks for --fresh). Changes to mechanisms that leave every value alone are not
        seen; run with --fresh after them.
        """
        return {
            "config": self.config.model_dump(
                mode="json",
                exclude={
                    "description": True,
                    "report": True,
                    "sensitivity": True,
                    # stopping rules: raising them is how a finished run is extended
                    "abc": {"generations", "max_minutes", "min_epsilon", "min_effective_size"},
                },
            ),
            # Where each parameter is sampled: a history sampled in other units is
            # another fit (its particles' values and weights mean something else).
            "sampled_as": {p.name: p.key for p in self.priors},
            # Fitted targets only: a reported one (fit = false) changes no distance, so
            # adding or editing one leaves the fit resumable.
            "targets": [t.model_dump(mode="json", exclude={"note"}) for t in self.targets if t.fit],
            # Unit costs are left out: they price a run's events afterwards (the
            # summary's cost lines), and no fitted statistic reads them.
            "scenarios": {
                k: s.model_dump(mode="json", serialize_as_any=True, exclude={"costs"})
                for k, s in self.scenarios.items()
            },
        }

    def fit_scenarios(self) -> dict[str, Scenario]:
        """The settings as the fit simulates them: scaled, with its burn-in and years."""
        sim = self.config.simulation
        out = {}
        for name, sc in self.scenarios.items():
            pop = sc.population
            if pop.boroughs:
                raise CalibrationError(self.path, f"settings.{name}", "expected one borough")
            pop = pop.model_copy(
                update={"population_10_17": max(100, round(pop.population_10_17 * sim.scale))}
            )
            run = sc.run.model_copy(update={"burn_in_years": sim.burn_in_years, "years": sim.years})
            out[name] = sc.model_copy(update={"population": pop, "run": run})
        return out


def _load_model(path: Path, model: type[BaseModel]) -> Any:
    return load_toml(path, model, CalibrationError)[0]


def load_targets(path: str | Path) -> list[Target]:
    """The targets of a targets file (validated)."""
    return _load_model(Path(path), TargetsFile).target


# -- one simulation --------------------------------------------------------------------


def statistics_of(summary: Mapping[str, Any], scale: float) -> dict[str, float]:
    """Every scalar statistic of a summary, counts scaled to the full borough."""
    out: dict[str, float] = {}
    for key, value in summary.items():
        # A statistic with no cases to count (no child in custody: no remand share) is
        # None in the summary and NaN here, so that its key is still there to be read.
        if value is None or (isinstance(value, int | float) and not isinstance(value, bool)):
            v = float(value) if value is not None else math.nan
            out[key] = v / scale if key in COUNT_STATISTICS else v
    out["population_10_17"] = float(summary["population_10_17"]) / scale
    for key, fn in DERIVED_STATISTICS.items():
        value = fn(summary)  # None where the summary had nothing to count
        out[key] = math.nan if value is None else float(value)
    return out


class Runaway(Exception):
    """A simulation stopped early because offending ran away (see the constant)."""


def simulate_guarded(
    sc: Scenario, seed: int, draw: Mapping[str, float] | None = None
) -> dict[str, Any]:
    """The summary of a run of ``sc`` with parameters ``draw``; raises :class:`Runaway`,
    stopping early, if offending runs away."""
    from sim.calendar import WEEKS_PER_YEAR

    sc = apply_overrides(sc, draw or {})
    cap = RUNAWAY_OFFENCES_PER_CHILD_YEAR * sc.population.population_10_17

    def check(model) -> None:
        if model.events.offences.n > cap * model.week / WEEKS_PER_YEAR:
            raise Runaway

    return simulation.simulate(sc, seed, after_year=check).summary


def simulate_settings(
    scenarios: Mapping[str, Scenario],
    theta: Mapping[str, float],
    seed: int,
    scale: float,
    statistics: Sequence[tuple[str, str]],
) -> dict[str, float]:
    """Run each setting with the parameter set ``theta``; return ``{"setting.stat": x}``
    (NaN for each statistic of a setting whose offending ran away)."""
    return simulate_settings_with_runaways(scenarios, theta, seed, scale, statistics)[0]


def simulate_settings_with_runaways(
    scenarios: Mapping[str, Scenario],
    theta: Mapping[str, float],
    seed: int,
    scale: float,
    statistics: Sequence[tuple[str, str]],
) -> tuple[dict[str, float], list[str]]:
    """As :func:`simulate_settings`, and the settings whose offending ran away (their
    statistics are NaN, as an undefined statistic is; the sensitivity analysis tells the
    two apart)."""
    out: dict[str, float] = {}
    ran_away: list[str] = []
    wanted: dict[str, list[str]] = {}
    for setting, stat in statistics:
        wanted.setdefault(setting, []).append(stat)
    for setting, stats in wanted.items():
        try:
            values = statistics_of(simulate_guarded(scenarios[setting], seed, theta), scale)
        except Runaway:
            values = {}
            ran_away.append(setting)
        for stat in stats:
            out[f"{setting}.{stat}"] = values.get(stat, math.nan)
    return out, ran_away


def distance(stats: Mapping[str, float], targets: Sequence[Target]) -> float:
    """Sum of squared misfits (in tolerances) over the fitted targets."""
    total = 0.0
    for t in targets:
        if not t.fit:
            continue
        m = t.misfit(stats.get(f"{t.setting}.{t.statistic}", math.nan))
        if not math.isfinite(m):
            return UNDEFINED_DISTANCE
        total += m * m
    return total


def settings_in_fitting_order(targets: Sequence[Target]) -> list[str]:
    """Every setting with a target, those with the most fitted targets first (ties in
    the order listed): the likeliest to reject a simulation run first."""
    counts: dict[str, int] = {}
    for t in targets:
        counts[t.setting] = counts.get(t.setting, 0) + int(t.fit)
    return sorted(counts, key=lambda setting: -counts[setting])


def simulate_until(
    scenarios: Mapping[str, Scenario],
    theta: Mapping[str, float],
    seed: int,
    scale: float,
    targets: Sequence[Target],
    threshold: float,
) -> tuple[dict[str, float], float, bool]:
    """Run the settings one at a time, the one with the most fitted targets first, and
    stop as soon as the targets of the settings run so far add up to more than
    ``threshold``. The distance is a sum of squares, so the settings not yet run could
    only add to it: the simulation is rejected either way, and the rest of its cost is
    saved. Returns the statistics, the distance (of the settings run) and whether every
    setting ran. Each setting runs with the same seed whatever the order, so a
    simulation that completes gives exactly what :func:`simulate_settings` gives."""
    out: dict[str, float] = {}
    done: set[str] = set()
    total = 0.0
    for setting in settings_in_fitting_order(targets):
        stats = [(t.setting, t.statistic) for t in targets if t.setting == setting]
        out.update(simulate_settings(scenarios, theta, seed, scale, stats))
        done.add(setting)
        total = distance(out, [t for t in targets if t.setting in done])
        if total > threshold:
            return out, total, False
    return out, total, True


# -- ABC-SMC ---------------------------------------------------------------------------


def _progress_enabled() -> bool:
    return sys.stderr.isatty()


def calibrate(
    path: str | Path,
    *,
    workers: int | None = None,
    fresh: bool = False,
    log: Callable[[str], None] = print,
) -> Path:
    """Run (or resume) the ABC-SMC of a config; write the posterior Parquet; return its path.

    Resumes from the last saved generation, and within the generation in progress from
    its journal: an interruption loses only the simulations it stopped."""
    import pyabc

    from sim.fit_journal import JournalledSampler, generation_key

    cal = Calibration(path)
    cfg = cal.config
    workers = workers or len(os.sched_getaffinity(0))
    scenarios = cal.fit_scenarios()
    priors = cal.priors
    scale = cfg.simulation.scale
    targets = cal.targets

    class EarlyRejection(pyabc.IntegratedModel):
        """Simulates, measures and accepts in one: stops once a simulation is certain to
        miss the generation's threshold (:func:`simulate_until`)."""

        def integrated_simulate(self, pars, eps: float) -> pyabc.ModelResult:
            theta = {p.name: float(p.natural(float(pars[p.key]))) for p in priors}
            # pyabc draws from numpy's global state, which its sampler seeds in each worker.
            seed = int(np.random.randint(0, 2**31 - 1))  # noqa: NPY002
            # A simulation stopped early is over the threshold by construction.
            out, total, _ = simulate_until(scenarios, theta, seed, scale, targets, eps)
            if total > eps:
                return pyabc.ModelResult(accepted=False)
            # Kept with each accepted particle: every target's statistic, the reported
            # ones too (a setting runs for all of its targets).
            out["distance"] = total
            return pyabc.ModelResult(sum_stat=out, distance=total, accepted=True)

    def abc_distance(x: dict, x0: dict) -> float:
        return float(x["distance"])

    prior = pyabc.Distribution(**{p.key: p.rv() for p in priors})
    # pyabc's multicore sampler, journalling each simulation: an interrupted generation
    # resumes where it stopped (sim/fit_journal.py).
    sampler = JournalledSampler(n_procs=workers, journal=cal.journal_path, log=log)
    sampler.show_progress = _progress_enabled()
    np.random.seed(cfg.abc.seed)  # noqa: NPY002 (pyabc's priors use the global state)
    db = cal.history_path
    db.parent.mkdir(parents=True, exist_ok=True)
    resume = db.is_file() and not fresh
    if resume and not cal.history_is_this_fit():
        raise CalibrationError(
            cal.path,
            "",
            f"{db} holds a calibration of a different config or targets; "
            "run with --fresh to start again",
        )
    # The first generation accepts every simulation that did not run away, so no
    # separate calibration sample is spent on the first threshold. A resumed run
    # starts from the median distance of the last saved generation, as it would have
    # gone on (pyabc applies the initial threshold to a run's first generation).
    first_eps = UNDEFINED_DISTANCE / 2
    if resume:
        import pyabc.weighted_statistics as ws

        saved = pyabc.History(f"sqlite:///{db}", _id=1)
        if saved.max_t >= 0:
            d = saved.get_weighted_distances(t=saved.max_t)
            first_eps = float(ws.weighted_median(d["distance"].to_numpy(), d["w"].to_numpy()))
    abc = pyabc.ABCSMC(
        EarlyRejection(),
        prior,
        abc_distance,
        population_size=cfg.abc.population_size,
        transitions=pmc_transition(),
        sampler=sampler,
        eps=pyabc.QuantileEpsilon(initial_epsilon=first_eps, alpha=0.5),
    )
    fingerprint = cal.fingerprint()
    sampler.key_of = lambda t: generation_key(fingerprint, t, abc.eps(t))
    if resume:
        abc.load(f"sqlite:///{db}", abc_id=1)
        done = abc.history.max_t + 1
        log(f"resuming {db.name}: {done} generation(s) done")
    else:
        db.unlink(missing_ok=True)
        sampler.clear()  # an interrupted generation of the fit being replaced
        abc.new(f"sqlite:///{db}", {"distance": 0.0})
        cal.fingerprint_path.write_text(fingerprint + "\n")
        done = 0
    _quiet_pyabc()
    start = time.perf_counter()
    if done < cfg.abc.generations and not _converged(abc.history, cfg.abc.min_epsilon):
        abc.run(
            minimum_epsilon=cfg.abc.min_epsilon,
            max_nr_populations=cfg.abc.generations - done,  # pyabc counts from t0
            max_walltime=timedelta(minutes=cfg.abc.max_minutes),
        )
    # pyabc stops between generations: every journalled generation is now in the history.
    sampler.clear()
    log(f"ABC-SMC: {time.perf_counter() - start:.0f} s this session")
    gens = generations_table(abc.history)
    for row in gens.itertuples():
        log(
            f"  generation {row.generation}: epsilon {row.epsilon:.3g}, "
            f"{row.simulations} simulations, acceptance {row.acceptance:.2f}, "
            f"effective size {row.effective_size:.1f}"
        )
    t = posterior_generation(gens, cfg.abc.min_effective_size)
    if t != abc.history.max_t:
        log(
            f"generation {abc.history.max_t} has an effective size under "
            f"{cfg.abc.min_effective_size:g}: writing generation {t} as the posterior"
        )
    return write_posterior(cal, abc.history, gens, t)


def twice_the_covariance(effective_size: float, dimension: int) -> float:
    """The kernel's bandwidth factor of ABC population Monte Carlo: sqrt(2), so that the
    proposal's covariance is twice the weighted covariance of the last generation
    (Beaumont, Cornuet, Marin and Robert 2009, Biometrika 96: 983-990; beaumont-2009).
    pyabc's default, Silverman's rule for density estimation, gives 0.68 for 13
    parameters and 200 particles (a covariance of 0.46 times the sample's): with it the
    validity refit's first generation kept 18 particles' worth of 200, the few drawn
    where the narrow kernel barely reached taking most of the weight."""
    return math.sqrt(2.0)


def pmc_transition():  # -> pyabc.MultivariateNormalTransition
    """The ABC-SMC proposal: a Gaussian kernel of twice the last generation's covariance."""
    import pyabc

    return pyabc.MultivariateNormalTransition(bandwidth_selector=twice_the_covariance)


def _quiet_pyabc() -> None:
    logging.getLogger("ABC").setLevel(logging.INFO)
    for name in ("ABC.Distance", "ABC.Epsilon", "ABC.Sampler", "ABC.Adaptation"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _converged(history, min_epsilon: float) -> bool:
    if history.max_t < 0:
        return False
    pops = history.get_all_populations()
    return bool(pops["epsilon"].iloc[-1] <= min_epsilon)


def generations_table(history) -> pd.DataFrame:
    """Per generation: its epsilon, simulations run, acceptance rate, effective size."""
    pops = history.get_all_populations()
    pops = pops[pops["t"] >= 0]
    sims = pops["samples"].to_numpy()
    n = history.get_nr_particles_per_population()
    accepted = np.array([n.get(t, 0) for t in pops["t"]])
    ess = [effective_size(history.get_weighted_distances(t=int(t))["w"]) for t in pops["t"]]
    return pd.DataFrame(
        {
            "generation": pops["t"].to_numpy(),
            "epsilon": pops["epsilon"].to_numpy(),
            "simulations": sims,
            "acceptance": accepted / np.maximum(sims, 1),
            "effective_size": ess,
        }
    )


def posterior_generation(gens: pd.DataFrame, min_effective_size: float) -> int:
    """The latest generation whose weights are worth at least ``min_effective_size``
    equal particles (the last one if none is)."""
    ok = gens[gens["effective_size"] >= min_effective_size]
    return int((ok if len(ok) else gens)["generation"].iloc[-1])


def write_posterior(cal: Calibration, history, gens: pd.DataFrame, t: int) -> Path:
    """Generation ``t`` as a Parquet table (a row per particle), and the generations CSV."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    particles = history.get_population_extended(m=0, t=t)
    table = {p.name: p.natural(particles[f"par_{p.key}"].to_numpy(float)) for p in cal.priors}
    weights = particles["w"].to_numpy(float)
    table["weight"] = weights / weights.sum()
    table["distance"] = particles["distance"].to_numpy(float)
    row = gens[gens["generation"] == t].iloc[0]
    meta = {
        "yjsim.calibration": cal.config.name,
        "yjsim.fingerprint": cal.fingerprint(),
        "yjsim.generation": str(int(t)),
        "yjsim.generations_run": str(int(history.max_t) + 1),
        "yjsim.epsilon": f"{row['epsilon']:.6g}",
        "yjsim.effective_size": f"{row['effective_size']:.3g}",
        "yjsim.simulations": str(int(gens["simulations"].sum())),
        "yjsim.priors": json.dumps([p.model_dump() for p in cal.priors]),
    }
    out = cal.posterior_path
    tmp = out.with_name(out.name + ".tmp")
    pq.write_table(pa.table(table).replace_schema_metadata(meta), tmp)
    os.replace(tmp, out)
    gens.to_csv(cal.dir / f"generations-{cal.config.name}.csv", index=False)
    return out


def format_value(x: float) -> str:
    """A statistic for a table: thousands separated from 100, two decimals from 1, else three."""
    if abs(x) >= 100:
        return f"{x:,.0f}"
    if abs(x) >= 1:
        return f"{x:.2f}"
    return f"{x:.3f}"


# -- judging the fit -------------------------------------------------------------------


def pool_map(fn: Callable, tasks: Sequence, workers: int, label: str) -> list:
    """``fn`` over ``tasks`` on ``workers`` forked processes, in order, with a progress bar."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    from tqdm import tqdm

    bar = tqdm(total=len(tasks), desc=label, disable=not _progress_enabled(), unit="run")
    if workers <= 1:
        out = []
        for t in tasks:
            out.append(fn(t))
            bar.update()
        bar.close()
        return out
    ctx = mp.get_context("fork")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        futures = [pool.submit(fn, t) for t in tasks]
        for f in futures:
            f.add_done_callback(lambda _: bar.update())
        out = [f.result() for f in futures]
    bar.close()
    return out


def _check_run(task: tuple[Scenario, int, str]) -> dict[str, float]:
    sc, seed, setting = task
    summary = simulation.simulate(sc, seed).summary
    return {"setting": setting, "seed": seed, **statistics_of(summary, 1.0)}


def read_parameter_set(cal: Calibration, path: str | Path) -> dict[str, float]:
    """A parameter set from a TOML file of scenario tables (``[behaviour]`` then
    ``base_weekly_rate = 0.0012``, as ``yjsim fit-match`` prints its best set), by dotted
    name; each value a number that every setting's scenario accepts. Anything else raises
    :class:`CalibrationError` naming the file and the key."""
    from sim.tomlfile import read_toml

    data = read_toml(path, CalibrationError, "no such parameter file")
    flat: dict[str, float] = {}

    def walk(node: Mapping[str, Any], prefix: str) -> None:
        for key, value in node.items():
            name = f"{prefix}{key}"
            if isinstance(value, Mapping):
                walk(value, f"{name}.")
            elif isinstance(value, bool) or not isinstance(value, int | float):
                raise CalibrationError(path, name, f"expected a number, got {value!r}")
            else:
                flat[name] = float(value)

    walk(data, "")
    if not flat:
        raise CalibrationError(path, "", "no parameters (expected tables such as [behaviour])")
    for setting, sc in cal.scenarios.items():
        try:
            apply_overrides(sc, flat)
        except ScenarioError as e:
            raise CalibrationError(path, e.key, f"{e.message} (in setting {setting!r})") from None
    return flat


def check_fit(
    cal: Calibration,
    *,
    seeds: int = 20,
    draws: bool = False,
    workers: int | None = None,
    parameters: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Each setting's scenario at its own size, burn-in and years, over ``seeds`` seeds.

    Parameters are the posterior mean (what ``yjsim run`` uses), or with ``draws`` one
    posterior particle per seed (systematic resampling), which adds parameter
    uncertainty to the spread; or, given ``parameters``, that one parameter set (``yjsim
    fit-match``'s best candidate, judged as a posterior mean is; no posterior is read).
    One row per (setting, seed).
    """
    if parameters is not None and draws:
        raise ValueError("draws need a posterior; a given parameter set has none")
    picks = [0] * seeds
    if parameters is None:
        from sim.posterior import load_posterior

        post = load_posterior(cal.posterior_path)
        picks = post.pick(seeds, cal.config.abc.seed) if draws else picks

    def theta(i: int) -> Mapping[str, float]:
        return parameters if parameters is not None else post.draw(picks[i])

    tasks = []
    for setting, sc in cal.scenarios.items():
        for i in range(seeds):
            run = sc.run.model_copy(update={"seed": i + 1, "draw": picks[i]})
            tasks.append(
                (
                    apply_overrides(sc, dict(theta(i))).model_copy(update={"run": run}),
                    i + 1,
                    setting,
                )
            )
    workers = workers or len(os.sched_getaffinity(0))
    rows = pool_map(_check_run, tasks, workers, "check-fit")
    frame = pd.DataFrame(rows)
    frame["draw"] = np.tile(picks, len(cal.scenarios))
    return frame


def fit_table(cal: Calibration, runs: pd.DataFrame) -> pd.DataFrame:
    """Each target against its simulated distribution: mean, 90% interval, met or not."""
    rows = []
    for t in cal.targets:
        x = runs.loc[runs["setting"] == t.setting, t.statistic].to_numpy(float)
        x = x[np.isfinite(x)]
        mean = float(x.mean()) if x.size else math.nan
        rows.append(
            {
                "target": t.name,
                "setting": t.setting,
                "statistic": t.statistic,
                "wanted": t.wanted,
                "mean": mean,
                "q05": float(np.quantile(x, 0.05)) if x.size else math.nan,
                "q95": float(np.quantile(x, 0.95)) if x.size else math.nan,
                "met": t.met(mean),
                "fitted": t.fit,
                "source": t.source,
            }
        )
    return pd.DataFrame(rows)


# Each statistic a target may name, in words (the fit report's panels and the experiment
# report's table of targets missed).
STATISTIC_LABELS: dict[str, str] = {
    "children_cautioned_or_sentenced_per_year": "children cautioned or sentenced a year",
    "children_cautioned_or_sentenced_per_100k": "children cautioned or sentenced per 100,000",
    "proven_reoffending_rate": "proven reoffending rate (annual cohorts)",
    "proven_reoffending_rate_3_month_cohorts": "proven reoffending rate (3-month cohorts)",
    "yos_caseload_mean": "YOS caseload (mean)",
    "reoffences_per_reoffender": "reoffences per reoffender",
    "first_time_entrant_share": "first-time entrants / cautioned or sentenced",
    "offending_prevalence_10_17": "10-17s who offend in a year (self-report)",
    "frequent_offender_share_10_17": "10-17s who offend 6 or more times a year",
    "frequent_offender_offence_share": "share of offences by frequent offenders",
    "attrition_10_17": "share of 10-17s' offences proven",
    "first_reoffence_within_one_month": "reoffenders whose first reoffence is within a month",
    "remand_to_youth_detention_share": "remand episodes to youth detention",
    "remand_share_of_custody_population": "remand share of children in custody",
    "remanded_to_detention_not_sentenced_to_custody": (
        "remanded to youth detention, not then given custody"
    ),
    "peak_offending_age": "peak age of offending",
    "co_offended_share_of_offences_10_17": "10-17s' offences committed with others",
    "proven_share_violence": "violence share of proven offences",
    "proven_share_drugs": "drugs share of proven offences",
    "proven_share_robbery": "robbery share of proven offences",
    "disposal_share_pre_court": "pre-court share of disposals",
    "disposal_share_first_tier": "first-tier share of disposals",
    "disposal_share_community": "community share of disposals",
    "rri_black_cautioned_or_sentenced": "Black children's rate of caution or sentence (RRI)",
    "proven_reoffending_rate_no_previous_offences": "reoffending, no previous offence",
    "proven_reoffending_rate_1_2_previous_offences": "reoffending, 1-2 previous offences",
    "proven_reoffending_rate_after_youth_caution": "reoffending after a youth caution",
    "proven_reoffending_rate_after_referral_order": "reoffending after a referral order",
    "proven_reoffending_rate_after_youth_rehabilitation_order": (
        "reoffending after a youth rehabilitation order"
    ),
    "proven_reoffending_rate_after_custody": "reoffending after release from custody",
}


# What `yjsim check-fit` leaves beside its report for others to read: the verdicts, with
# the hash of the posterior they judge (an experiment's report finds its posterior's).
CHECK_RECORD = "check-fit.json"


def write_check_record(
    cal: Calibration, tables: dict[str, tuple[str, pd.DataFrame]], seeds: int
) -> Path:
    """``CHECK_RECORD`` in the report folder: each table of :func:`fit_table` (a row per
    target with its mean, 90% interval, verdict and the mean's signed misfit in
    tolerances), keyed by the SHA-256 of the posterior file judged. JSON only."""
    targets = {t.name: t for t in cal.targets}

    def plain(x: Any) -> Any:
        if isinstance(x, (bool, np.bool_)):
            return bool(x)
        if isinstance(x, (float, np.floating)):
            return float(x) if math.isfinite(x) else None
        return x

    record = {
        "format": 1,
        "config": cal.path.as_posix(),
        "posterior": cal.posterior_path.name,
        "posterior_sha256": hashlib.sha256(cal.posterior_path.read_bytes()).hexdigest(),
        "seeds": seeds,
        "tables": {
            key: [
                {k: plain(v) for k, v in row.items() if k != "source"}
                | {"misfit": plain(targets[row["target"]].misfit(row["mean"]))}
                for row in table.to_dict("records")
            ]
            for key, (_what, table) in tables.items()
        },
    }
    path = cal.report_dir / CHECK_RECORD
    path.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    return path


def format_fit_table(table: pd.DataFrame, seeds: int, what: str) -> str:
    """The fit table as Markdown."""
    lines = [
        f"Each setting's scenario at full size, its own burn-in and years, {seeds} seeds, "
        f"{what}. Mean and 90% interval over the seeds.",
        "",
        "| target | setting | wanted | simulated mean | 90% interval | met | fitted |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in table.itertuples():
        lines.append(
            f"| {r.target} | {r.setting} | {r.wanted} | {format_value(r.mean)} | "
            f"{format_value(r.q05)} to {format_value(r.q95)} | {'yes' if r.met else 'no'} | "
            f"{'yes' if r.fitted else 'reported only'} |"
        )
    return "\n".join(lines)
