"""What the page steers and what it keeps between frames, without any browser code.

The page never has its own copy of the rules: :class:`VizModel` is the
ordinary :class:`~sim.model.YouthJusticeModel`, built from a scenario file
with the policy levers applied through each intervention's own ``Params``
class, plus a network sample whose layout is computed once, when the model is
built (that is, once per Reset). Nothing here imports solara, so it is tested
and timed without a server.

The page starts where policy starts: at the first measured week, in the world the
scenario file's own policies burned in (:mod:`sim.fork`), so a visitor watches the
policy, not eight years of warm-up, and the levers change policy at that week. The
burned-in world is made once per (file, size, seed) and kept in a cache folder
(:func:`cache_dir`); ``yjsim viz`` makes the default one before it serves.
"""

from __future__ import annotations

import importlib
import math
import os
import pkgutil
import threading
import typing
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import networkx as nx
import numpy as np
import pandas as pd
import scipy.sparse as sp
from annotated_types import Le

import sim.interventions
from sim import fork, snapshot
from sim.calendar import WEEKS_PER_YEAR
from sim.interventions import Intervention
from sim.model import YouthJusticeModel
from sim.results import code_version
from sim.scenario import SCENARIO_DIR, Scenario, load_scenario
from sim.summary import people_frame
from sim.viz import SCENARIO_ENV

# A borough of 10,000 children aged 10-17 (a quarter of Croydon's 39,334) steps and
# redraws fast enough to play smoothly; the page says so and offers a slider up to full scale.
DEFAULT_POPULATION = 10_000
POPULATION_RANGE = (2_000, 40_000, 1_000)  # slider min, max, step (Croydon is 39,334)
SAMPLE_SIZE = 300  # people drawn in the network view: readable, and cheap to lay out
# Gang members are mostly 15-20, so half of a sample has aged out within about three years;
# then a new one is drawn (a layout every few years, never every frame).
RESAMPLE_LEFT_SHARE = 0.5
DEFAULT_SCENARIO = SCENARIO_DIR / "croydon-2018.toml"

# Ties drawn in the network view. School and neighbourhood ties (about 30 per person)
# would turn a few hundred people into a hairball; these are the ones that carry influence.
SAMPLE_LAYERS = ("gang", "friendship", "siblings")

# States of a person in the network view, in the order they take precedence for the colour.
STATES = ("custody", "yos", "offending", "diverted", "none", "left")
STATE_LABELS = {
    "custody": "in custody",
    "yos": "under YOS supervision",
    "offending": "offended in the last 12 weeks",
    "diverted": "diverted at some point",
    "none": "none of these",
    "left": "left the model (turned 21)",
}


