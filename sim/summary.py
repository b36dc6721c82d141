"""From a finished run to its outputs: the summary (annual means) and the weekly series.

All figures are annual means over the measured years (after burn-in); the
reoffending cohorts are annual (each child's first index event in each measured
year), followed up in the extra 79 weeks the model runs after them.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim import metrics
from sim.calendar import DAYS_PER_WEEK, WEEKS_PER_YEAR
from sim.costs import pathway_costs
from sim.crime_costs import crime_outputs
from sim.events import DISPOSALS, labels
from sim.faults import write_atomically
from sim.model import YouthJusticeModel
from sim.population import ETHNIC_GROUPS, SEXES

# 2: prevalence, attrition, disposal mix, co-offending, reoffence timing; 3 (issue 17):
# remand, acquittals, first-tier disposals, disposal tiers, proven offence mix, RRIs at five
# stages with intervals and per head, reoffences within a month, onset and persistence;
# 4: offending frequency (the survey's frequent offenders); 5: RRIs at the court (charging)
# and remand stages
OUTPUT_SCHEMA_VERSION = 5


def people_frame(model: YouthJusticeModel) -> pd.DataFrame:
    """Everyone who was ever in the run: id, sex, ethnic group, birth day."""
    ppl = model.people
    n = ppl.n
    return pd.DataFrame(
        {
            "person": np.arange(n),
            "sex": labels(SEXES, ppl.sex[:n]),
            "ethnic_group": labels(ETHNIC_GROUPS, ppl.ethnic[:n]),
            "birth_day": np.floor(ppl.birth_week[:n] * DAYS_PER_WEEK).astype(np.int64),
            "borough": ppl.borough[:n].astype(np.int64),
        },
        copy=False,  # fresh arrays: no copy, nor a stacked copy of the int columns
    )


def _clean(value: Any) -> Any:
    """JSON-safe: NaN becomes null, numpy scalars become Python numbers."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return None if math.isnan(value) else float(value)
    return value


