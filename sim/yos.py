"""The youth offending service (YOS): supervision of children on orders and licence.

Children given a youth conditional caution, a referral order, a youth
rehabilitation order or custody are supervised by the YOS (``yos_until`` in the
people arrays, set by the youth court: :mod:`sim.justice`). Supervision lowers
their offending hazard, by less when the service is overloaded (more children
than its case managers can supervise well) or assesses risk poorly. Releases
from custody (a reoffending index event) happen in the YOS's step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.concern import Agency
from sim.params import CROYDON_2019, CROYDON_EARLIER, MAX_COUNT, EffectPrior, Params, param

if TYPE_CHECKING:
    from sim.model import YouthJusticeModel


class YouthOffendingService(Agency):
    """Supervises children on orders and licence; its capacity shapes its effect."""

    name = "yos"

    class Params(Params):
        """The youth offending service: capacity and how well it supervises."""

        case_managers: int = param(
            24,
            unit="case managers",
            basis="assumed",
            le=MAX_COUNT,
            ge=0,
            doc="set so that capacity is near the 200+ children supervised in 2018",
        )
        cases_per_manager: float = param(
            10.0,
            unit="cases",
            basis="assumed",
            le=1000,
            gt=0,
            doc="caseload a case manager can supervise well",
        )
        assessment_quality: float = param(
            0.4,
            unit="0-1",
            basis="sourced",
            ge=0,
            le=1,
            source=CROYDON_EARLIER,
            doc="risk assessment quality: 1/4 stars for protecting the public, shortfalls in "
            "assessing risk of harm (the 2019 inspection: 'requires improvement')",
        )
        supervision_effect: float = param(
            0.23,
            unit="log hazard reduction",
            basis="sourced",
            ge=-3,
            le=3,
            source="lipsey-2009; koehler-2013",
            prior=EffectPrior.normal(0.23, 0.2),
            doc="effect of well-resourced, well-assessed supervision (at assessment quality 1 "
            "and no overload; negative: supervision raises reoffending). Effective programmes "
            "cut reoffending 10-20% (Lipsey 2009): 50% -> 45% or 40%, log hazard ratios "
            "ln(ln 0.5 / ln 0.55) = 0.15 to ln(ln 0.5 / ln 0.6) = 0.31, centre 0.23. The "
            "spread spans European young-offender programmes: deterrent and supervisory "
            "ones OR 0.85 against treatment (50% -> 54%, -0.11) to those following risk-need-"
            "responsivity, OR 1.90 (50% -> 34.5%, 0.49) (Koehler et al. 2013): normal(0.23, 0.2)",
        )
        supervised_share_anchor: int = param(
            200,
            unit="children",
            basis="sourced",
            le=MAX_COUNT,
            source=CROYDON_2019,
            ge=0,
            doc="the YOS supervised more than 200 children in custody or the community "
            "(a calibration target, recorded here for the register)",
        )

    params: YouthOffendingService.Params

    def __init__(self, model: YouthJusticeModel, params: YouthOffendingService.Params) -> None:
        super().__init__(model, params)
        self.caseload = 0  # children supervised this week
        self.effectiveness = 0.0  # share of the full supervision effect acting this week

    def capacity(self) -> float:
        """Children the service can supervise well."""
        p = self.params
        return p.case_managers * p.cases_per_manager

    def supervised(self) -> np.ndarray:
        """Live-window mask of children under YOS supervision (community or custody)."""
        ppl, week = self.model.people, self.model.week
        return ppl.yos_until[ppl.live] > week

    def supervise(self) -> None:
        """Supervision lowers the hazard, less so when overloaded or poorly assessed."""
        m, p = self.model, self.params
        sup = self.supervised()
        self.caseload = int(np.count_nonzero(sup))
        load = self.caseload / max(self.capacity(), 1e-9)
        self.effectiveness = p.assessment_quality * min(1.0, 1.0 / max(load, 1e-9))
        rows = np.flatnonzero(sup) + m.people.live.start  # a few thousand of a million
        m.offending.hazard_multiplier[rows] *= np.exp(-p.supervision_effect * self.effectiveness)

    def step(self) -> None:
        """Release those whose custody ends this week (a reoffending index event; licence
        supervision was set at sentence)."""
        m = self.model
        ppl, live, week = m.people, m.people.live, m.week
        idx = np.flatnonzero(ppl.custody_release_week[live] == week) + live.start
        if idx.size:
            ppl.released_week[idx] = week
            m.events.releases.append(person=idx, week=np.full(idx.size, week))
