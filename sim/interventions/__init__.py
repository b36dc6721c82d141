"""Pluggable policy interventions, one module each in this package.

An intervention is a :class:`~sim.concern.Concern` like the model's own parts: a
subclass of :class:`Intervention` with a ``name`` (its table in a scenario file:
``[interventions.NAME]``), a pydantic ``Params`` model, and a ``stream_key`` (a
fixed number, 100 and up, unique) for its own random stream, which the class
registers when it is defined. The model calls its hooks in a fixed order each
week (the week plan in :mod:`sim.model`):

1. ``before_offending(week)``: change hazards (``model.offending.hazard_multiplier``,
   reset to 1 each week), detection of a person (``model.police.detection_multiplier``,
   likewise), domestic-abuse risk (``model.offending.da_risk_weight``) or risk factors;
2. ``protect_victims(victims, week)``: while offending is drawn, prevent
   some victimisations (returns a mask over ``victims`` of those prevented);
3. ``adjust_detection(offence_ids, prob, week)``: after offending, change the
   detection probability of this week's offences (by place, time, type);
4. ``divert(persons, gravity, undecided, week)``: at the police decision,
   claim cases for diversion (returns a boolean mask over ``persons``); the
   case records which intervention claimed it;
5. ``end_of_week(week)``: caseloads, reach and costs (count costs only while
   ``model.measuring``, so ``cost_per_year_gbp`` is per measured year).

Risk for targeting: ``model.offending.last_log_hazard_of(ids)`` gives last week's
log hazard of any people (-inf for those not in the model last week).

Classes register themselves by subclassing (the modules of this package are
imported by :func:`load_all`; a class defined elsewhere registers when its module
is imported); adding or removing one touches no other module.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import TYPE_CHECKING, ClassVar

import numpy as np
from pydantic import Field

from sim.concern import Concern
from sim.params import Params
from sim.rng import register_stream

if TYPE_CHECKING:
    from sim.model import YouthJusticeModel


class InterventionParams(Params):
    """Every intervention can be switched on or off in a scenario."""

    enabled: bool = Field(True, description="switch the intervention on")

    def acts(self) -> bool:
        """Whether these settings do anything: switched on, and with places, staff or
        sessions to act with (an intervention with none is listed as off)."""
        return self.enabled


class Intervention(Concern):
    """Base class: hooks that do nothing, and the outputs every intervention reports."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    stream_key: ClassVar[int] = 0  # its random stream's fixed key, 100 and up, never reused
    Params: ClassVar[type[InterventionParams]] = InterventionParams
    registry: ClassVar[dict[str, type[Intervention]]] = {}

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if cls.name:
            register_stream(cls.name, cls.stream_key)
            Intervention.registry[cls.name] = cls

    def __init__(self, model: YouthJusticeModel, params: InterventionParams) -> None:
        super().__init__(model, params)
        self.rng = model.streams[self.name]
        self.reached = np.zeros(model.people.capacity, dtype=bool)  # ever touched
        self.cost_gbp = 0.0  # accumulated over the measured years
        self.caseload = 0  # people currently worked with

    # -- hooks (override what the mechanism needs) --------------------------
    def before_offending(self, week: int) -> None:
        """Change hazards, detection or risk factors for this week."""

    def protect_victims(self, victims: np.ndarray, week: int) -> np.ndarray | None:
        """Mask of this week's would-be young victims whose victimisation is prevented."""
        return None

    def adjust_detection(self, offence_ids: np.ndarray, prob: np.ndarray, week: int) -> np.ndarray:
        """Detection probabilities of this week's offences, after this intervention."""
        return prob

    def divert(
        self, persons: np.ndarray, gravity: np.ndarray, undecided: np.ndarray, week: int
    ) -> np.ndarray | None:
        """Claim arrested cases for diversion; None claims none."""
        return None

    def end_of_week(self, week: int) -> None:
        """Update caseload and costs."""

    # -- outputs ---------------------------------------------------------------
    def outputs(self, measured_years: float) -> dict[str, float]:
        """Reach (people ever touched), current caseload and cost per measured year."""
        years = max(measured_years, 1e-9)
        return {
            "reach": int(self.reached.sum()),
            "caseload": int(self.caseload),
            "cost_per_year_gbp": float(self.cost_gbp / years),
        }


NOT_DIVERTED = -1  # ``Interventions.divert``'s answer for a case no intervention claimed


class Interventions:
    """The scenario's active interventions, called in a fixed order."""

    def __init__(self, model: YouthJusticeModel, configured: dict[str, InterventionParams]):
        load_all()
        self.items: list[Intervention] = [
            Intervention.registry[name](model, params)
            for name, params in sorted(configured.items())
            if params.enabled
        ]

    def __iter__(self):
        return iter(self.items)

    def before_offending(self, week: int) -> None:
        for item in self.items:
            item.before_offending(week)

    def protect_victims(self, victims: np.ndarray, week: int) -> np.ndarray:
        """Victimisations prevented by any intervention."""
        prevented = np.zeros(victims.size, dtype=bool)
        for item in self.items:
            mask = item.protect_victims(victims, week)
            if mask is not None:
                prevented |= mask
        return prevented

    def adjust_detection(self, offence_ids: np.ndarray, prob: np.ndarray, week: int) -> np.ndarray:
        """Detection probabilities after every intervention, in order."""
        for item in self.items:
            prob = item.adjust_detection(offence_ids, prob, week)
        return prob

    def divert(
        self, persons: np.ndarray, gravity: np.ndarray, undecided: np.ndarray, week: int
    ) -> np.ndarray:
        """Which intervention claimed each case for diversion: its position in ``items``,
        or ``NOT_DIVERTED`` (earlier ones first; only undecided cases can be claimed)."""
        claimed_by = np.full(persons.size, NOT_DIVERTED, dtype=np.int16)
        for position, item in enumerate(self.items):
            open_ = undecided & (claimed_by == NOT_DIVERTED)
            mask = item.divert(persons, gravity, open_, week)
            if mask is not None:
                claimed_by[mask & open_] = position
        return claimed_by

    def end_of_week(self, week: int) -> None:
        for item in self.items:
            item.end_of_week(week)


def load_all() -> dict[str, type[Intervention]]:
    """Import every module in this package so each registers its intervention."""
    for mod in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{mod.name}")
    return Intervention.registry