# -- levers ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Lever:
    """One policy lever on the page: an intervention switched on or off, or one of its params.

    ``kind`` is "switch" (on/off), "count" (an integer param; 0 switches it off) or
    "mode" (a choice param; "none" switches it off).
    """

    name: str  # the intervention's registry name and scenario table
    label: str
    kind: Literal["switch", "count", "mode"]
    param: str | None = None  # the field of the intervention's Params the lever sets

    @property
    def params_class(self) -> type | None:
        cls = Intervention.registry.get(self.name)
        return cls.Params if cls is not None else None

    @property
    def available(self) -> bool:
        """The intervention is registered and has the field this lever sets."""
        pc = self.params_class
        if pc is None:
            return False
        return self.param is None or self.param in pc.model_fields

    def bounds(self) -> tuple[int, int]:
        """Slider range of a count lever: 0 (off) to the param's upper bound."""
        info = self.params_class.model_fields[self.param]
        hi = next((m.le for m in info.metadata if isinstance(m, Le)), None)
        # Without a declared bound, 40 covers Croydon's 16 schools officers with room to spare.
        return 0, int(hi) if hi is not None else 40

    def choices(self) -> list[str]:
        """Values of a mode lever: "none" (off) then the param's literal values."""
        info = self.params_class.model_fields[self.param]
        values = [str(v) for v in typing.get_args(info.annotation)] or [str(info.default)]
        return ["none", *[v for v in values if v != "none"]]

    def is_on(self, value: Any) -> bool:
        if self.kind == "switch":
            return bool(value)
        if self.kind == "count":
            return int(value) > 0
        return value != "none"

    def value_in(self, scenario: Scenario) -> Any:
        """The lever's position in a scenario (off when the intervention is absent)."""
        block = scenario.interventions.get(self.name)
        on = block is not None and block.enabled
        if self.kind == "switch":
            return on
        if self.kind == "count":
            return int(getattr(block, self.param)) if on else 0
        return str(getattr(block, self.param)) if on else "none"

    def apply(self, scenario: Scenario, value: Any) -> Scenario:
        """A copy of ``scenario`` with this lever set, validated by the intervention's Params."""
        pc = self.params_class
        current = scenario.interventions.get(self.name)
        data = current.model_dump() if current is not None else {}
        data["enabled"] = self.is_on(value)
        if self.param is not None and data["enabled"]:
            data[self.param] = int(value) if self.kind == "count" else value
        interventions = {**scenario.interventions, self.name: pc.model_validate(data)}
        return scenario.model_copy(update={"interventions": interventions})


LEVERS = (
    Lever("triage", "Triage at first arrest", "switch"),
    Lever("schools_officers", "Safer Schools officers", "count", "officers"),
    Lever("gangs_team", "Gangs team", "mode", "mode"),
    Lever("kickz", "Kickz sports sessions", "switch"),
)


def load_interventions() -> dict[str, type[Intervention]]:
    """Import each intervention module on its own, so a broken one hides only its own lever.

    ``sim.interventions.load_all`` stops at the first module that fails to import; the
    page must still come up (without that lever) while an intervention is being written.
    """
    for mod in pkgutil.iter_modules(sim.interventions.__path__):
        try:
            importlib.import_module(f"sim.interventions.{mod.name}")
        except Exception:  # any failure hides the lever, never the page
            continue
    return Intervention.registry


def available_levers() -> list[Lever]:
    """The levers whose intervention exists with the params they set."""
    load_interventions()
    return [lever for lever in LEVERS if lever.available]


def lever_values(scenario: Scenario) -> dict[str, Any]:
    """Positions of the available levers in a scenario."""
    return {lever.name: lever.value_in(scenario) for lever in available_levers()}


def apply_levers(scenario: Scenario, values: dict[str, Any]) -> Scenario:
    """The scenario with each available lever set; unknown or missing levers are left alone."""
    for lever in available_levers():
        if lever.name in values:
            scenario = lever.apply(scenario, values[lever.name])
    return scenario


# -- the borough's size ----------------------------------------------------------------------
def scale_population(scenario: Scenario, population_10_17: int) -> Scenario:
    """The scenario with fewer children; wards, schools and gangs shrink with them.

    Shrinking keeps the size of a ward, a school year group and a gang as in the full area,
    so peer networks and gang clusters look the same, only fewer. A multi-borough area
    (London) shrinks borough by borough, so the total is about ``population_10_17``. Asking
    for more children than the scenario has only enlarges a single borough.
    """
    pop = scenario.population
    if pop.boroughs:
        total = sum(b.population_10_17 for b in pop.boroughs)
        share = population_10_17 / total
        if share >= 1:
            return scenario
        boroughs = [
            b.model_copy(
                update={
                    # A borough keeps at least 100 children (the schema's floor), a ward
                    # and a school.
                    "population_10_17": max(100, round(b.population_10_17 * share)),
                    "wards": max(1, round(b.wards * share)),
                    "secondary_schools": max(1, round(b.secondary_schools * share)),
                }
            )
            for b in pop.boroughs
        ]
        gangs = scenario.gangs.model_copy(
            update={"count": max(1, round(scenario.gangs.count * share))}
        )
        return scenario.model_copy(
            update={"population": pop.model_copy(update={"boroughs": boroughs}), "gangs": gangs}
        )
    share = min(1.0, population_10_17 / pop.population_10_17)
    update = {
        "population_10_17": int(population_10_17),
        # Floors keep a borough with several wards and schools and at least one gang.
        "wards": max(4, round(pop.wards * share)),
        "secondary_schools": max(2, round(pop.secondary_schools * share)),
    }
    gangs = scenario.gangs.model_copy(update={"count": max(1, round(scenario.gangs.count * share))})
    return scenario.model_copy(update={"population": pop.model_copy(update=update), "gangs": gangs})