def summarise(model: YouthJusticeModel) -> dict[str, Any]:
    """The run's summary: the keys documented in the README, annual means."""
    years = model.measured_weeks / WEEKS_PER_YEAR
    start = model.burn_in_weeks * DAYS_PER_WEEK
    end = (model.burn_in_weeks + model.measured_weeks) * DAYS_PER_WEEK
    people = people_frame(model)
    # The measures read no offence's gravity (0.1 GB for London); the type marks stop and
    # search (drugs and weapons).
    offences = model.events.offences_frame(
        ("person", "day", "type", "detected", "proven_day", "disposal", "co_group")
    )
    disposals = model.events.disposals_frame()
    releases = model.events.releases_frame()

    reoff = metrics.proven_reoffending(people, offences, disposals, releases, start, end)
    # Only the rate of the quarterly cohorts is reported: their cohort is not held.
    reoff_rate_3m = metrics.proven_reoffending(
        people,
        offences,
        disposals,
        releases,
        start,
        end,
        cohort_days=metrics.QUARTER_COHORT_DAYS,
    ).rate
    year_starts = [start + k * WEEKS_PER_YEAR * DAYS_PER_WEEK for k in range(int(years))]
    year_len = WEEKS_PER_YEAR * DAYS_PER_WEEK
    cautioned = [
        metrics.children_cautioned_or_sentenced(disposals, s, s + year_len) for s in year_starts
    ]
    fte = [metrics.first_time_entrants(people, disposals, s, s + year_len) for s in year_starts]
    population = model.tally.person_weeks_10_17 / max(model.measured_weeks, 1)
    counts = metrics.true_and_proven_offences(offences, start, end)
    person_years_by_age = {
        a: model.tally.person_weeks_by_age[a] / WEEKS_PER_YEAR
        for a in range(10, model.tally.person_weeks_by_age.size)
    }
    by_age = {}
    for s in year_starts:
        for k, v in metrics.offending_rate_by_age(
            people,
            offences,
            s,
            s + year_len,
            {a: py / years for a, py in person_years_by_age.items()},
        ).items():
            by_age.setdefault(k, []).append(v)
    population_by_group = {
        g: model.tally.person_weeks_by_group[i] / max(model.measured_weeks, 1)
        for i, g in enumerate(ETHNIC_GROUPS)
    }
    rri = disproportionality(model, people, offences, disposals, start, end, population_by_group)
    t = model.tally.totals
    mix = metrics.disposal_mix(disposals, start, end)
    summary = {
        "schema_version": OUTPUT_SCHEMA_VERSION,
        "scenario": model.params.name,
        "seed": model.seed,
        "parameters": model.params.parameters,
        "draw": model.params.run.draw,
        "years": int(years),
        "burn_in_years": model.params.run.burn_in_years,
        "population_10_17": population,
        "children_cautioned_or_sentenced_per_year": float(np.mean(cautioned)),
        "first_time_entrants_per_year": float(np.mean(fte)),
        "first_time_entrants_per_100k": metrics.per_100k(float(np.mean(fte)), population),
        "proven_reoffending_rate": reoff.rate,
        "reoffences_per_reoffender": reoff.frequency,
        "proven_reoffending_rate_3_month_cohorts": reoff_rate_3m,
        "reoffending_cohort_per_year": reoff.cohort_size / years,
        "reoffending_rate_by_previous_offences": reoff.by("previous_band"),
        "reoffending_rate_by_index_disposal": reoff.by("index_kind"),
        "reoffending_rate_by_age": reoff.by("age_at_index"),
        "reoffending_rate_by_age_band": reoff.by("age_band"),
        "time_to_first_reoffence": metrics.time_to_first_reoffence(reoff.cohort),
        "reoffending_rate_by_sex": reoff.by("sex"),
        "reoffending_rate_by_ethnic_group": reoff.by("ethnic_group"),
        "reoffending_cohort_true_offences_before_index": _entrenchment(reoff.cohort, offences),
        "reoffending_cohort_by_previous_offences": {
            k: int(v) for k, v in reoff.cohort["previous_band"].value_counts().items()
        },
        "yos_caseload_mean": t["yos_caseload_weeks"] / max(model.measured_weeks, 1),
        "custody_population_mean": t["custody_weeks"] / max(model.measured_weeks, 1),
        "true_offences_per_year": counts["true"] / years,
        "proven_offences_per_year": counts["proven"] / years,
        "detected_offences_per_year": t["detected"] / years,
        "arrests_per_year": t["arrests"] / years,
        "diversions_per_year": t["diverted"] / years,
        "custody_sentences_per_year": t["custody_starts"] / years,
        "offending_rate_by_age": {k: float(np.nanmean(v)) for k, v in by_age.items()},
        "offending_prevalence_10_17": metrics.offending_prevalence(
            people, offences, start, end, population
        ),
        "offending_frequency_10_17": metrics.offending_frequency(
            people, offences, start, end, population
        ),
        "attrition_10_17": metrics.attrition(people, offences, start, end),
        "onset_and_persistence": metrics.onset_and_persistence(people, offences, start, end),
        "disposal_mix": mix,
        "disposal_mix_by_tier": metrics.disposal_tiers(mix),
        "proven_offence_mix": metrics.proven_offence_mix(
            people, offences, model.events.offences["type"], start, end
        ),
        "remand_share_of_custody_population": (
            t["remand_custody_weeks"] / t["custody_weeks"] if t["custody_weeks"] else math.nan
        ),
        "remand": metrics.remand_episodes(
            model.police.book.cases, model.burn_in_weeks, model.burn_in_weeks + model.measured_weeks
        ),
        "disposals_per_year": metrics.disposals_per_year(
            disposals, start, end, tuple(k for k in DISPOSALS if k != "nfa")
        ),
        "co_offending": metrics.co_offending(people, offences, start, end),
        **rri,
        "cost_per_year_gbp": cost_per_year(model),
        "intervention_reach": {i.name: i.outputs(years)["reach"] for i in model.interventions},
        "intervention_caseload": {
            i.name: i.outputs(years)["caseload"] for i in model.interventions
        },
        "intervention_outputs": {i.name: i.outputs(years) for i in model.interventions},
        # What the offences cost society and the harm they do (sim/crime_costs.py).
        **crime_outputs(
            model.events.offences["type"],
            model.events.offences["week"],
            model.burn_in_weeks,
            model.burn_in_weeks + model.measured_weeks,
            model.params.costs,
        ),
    }
    if model.geography.n_boroughs > 1:
        summary["by_borough"] = by_borough(model, people, offences, disposals, reoff)
    return _clean(summary)


