"""Unit costs of the justice pathway, for ``cost_per_year_gbp`` in the summary.

Interventions report their own costs (each module declares its unit costs);
this module prices what the pathway itself uses, from the run's totals. The
``[costs]`` section also holds the value of the offences themselves (their cost to
society and their harm), declared in :mod:`sim.crime_costs`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.calendar import WEEKS_PER_YEAR
from sim.crime_costs import CrimeValueParams
from sim.events import DISCHARGES_AND_FINES, FIRST_COURT_KIND, KIND, OUT_OF_COURT_DISPOSALS
from sim.params import MAX_GBP, param

if TYPE_CHECKING:
    from sim.model import YouthJusticeModel


# The items of ``pathway_costs``, in its order: what the justice pathway costs. The rest of
# ``cost_per_year_gbp`` (but its total) is the programmes' (interventions') cost.
PATHWAY_ITEMS: tuple[str, ...] = (
    "custody",
    "remand_custody",
    "yos_supervision",
    "court",
    "police_arrests",
    "out_of_court_disposals",
    "first_tier_sentences",
    "referral_order_panels",
)
# The unit cost parameter (``costs.NAME``) behind each pathway item.
PATHWAY_UNIT_COSTS: dict[str, str] = {
    "custody": "custody_place_per_year",
    "remand_custody": "custody_place_per_year",
    "yos_supervision": "yos_supervision_per_year",
    "court": "court_case",
    "police_arrests": "arrest",
    "out_of_court_disposals": "out_of_court_disposal",
    "first_tier_sentences": "first_tier_sentence",
    "referral_order_panels": "referral_order_panel",
}


class CostParams(CrimeValueParams):
    """Unit costs (GBP, prices of the source year), and the value of offences.

    Price years: the arrest (the Unit Cost Database's uplift to 2015/16 prices) and the
    offences' costs (Heeks et al., 2015/16) share one; the custody place is the Children's
    Commissioner's 2019 figure for the children detained in 2018, whose price year was not
    read (about 2017/18, a few per cent above 2015/16 prices) and is not deflated; the
    assumed costs have none.
    """

    custody_place_per_year: float = param(
        100_000,
        unit="GBP per place-year",
        basis="sourced",
        le=MAX_GBP,
        ge=0,
        source="commissioner-2019",
        doc="blend weighted towards YOIs, where most children in custody are held (a "
        "place a year: secure children's home ~GBP 210k, secure training centre GBP 160k, "
        "young offender institution GBP 76k)",
    )
    yos_supervision_per_year: float = param(
        8_000,
        unit="GBP per case-year",
        basis="assumed",
        le=MAX_GBP,
        ge=0,
        source="new-economy-ucd-2015",
        doc="a YOS budget of a few GBP million over a few hundred cases a year. A YOT case "
        "manager costs GBP 29 an hour, GBP 45 per hour of case-related work (2008/09 prices; "
        "Brookes et al. 2013, as the Unit Cost Database cites them, CR4.3), but the hours of a "
        "year's supervision were not found: the cost per case-year stays assumed",
    )
    court_case: float = param(
        1_500,
        unit="GBP per case",
        basis="assumed",
        le=MAX_GBP,
        ge=0,
        source="new-economy-ucd-2015",
        doc="youth court hearing(s), prosecution and defence (acquittals included). Published "
        "costs are per offence type only: the NAO's court event costs for under-18s (2008/09 "
        "prices, as the Unit Cost Database cites them, CR6.0-CR6.9) run from GBP 840 (criminal "
        "damage), 1,400 (drugs), 1,650 (burglary) and 2,645 (theft) to 4,800 (robbery) and "
        "6,837 (violence against the person); no average over children's cases was found, so "
        "one cost per case stays assumed, in the lower part of that range",
    )
    first_tier_sentence: float = param(
        150,
        unit="GBP per sentence",
        basis="assumed",
        le=MAX_GBP,
        ge=0,
        doc="a discharge or fine beyond the court case: a fine's collection and enforcement, "
        "a conditional discharge's record (referral orders are priced as YOS supervision); "
        "band GBP 50-500",
    )
    referral_order_panel: float = param(
        600,
        unit="GBP per order",
        basis="assumed",
        le=MAX_GBP,
        ge=0,
        doc="the youth offender panel of a referral order (volunteers, YOS panel "
        "coordinator, the contract meeting and reviews) beyond YOS supervision; band "
        "GBP 300-1,500",
    )
    arrest: float = param(
        719,
        unit="GBP per arrest",
        basis="sourced",
        le=MAX_GBP,
        ge=0,
        source="new-economy-ucd-2015",
        doc="an arrest with detention: police time, the duty solicitor and YOS input. Unit Cost "
        "Database v1.4, CR7.0 (arrest, detained): GBP 593 at 2006/07 prices (police GBP 342, "
        "duty solicitor GBP 245, YOS GBP 6; Salford's police costs), GBP 718.50 in the "
        "database's uplift to 2015/16 prices (HM Treasury GDP deflators), rounded. Every arrest "
        "is priced so, though one ending in no further action or a simple caution costs less "
        "(CR7.1: GBP 285 at 2006/07 prices, police only)",
    )
    out_of_court_disposal: float = param(
        300,
        unit="GBP per disposal",
        basis="assumed",
        le=MAX_GBP,
        ge=0,
        source="new-economy-ucd-2015",
        doc="community resolution, youth caution or conditional caution (admin, YOS check), "
        "beyond the arrest. The Unit Cost Database prices only the arrest that ends in no "
        "further action or a simple caution (CR7.1: GBP 285 at 2006/07 prices, police only), "
        "which costs.arrest already counts; the disposal's own cost was not found",
    )


def pathway_costs(model: YouthJusticeModel) -> dict[str, float]:
    """GBP per measured year for each pathway item."""
    c = model.params.costs
    years = model.measured_weeks / WEEKS_PER_YEAR
    t = model.tally.totals
    d = model.events.disposals
    start, end = model.burn_in_weeks, model.burn_in_weeks + model.measured_weeks
    in_window = (d["week"] >= start) & (d["week"] < end)
    kind = d["kind"][in_window]
    court = ((kind >= FIRST_COURT_KIND) | (kind == KIND["acquittal"])).sum()
    ooc = np.isin(kind, [KIND[k] for k in OUT_OF_COURT_DISPOSALS]).sum()
    first_tier = np.isin(kind, [KIND[k] for k in DISCHARGES_AND_FINES]).sum()
    referral = (kind == KIND["referral_order"]).sum()
    # Children in custody, sentenced and on remand (both are places in the secure estate;
    # since LASPO 2012 local authorities pay for remand).
    sentenced_weeks = t["custody_weeks"] - t["remand_custody_weeks"]
    return {
        "custody": c.custody_place_per_year * sentenced_weeks / WEEKS_PER_YEAR / years,
        "remand_custody": c.custody_place_per_year
        * t["remand_custody_weeks"]
        / WEEKS_PER_YEAR
        / years,
        "yos_supervision": c.yos_supervision_per_year
        * t["yos_caseload_weeks"]
        / WEEKS_PER_YEAR
        / years,
        "court": c.court_case * court / years,
        "police_arrests": c.arrest * t["arrests"] / years,
        "out_of_court_disposals": c.out_of_court_disposal * ooc / years,
        "first_tier_sentences": c.first_tier_sentence * first_tier / years,
        "referral_order_panels": c.referral_order_panel * referral / years,
    }