def clamp_population(value: Any) -> int:
    """A number of children from the page's slider, clamped to the slider's range.

    The browser sends the slider's value, and anything that can reach the server can send
    any value: a huge one would build a model that exhausts memory. Raises ValueError for
    what is not a finite number.
    """
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"children aged 10-17: expected a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"children aged 10-17: expected a finite number, got {value!r}")
    lo, hi, _ = POPULATION_RANGE
    return int(min(max(round(number), lo), hi))


def scenario_files(extra: str | Path | None = None) -> list[Path]:
    """The scenario files the picker offers: ``scenarios/*.toml`` and the one started with."""
    files = sorted(SCENARIO_DIR.glob("*.toml"))
    if extra is not None:
        extra = Path(extra).resolve()
        if extra not in [f.resolve() for f in files]:
            files.insert(0, extra)
    return files


# -- the burned-in world ---------------------------------------------------------------------
CACHE_ENV = "YJSIM_CACHE"  # a folder for yjsim's caches (default: $XDG_CACHE_HOME/yjsim)
# Burned-in worlds kept: a 10,000-child world is about 3 MB on disk (40,000 children about
# 12 MB), so 20 of them (a visitor's sizes and seeds) stay under a quarter of a gigabyte;
# the least recently used go first.
CACHE_KEEP = 20


def cache_dir() -> Path:
    """Where the page keeps burned-in worlds: ``$YJSIM_CACHE/snapshots``, else
    ``$XDG_CACHE_HOME/yjsim/snapshots``, else ``~/.cache/yjsim/snapshots``."""
    base = os.environ.get(CACHE_ENV)
    if not base:
        xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        base = str(Path(xdg) / "yjsim")
    return Path(base) / "snapshots"


def burned_in_world(settings: VizSettings) -> snapshot.Snapshot:
    """The world the settings' file (at their size and seed) has at its first measured
    week, under the file's own policies: from the cache, or made now and cached.

    A cache that cannot be written (a read-only home) costs the burn-in each time, never
    the page; a damaged file is made again.
    """
    source = settings.world()
    seed = settings.seed if settings.seed is not None else source.run.seed
    snap, path, made_s = fork.stored_burn_in(
        source, seed, cache_dir(), code_version(), unwritable_ok=True
    )
    if made_s and path.is_file():
        prune_cache(path.parent, CACHE_KEEP)
    elif path.is_file():
        os.utime(path)  # recently used: pruned last
    return snap


def prune_cache(folder: Path, keep: int) -> None:
    """Remove all but the ``keep`` most recently used snapshots in ``folder``."""
    files = sorted(folder.glob(f"*{snapshot.SUFFIX}"), key=lambda p: p.stat().st_mtime)
    for old in files[: max(0, len(files) - keep)]:
        old.unlink(missing_ok=True)