def disproportionality(
    model: YouthJusticeModel,
    people: pd.DataFrame,
    offences: pd.DataFrame,
    disposals: pd.DataFrame,
    start: int,
    end: int,
    population_by_group: dict[str, float],
) -> dict[str, Any]:
    """Relative rate indices at every stage with 95% intervals (metrics.disproportionality):
    the stages of the offence and disposal logs, and children put on the gangs list in the
    measured years (listed under 18), per head and per gang member aged 10-17."""
    counts = metrics.stage_children(people, offences, disposals, start, end)
    ppl = model.people
    listed_week = ppl.gang_listed_week[: ppl.n]
    listed = np.flatnonzero(
        (listed_week >= model.burn_in_weeks)
        & (listed_week < model.burn_in_weeks + model.measured_weeks)
        & ((listed_week - ppl.birth_week[: ppl.n]) / WEEKS_PER_YEAR < 18)
    )
    counts["gang_listing"] = pd.Series(
        np.bincount(ppl.ethnic[listed], minlength=len(ETHNIC_GROUPS)), index=list(ETHNIC_GROUPS)
    )
    counts["remand_detention"] = metrics.remanded_children_by_group(
        model.police.book.cases,
        model.people.ethnic,
        model.burn_in_weeks,
        model.burn_in_weeks + model.measured_weeks,
    )
    weeks = max(model.measured_weeks, 1)
    members = {
        g: model.tally.gang_member_weeks_by_group[i] / weeks for i, g in enumerate(ETHNIC_GROUPS)
    }
    return metrics.disproportionality(counts, population_by_group, members, seed=model.seed)


def _entrenchment(cohort: pd.DataFrame, offences: pd.DataFrame) -> dict[str, float]:
    """True offences each cohort member committed before their index event (model-only).

    The MoJ bands count *proven* previous offences, so diversion, which leaves no
    record, hides how entrenched the formal cohort is; the model knows the truth.
    """
    if cohort.empty:
        return {"mean": float("nan"), "median": float("nan")}
    # Counted by bisection on (person, day) pairs sorted as one integer each: a merge of
    # offences with index events held every offence once per index of its person (about
    # 1 GB for London's 12 million offences).
    person = offences["person"].to_numpy(np.int64)  # int64 keys below
    day = offences["day"].to_numpy()
    index_person = cohort["person"].to_numpy(np.int64)
    index_day = cohort["index_day"].to_numpy(np.int64)
    mine = np.zeros(int(max(person.max(initial=0), index_person.max())) + 1, dtype=bool)
    mine[index_person] = True  # ids are >= 0: a marker array, not a sort as np.isin makes
    mine = mine[person]
    span = int(max(day.max(initial=0), index_day.max())) + 1  # days are >= 0
    keys = np.sort(person[mine] * span + day[mine])
    before = np.searchsorted(keys, index_person * span + index_day, side="left")
    counts = before - np.searchsorted(keys, index_person * span, side="left")
    return {"mean": float(counts.mean()), "median": float(np.median(counts))}


