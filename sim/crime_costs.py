"""What the offences themselves cost society, and how much harm they do.

Two valuations of a run's true offences, one per offence type (``OFFENCE_TYPES``):

- the economic and social cost of crime, after the Home Office's unit costs per offence
  (Heeks, Reed, Tafsiri and Prince 2018, Research Report 99, 2015/16 prices): costs in
  anticipation of crime, as its consequence (harm to victims, lost output, health
  services) and in response to it;
- a harm-weighted count after the Cambridge Crime Harm Index (Sherman, Neyroud and
  Neyroud 2016): each offence counts the days of custody of its sentencing guideline's
  starting point for a first offender, so a robbery weighs far more than a theft.

The model's five types are broader than either source's categories, so each value is
a mapping with its assumptions, declared as a (low, central, high) triple: the central
value is used, and the band is carried to the report as the range of the valuation.
Where the figure could not be read, or the source has no category (drug supply and
weapon carrying are "crimes against society", which Heeks et al. leave out), the value
is an assumption with a wide band, and says so. The fields are part of the scenario's
``[costs]`` section (``sim/costs.py``), so ``yjsim params`` lists them and a scenario
file may set its own.

Known overlap: Heeks et al.'s unit costs include the police and criminal justice
response averaged over every offence, and the model prices its own justice pathway
(``cost_per_year_gbp``), so a net social cost that adds the two counts the response
to a detected offence twice; the response share of each unit cost was not read, so
the overlap is not removed (docs/experiments.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import numpy as np
from pydantic import Field, model_validator

from sim.calendar import WEEKS_PER_YEAR
from sim.events import OFFENCE_TYPES
from sim.params import MAX_GBP, Params, param

# A (low, central, high) triple of pounds or of days of custody.
GBP = Annotated[float, Field(ge=0, le=MAX_GBP)]
# The longest starting point a harm weight may take: life, counted as 100 years of days.
MAX_HARM_DAYS = 36_500.0
Days = Annotated[float, Field(ge=0, le=MAX_HARM_DAYS)]
BAND = ("low", "central", "high")


class CrimeValueParams(Params):
    """Unit cost (GBP per offence) and harm weight (days) of each offence type.

    Mixed into :class:`sim.costs.CostParams`: the fields appear as ``costs.crime_cost_*``
    and ``costs.harm_days_*``.
    """

    crime_cost_minor: tuple[GBP, GBP, GBP] = param(
        (870, 1_500, 3_000),
        unit="GBP per offence (low, central, high), 2015/16 prices",
        basis="assumed",
        source="heeks-2018",
        doc="the model's minor offences are thefts, burglary, vehicle theft and criminal "
        "damage (behaviour.offence_mix); Heeks et al.'s unit costs read are theft from a "
        "vehicle GBP 870 and criminal damage other than arson GBP 1,350 (the low end), and "
        "theft of a vehicle GBP 10,290, a small part of children's minor offending that "
        "pulls the mean up; other theft and burglary were not read. Central and high "
        "assumed",
    )
    crime_cost_drugs: tuple[GBP, GBP, GBP] = param(
        (0, 500, 5_000),
        unit="GBP per offence (low, central, high), 2015/16 prices",
        basis="assumed",
        source="heeks-2018",
        doc="no Home Office unit cost: Heeks et al. leave out crimes against society, "
        "drug offences among them; the harm of supply falls on users and neighbourhoods "
        "and is not valued there. Assumed, with a band from nothing to a few thousand",
    )
    crime_cost_violence: tuple[GBP, GBP, GBP] = param(
        (3_000, 8_000, 14_050),
        unit="GBP per offence (low, central, high), 2015/16 prices",
        basis="assumed",
        source="heeks-2018",
        doc="Heeks et al. value violence with injury at GBP 14,050 (the high end: every "
        "offence an injury); violence without injury, most of children's self-reported "
        "assaults, costs less but its figure was not read. Central and low assumed",
    )
    crime_cost_robbery: tuple[GBP, GBP, GBP] = param(
        (11_320, 11_320, 11_320),
        unit="GBP per offence (low, central, high), 2015/16 prices",
        basis="sourced",
        source="heeks-2018",
        doc="Heeks et al.'s robbery (of individuals) GBP 11,320, a point estimate with no "
        "interval given; children's robberies are mostly of personal property",
    )
    crime_cost_weapon: tuple[GBP, GBP, GBP] = param(
        (0, 500, 5_000),
        unit="GBP per offence (low, central, high), 2015/16 prices",
        basis="assumed",
        source="heeks-2018",
        doc="no Home Office unit cost for carrying a weapon (a crime against society, "
        "left out by Heeks et al.); the violence it leads to is valued as violence. "
        "Assumed, with a band from nothing to a few thousand",
    )
    harm_days_minor: tuple[Days, Days, Days] = param(
        (1, 5, 30),
        unit="days of custody per offence (low, central, high)",
        basis="assumed",
        source="sherman-2016",
        doc="Cambridge Crime Harm Index method (the sentencing guideline's starting point "
        "for a first offender, fines as days of minimum-wage earnings); thefts and "
        "criminal damage start at fines or community orders, but the index's values for "
        "them were not read: assumed",
    )
    harm_days_drugs: tuple[Days, Days, Days] = param(
        (0, 0, 0),
        unit="days of custody per offence (low, central, high)",
        basis="sourced",
        source="sherman-2016",
        doc="the Cambridge index leaves out offences found by proactive policing (drug "
        "offences among them), which measure police activity rather than harm to victims",
    )
    harm_days_violence: tuple[Days, Days, Days] = param(
        (2, 20, 180),
        unit="days of custody per offence (low, central, high)",
        basis="assumed",
        source="sherman-2016",
        doc="Cambridge Crime Harm Index method; children's violence is mostly common "
        "assault (a fine at the starting point) with some assault occasioning actual "
        "bodily harm (a community order or custody); the index's values were not read: "
        "assumed, with a wide band",
    )
    harm_days_robbery: tuple[Days, Days, Days] = param(
        (90, 365, 1_460),
        unit="days of custody per offence (low, central, high)",
        basis="assumed",
        source="sherman-2016",
        doc="Cambridge Crime Harm Index method; a street robbery's starting point is a "
        "custodial sentence, but the index's value was not read: assumed a year, with a "
        "band from three months to four years",
    )
    harm_days_weapon: tuple[Days, Days, Days] = param(
        (0, 0, 0),
        unit="days of custody per offence (low, central, high)",
        basis="sourced",
        source="sherman-2016",
        doc="the Cambridge index leaves out offences found by proactive policing (weapon "
        "possession among them); the violence carrying leads to counts as violence",
    )

    @model_validator(mode="after")
    def _bands_in_order(self) -> CrimeValueParams:
        for name in type(self).model_fields:
            if name.startswith(("crime_cost_", "harm_days_")):
                low, central, high = getattr(self, name)
                if not low <= central <= high:
                    raise ValueError(
                        f"{name}: expected low <= central <= high, got {(low, central, high)}"
                    )
        return self


def true_offences_by_type(
    type_codes: np.ndarray, weeks: np.ndarray, start_week: int, end_week: int, years: float
) -> dict[str, float]:
    """Offences a year of each type committed in weeks [start_week, end_week)."""
    window = (weeks >= start_week) & (weeks < end_week)
    counts = np.bincount(np.asarray(type_codes)[window], minlength=len(OFFENCE_TYPES))
    return {t: float(counts[i]) / years for i, t in enumerate(OFFENCE_TYPES)}


def valued(per_year: Mapping[str, float], params: CrimeValueParams, what: str) -> dict[str, float]:
    """Each type's offences a year times its ``what`` ("crime_cost" or "harm_days").

    Each type at its central value, the ``total``, and ``total_low`` and ``total_high``:
    the total with every type at the low (high) end of its band.
    """
    out: dict[str, float] = {}
    totals = dict.fromkeys(BAND, 0.0)
    for t in OFFENCE_TYPES:
        band = dict(zip(BAND, getattr(params, f"{what}_{t}"), strict=True))
        out[t] = per_year[t] * band["central"]
        for k in BAND:
            totals[k] += per_year[t] * band[k]
    out["total"] = totals["central"]
    out["total_low"], out["total_high"] = totals["low"], totals["high"]
    return out


def crime_outputs(
    type_codes: np.ndarray,
    weeks: np.ndarray,
    start_week: int,
    end_week: int,
    params: CrimeValueParams,
) -> dict[str, Any]:
    """The summary's keys: true offences a year by type, their cost and their harm."""
    years = max(end_week - start_week, 1) / WEEKS_PER_YEAR
    per_year = true_offences_by_type(type_codes, weeks, start_week, end_week, years)
    return {
        "true_offences_per_year_by_type": per_year,
        "crime_cost_per_year_gbp": valued(per_year, params, "crime_cost"),
        "crime_harm_days_per_year": valued(per_year, params, "harm_days"),
    }