# -- settings --------------------------------------------------------------------------------
@dataclass
class VizSettings:
    """What the next Reset builds: a scenario file, the borough's size, a seed and the levers.

    The page holds one (per browser tab) and changes it as the user moves a control; Mesa's
    Reset passes it to :class:`VizModel`, which keeps a copy.
    """

    scenario_file: str = str(DEFAULT_SCENARIO)
    population_10_17: int = DEFAULT_POPULATION
    seed: int | None = None  # None: the scenario's own run.seed
    levers: dict[str, Any] = field(default_factory=dict)
    # True: start at the first measured week, in the burned-in world (the levers act from
    # there); False: start at week 0 and watch the burn-in.
    start_burned_in: bool = True

    @classmethod
    def for_file(
        cls, path: str | Path | None = None, population_10_17: int = DEFAULT_POPULATION
    ) -> VizSettings:
        """Settings for a scenario file, with the levers where that scenario puts them.

        Without a path: the file named by ``$YJSIM_VIZ_SCENARIO``, else the Croydon baseline.
        """
        if path is None:
            path = os.environ.get(SCENARIO_ENV) or DEFAULT_SCENARIO
        path = str(Path(path).resolve())
        return cls(path, population_10_17, None, lever_values(load_scenario(path)))

    def world(self) -> Scenario:
        """The file at the chosen size, with the file's own policies: what burns in."""
        return scale_population(load_scenario(self.scenario_file), self.population_10_17)

    def copy(self) -> VizSettings:
        return replace(self, levers=dict(self.levers))

    def scenario(self) -> Scenario:
        """The scenario to run: the file, shrunk to the chosen size, with the levers applied."""
        return apply_levers(self.world(), self.levers)


# -- the model the page runs -----------------------------------------------------------------
class VizModel(YouthJusticeModel):
    """The ordinary model, built from :class:`VizSettings`, with a network sample to draw.

    Keyword-only, as Mesa's Reset calls it with the page's ``model_params``.
    """

    def __init__(self, *, settings: VizSettings | None = None) -> None:
        settings = (settings or VizSettings.for_file()).copy()
        scenario = settings.scenario()
        super().__init__(scenario=scenario, seed=settings.seed)
        if settings.start_burned_in and self.burn_in_weeks > 0:
            snapshot.restore(self, burned_in_world(settings))
        self.settings = settings
        self.sample = NetworkSample(self)
        self.panels: dict[str, Any] = {}  # the page's figures, built once per model
        self.reoffending_cache: dict[int, Any] = {}  # week -> the running reoffending rate
        self._series: tuple[int, pd.DataFrame] | None = None
        self._people: tuple[int, pd.DataFrame] | None = None
        # Held by a step and by a frame's drawing: with Mesa's "Use Threads" box ticked
        # the page draws in one thread while the model steps in another.
        self.lock = threading.RLock()

    def step(self) -> None:
        """One week of the ordinary model, never while a frame is being drawn."""
        with self.lock:
            super().step()

    def network_sample(self) -> NetworkSample:
        """The sample to draw: drawn at reset, and again (with its layout) only when more
        than half of it has turned 21 and left, so the view does not empty over a long run."""
        if self.sample.left_share(self) > RESAMPLE_LEFT_SHARE:
            self.sample = NetworkSample(self)
        return self.sample

    def frame_series(self) -> pd.DataFrame:
        """The DataCollector's weekly records with the time in years (built once a week)."""
        if self._series is None or self._series[0] != self.week:
            df = self.datacollector.get_model_vars_dataframe().reset_index(drop=True)
            df["year"] = df["week"] / WEEKS_PER_YEAR
            self._series = (self.week, df)
        return self._series[1]

    def people_table(self) -> pd.DataFrame:
        """Everyone ever in the run, as the measures want them (rebuilt when a cohort enters)."""
        if self._people is None or self._people[0] != self.people.n:
            self._people = (self.people.n, people_frame(self))
        return self._people[1]


