"""Young people as Mesa agents: views whose attributes are properties over their row.

Views exist for inspection, the viz and tests. They are created on demand,
never iterated in the weekly step, and hold no state of their own, so the
arrays stay the single source of truth.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa
import numpy as np

from sim.population import ETHNIC_GROUPS, SEXES, age_of

if TYPE_CHECKING:
    from sim.model import YouthJusticeModel


class YoungPerson(mesa.Agent):
    """One row of the people arrays, seen as a Mesa agent."""

    model: YouthJusticeModel

    def __init__(self, model: YouthJusticeModel, person: int) -> None:
        super().__init__(model)
        self.person = int(person)

    def _get(self, name: str):
        return getattr(self.model.people, name)[self.person]

    @property
    def present(self) -> bool:
        """Still in the model: under 21, or turned 21 since the last step (who leave
        at the start of the next)."""
        return self.model.people.lo <= self.person < self.model.people.n

    @property
    def age(self) -> float:
        return float(age_of(self._get("birth_week"), self.model.week))

    @property
    def sex(self) -> str:
        return SEXES[int(self._get("sex"))]

    @property
    def ethnic_group(self) -> str:
        return ETHNIC_GROUPS[int(self._get("ethnic"))]

    @property
    def ward(self) -> int:
        return int(self._get("ward"))

    @property
    def school(self) -> int:
        return int(self._get("school"))

    @property
    def gang_member(self) -> bool:
        return bool(self._get("gang") >= 0)

    @property
    def in_custody(self) -> bool:
        return bool(self._get("custody_release_week") > self.model.week)

    @property
    def under_yos_supervision(self) -> bool:
        return bool(self._get("yos_until") > self.model.week)

    @property
    def offences(self) -> int:
        """True offences committed (the model knows them; the police do not)."""
        return int(self._get("n_offences"))

    @property
    def proven_offences(self) -> int:
        return int(self._get("n_proven"))

    @property
    def formal_disposals(self) -> int:
        return int(self._get("n_formal"))

    @property
    def offended_recently(self) -> bool:
        last = self._get("last_offence_week")
        window = self.model.params.behaviour.peer_window_weeks
        return bool(not np.isnan(last) and last >= self.model.week - window)

    @property
    def diverted(self) -> bool:
        return bool(not np.isnan(self._get("diverted_week")))

    @property
    def risk_factors(self) -> dict[str, bool]:
        names = (
            "low_income",
            "looked_after",
            "domestic_abuse",
            "persistent_absence",
            "excluded",
            "substance_use",
        )
        return {n: bool(self._get(n)) for n in names}

    def neighbours(self, layer: str) -> list[int]:
        """Ids of this person's ties in one network layer."""
        return [int(i) for i in self.model.network.neighbours(self.person, layer)]

    def step(self) -> None:
        """Views do not act: the model's vectorised step moves everyone."""

    def __repr__(self) -> str:
        return f"YoungPerson({self.person}, age={self.age:.1f}, {self.sex}, ward {self.ward})"