def by_borough(
    model: YouthJusticeModel,
    people: pd.DataFrame,
    offences: pd.DataFrame,
    disposals: pd.DataFrame,
    reoffending: metrics.ReoffendingResult,
) -> dict[str, dict[str, float]]:
    """Headline figures for each borough of a multi-borough area, by home borough.

    The area's measures are computed once and grouped by borough (the same
    definitions as ``sim.metrics``, so the boroughs add up to the area).
    """
    names = model.geography.borough_names
    n_b = len(names)
    years = model.measured_weeks / WEEKS_PER_YEAR
    start = model.burn_in_weeks * DAYS_PER_WEEK
    end = (model.burn_in_weeks + model.measured_weeks) * DAYS_PER_WEEK
    year_len = WEEKS_PER_YEAR * DAYS_PER_WEEK
    home = metrics.by_person(people, "borough")

    # Ids 0..n-1 (a run's people frame): a person's home is at their row.
    home_of = home.to_numpy() if isinstance(home.index, pd.RangeIndex) else None

    def per_borough(persons: pd.Series | np.ndarray) -> np.ndarray:
        ids = np.asarray(persons)
        of = home_of[ids] if home_of is not None else home.loc[ids].to_numpy()
        return np.bincount(of, minlength=n_b).astype(float)

    formal = disposals[disposals["kind"].isin(metrics.FORMAL_KINDS) & ~disposals["adult"]]
    in_window = formal[(formal["day"] >= start) & (formal["day"] < end)]
    year = (in_window["day"] - start) // year_len
    distinct = in_window.assign(year=year).drop_duplicates(["person", "year"])["person"]
    cautioned = per_borough(distinct) / years
    first = formal.groupby("person")["day"].min()
    fte = per_borough(first[(first >= start) & (first < end)].index.to_series()) / years

    def offences_per_borough(persons: np.ndarray) -> np.ndarray:
        """Offences by the offender's home borough: counted per person, then summed (whole
        numbers: the same floats), with no borough array as long as the offences."""
        if home_of is None:
            return per_borough(persons)
        per_person = np.bincount(persons, minlength=home_of.size)
        return np.bincount(home_of, weights=per_person, minlength=n_b)

    # The measured years' rows: a view of the log (in time order), not a copy.
    rows = metrics.window_rows(offences["day"].to_numpy(), start, end)
    person = offences["person"].to_numpy()[rows]
    true = offences_per_borough(person) / years
    proven = offences_per_borough(person[metrics.formally_proven(offences)[rows]]) / years
    cohort = reoffending.cohort
    b_of = home.loc[cohort["person"]].to_numpy()
    size = np.bincount(b_of, minlength=n_b)
    reoffenders = np.bincount(b_of, weights=cohort["reoffended"].to_numpy(float), minlength=n_b)
    population = model.tally.person_weeks_by_borough / max(model.measured_weeks, 1)
    out = {}
    for b, name in enumerate(names):  # a loop over boroughs, assembling the rows
        out[name] = {
            "population_10_17": float(population[b]),
            "children_cautioned_or_sentenced_per_year": float(cautioned[b]),
            "first_time_entrants_per_year": float(fte[b]),
            "first_time_entrants_per_100k": metrics.per_100k(float(fte[b]), population[b]),
            "proven_reoffending_rate": float(reoffenders[b] / size[b]) if size[b] else math.nan,
            "true_offences_per_year": float(true[b]),
            "proven_offences_per_year": float(proven[b]),
        }
    return out


def cost_per_year(model: YouthJusticeModel) -> dict[str, float]:
    """GBP per measured year: pathway items, each intervention, and the total."""
    years = model.measured_weeks / WEEKS_PER_YEAR
    items = pathway_costs(model)
    for item in model.interventions:
        items[item.name] = item.outputs(years)["cost_per_year_gbp"]
    items["total"] = float(sum(items.values()))
    return items


def timeseries(model: YouthJusticeModel) -> pd.DataFrame:
    """The weekly series the DataCollector recorded, one row per week."""
    df = model.datacollector.get_model_vars_dataframe().reset_index(drop=True)
    df.insert(1, "year", df["week"] // WEEKS_PER_YEAR)
    df.insert(
        2,
        "measured",
        (df["week"] >= model.burn_in_weeks)
        & (df["week"] < model.burn_in_weeks + model.measured_weeks),
    )
    return df


def write_outputs(out: Path, summary: dict[str, Any], series: pd.DataFrame) -> None:
    """``summary.json`` and ``timeseries.parquet`` in ``out``, each written atomically."""
    out.mkdir(parents=True, exist_ok=True)

    def _json(tmp: str) -> None:
        Path(tmp).write_text(json.dumps(summary, indent=2, sort_keys=False) + "\n")

    write_atomically(out / "summary.json", _json)
    write_atomically(out / "timeseries.parquet", lambda tmp: series.to_parquet(tmp, index=False))
