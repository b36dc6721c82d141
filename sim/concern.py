"""The shape of every part of the model: its parameters, its state and its weekly step.

A *concern* (Starsim calls it a module) is one home for one part of the world:
offending, gangs, the police, the youth court, the YOS, schools, social care,
and each policy intervention. It declares

- ``name``: its table in a scenario file (``[behaviour]``, ``[gangs]``, ...) and the
  name of its random stream;
- ``Params``: a pydantic block of :func:`sim.params.param` declarations, each with its
  unit, basis and source (the register, ``yjsim params``, is read from them);
- its own arrays, caches and counters, set up in ``__init__``;
- ``step()``: what it does each week, called by the model's week plan
  (:data:`sim.model.YouthJusticeModel.week_plan`), never by another concern.

Agencies (the police, the youth court, the YOS, schools, social care) are concerns that
are also Mesa agents, so the Mesa face of the model sees them; their steps still act on
the people arrays, vectorised, never one young person at a time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import mesa

from sim.params import Params

if TYPE_CHECKING:
    from sim.model import YouthJusticeModel


class Concern:
    """One part of the model: parameters, state, and a weekly step."""

    name: ClassVar[str] = ""
    Params: ClassVar[type[Params]] = Params

    def __init__(self, model: YouthJusticeModel, params: Params) -> None:
        self.model = model
        self.params = params

    def step(self) -> None:
        """This concern's part of the week (the default does nothing)."""


class Agency(Concern, mesa.Agent):
    """A concern that is also a Mesa agent: an agency acting on the people arrays."""

    model: YouthJusticeModel

    def __init__(self, model: YouthJusticeModel, params: Params) -> None:
        mesa.Agent.__init__(self, model)
        Concern.__init__(self, model, params)