class NetworkSample:
    """A few hundred people around the largest gang, their ties, and their layout.

    Drawn when the model is built and then followed: people keep their place, so a frame
    only recolours them (a layout per frame would cost seconds). Ties are those of the
    week it was drawn.
    """

    def __init__(self, model: YouthJusticeModel, size: int = SAMPLE_SIZE) -> None:
        self.ids = sample_around_gang(model, size)
        self.graph = model.network.graph(self.ids, layers=SAMPLE_LAYERS)
        pos = nx.spring_layout(self.graph, seed=model.seed % 2**32)
        self.xy = np.array([pos[int(i)] for i in self.ids]).reshape(-1, 2)
        index = {int(p): k for k, p in enumerate(self.ids)}
        edges = list(self.graph.edges(data="layer"))
        self.edges = np.array([(index[a], index[b]) for a, b, _ in edges], dtype=np.int64)
        self.edges = self.edges.reshape(-1, 2)
        self.edge_is_gang = np.array([layer == "gang" for _, _, layer in edges], dtype=bool)
        self.week = model.week

    def left_share(self, model: YouthJusticeModel) -> float:
        """Share of the sample who have turned 21 and left the model."""
        return float((self.ids < model.people.lo).mean()) if self.ids.size else 0.0

    def states(self, model: YouthJusticeModel) -> tuple[np.ndarray, np.ndarray]:
        """Each sampled person's state (an index into STATES) and gang membership, now.

        Read through the Mesa agent views, a few hundred attribute reads a frame.
        """
        state = np.empty(self.ids.size, dtype=np.int64)
        gang = np.zeros(self.ids.size, dtype=bool)
        for k, person in enumerate(self.ids):
            yp = model.young_person(int(person))
            if not yp.present:
                s = "left"
            elif yp.in_custody:
                s = "custody"
            elif yp.under_yos_supervision:
                s = "yos"
            elif yp.offended_recently:
                s = "offending"
            elif yp.diverted:
                s = "diverted"
            else:
                s = "none"
            state[k] = STATES.index(s)
            gang[k] = yp.present and yp.gang_member
        return state, gang


def _adjacency(model: YouthJusticeModel, layers: tuple[str, ...]) -> sp.csr_matrix:
    n = model.people.n
    parts = [model.network.edges[layer] for layer in layers]
    e = np.concatenate([p for p in parts if p.size] or [np.empty((0, 2), dtype=np.int64)])
    e = e[(e[:, 0] < n) & (e[:, 1] < n)]
    rows = np.concatenate([e[:, 0], e[:, 1]])
    cols = np.concatenate([e[:, 1], e[:, 0]])
    return sp.csr_matrix((np.ones(rows.size), (rows, cols)), shape=(n, n))


def sample_around_gang(model: YouthJusticeModel, size: int = SAMPLE_SIZE) -> np.ndarray:
    """Ids of ``size`` live people: the largest gang, then their ties outward, best tied first.

    Breadth-first over gang, friendship and sibling ties (then school and neighbourhood ones
    if those run out), taking at each ring the people with most ties into the sample.
    """
    ppl = model.people
    live = np.arange(ppl.lo, ppl.n)
    gang = ppl.gang[live]
    if (gang >= 0).any():
        biggest = np.bincount(gang[gang >= 0]).argmax()
        seeds = live[gang == biggest][:size]
    else:
        seeds = live[:1]
    chosen = np.zeros(ppl.n, dtype=bool)
    chosen[seeds] = True
    chosen[: ppl.lo] = False
    for layers in (SAMPLE_LAYERS, (*SAMPLE_LAYERS, "school", "neighbourhood")):
        adj = _adjacency(model, layers)
        while chosen.sum() < size:
            ties = adj @ chosen.astype(np.float64)
            ties[: ppl.lo] = 0
            cand = np.flatnonzero((ties > 0) & ~chosen)
            if cand.size == 0:
                break
            need = size - int(chosen.sum())
            if cand.size > need:
                cand = cand[np.lexsort((cand, -ties[cand]))[:need]]
            chosen[cand] = True
        if chosen.sum() >= size:
            break
    return np.flatnonzero(chosen)
