"""The pages: Mesa's SolaraViz around the model, with a card for the scenario and the levers
(``/``), and a finished decision (``/decision``, sim/viz/decision_page.py).

``solara run sim.viz.app`` serves them (``yjsim viz`` does, through
:func:`sim.viz.serve`). Mesa's SolaraViz gives the play / step / reset controls, the step
counter and the grid of figures; the card in the sidebar picks the scenario file, the
borough's size, the seed and the policy levers. They take effect at Reset, which builds
a new :class:`~sim.viz.state.VizModel` from them (as Mesa's own model parameters do).
"""

from __future__ import annotations

import os
from html import escape
from pathlib import Path

import solara
from mesa.visualization import SolaraViz
from mesa.visualization.utils import update_counter
from pydantic import ValidationError

from sim.scenario import ScenarioError, load_scenario
from sim.viz import DECISION_ROUTE, figures
from sim.viz.decision_page import DecisionPage
from sim.viz.state import (
    DEFAULT_POPULATION,
    POPULATION_RANGE,
    SCENARIO_ENV,
    VizModel,
    VizSettings,
    available_levers,
    clamp_population,
    lever_values,
    scenario_files,
)

PLAY_INTERVAL_MS = 50  # pause between frames while playing; drawing a frame takes longer
# Weeks per frame, and per click on Step: one, as a user expects. Mesa's slider offers
# 1, 3, 5, ... to play faster (a frame costs about as much as a week's step at most).
RENDER_INTERVAL = 1


def _figure_component(name: str):
    """A component showing one of the model's figures, redrawn when the model steps."""

    @solara.component
    def FigureView(model: VizModel):
        update_counter.get()  # Mesa bumps it after every step it wants drawn

        def draw() -> bytes:
            with model.lock:
                return figures.panel(model, name).image(model)

        image = solara.use_memo(draw, [model, model.steps])
        return solara.Image(
            image, width="100%", format=figures.IMAGE_FORMAT, classes=[f"yjsim-{name}"]
        )

    FigureView.__name__ = f"{name.title()}Figure"
    return FigureView


@solara.component
def Measures(model: VizModel):
    """Where the run is, what it runs, and the running proven reoffending rate."""
    update_counter.get()
    with model.lock:
        return _measures(model)


def _measures(model: VizModel):
    week = model.week
    phase = "burn-in, not measured" if week < model.burn_in_weeks else "measured"
    if week >= model.burn_in_weeks + model.measured_weeks:
        phase = "follow-up of the last cohort"
    s = model.settings
    levers = ", ".join(f"{k.replace('_', ' ')}: {_show(v)}" for k, v in s.levers.items())
    reoff = figures.running_reoffending(model)
    population = model.population_10_17
    gang = int((model.people.gang[model.people.live] >= 0).sum())
    custody = int(model.people.in_custody(model.week).sum())
    return solara.HTML(
        tag="div",
        unsafe_innerHTML=f"""
<h3>Week {week} of {model.total_weeks} (year {week // 52 + 1}, {phase})</h3>
<p>{reoff.describe()}</p>
<p>Now: {population:,} children aged 10-17, {gang} gang members, {model.yos.caseload}
under YOS supervision, {custody} in custody.</p>
<p>Running <b>{escape(model.params.name)}</b> with {s.population_10_17:,} children aged 10-17
(seed {model.seed}); levers: {escape(levers) or "none available yet"}.</p>
""",
        style="padding: 0 12px",
        classes=["yjsim-measures"],
    )


def _show(value) -> str:
    if value is True:
        return "on"
    if value is False:
        return "off"
    return str(value)


@solara.component
def SettingsCard(settings: VizSettings, model: solara.Reactive[VizModel]):
    """Scenario file, size, seed and policy levers for the next Reset."""
    version = solara.use_reactive(0)  # bumped when ``settings`` changes, to redraw the card
    error = solara.use_reactive("")
    levers = solara.use_memo(available_levers, [])
    files = solara.use_memo(lambda: scenario_files(_started_with()), [])
    names = {_label(f): str(f) for f in files}
    by_path = {path: name for name, path in names.items()}
    _ = version.value

    def change(**update) -> None:
        candidate = settings.copy()
        for key, value in update.items():
            setattr(candidate, key, value)
        try:
            candidate.scenario()  # validate now, so Reset cannot fail on these settings
        except (ScenarioError, ValidationError, ValueError) as e:
            error.set(str(e).splitlines()[0])
            return
        error.set("")
        for key, value in update.items():
            setattr(settings, key, value)
        version.set(version.value + 1)

    def pick(name: str) -> None:
        path = names[name]
        try:
            positions = lever_values(load_scenario(path))
        except ScenarioError as e:
            error.set(str(e))
            return
        change(scenario_file=path, levers=positions)

    def set_population(value) -> None:
        # The slider's range holds in the browser only: a client can send any value.
        try:
            size = clamp_population(value)
        except ValueError as e:
            error.set(str(e))
            return
        change(population_10_17=size)

    def set_lever(name: str, value) -> None:
        change(levers={**settings.levers, name: value})

    with solara.Card("Scenario and policy levers"):
        solara.Select(
            "Scenario",
            value=by_path.get(settings.scenario_file, _label(Path(settings.scenario_file))),
            values=list(names),
            on_value=pick,
        )
        solara.SliderInt(
            f"Children aged 10-17: {settings.population_10_17:,}",
            value=settings.population_10_17,
            min=POPULATION_RANGE[0],
            max=POPULATION_RANGE[1],
            step=POPULATION_RANGE[2],
            on_value=set_population,
            thumb_label=False,
        )
        solara.Text(
            f"A borough of {DEFAULT_POPULATION:,} by default, so the page stays responsive; "
            "Croydon has 39,334 (wards, schools and gangs shrink in proportion)."
        )
        for lever in levers:
            value = settings.levers.get(lever.name, lever.value_in(model.value.params))
            if lever.kind == "switch":
                solara.Switch(
                    label=lever.label,
                    value=bool(value),
                    on_value=lambda v, n=lever.name: set_lever(n, bool(v)),
                )
            elif lever.kind == "count":
                lo, hi = lever.bounds()
                solara.SliderInt(
                    f"{lever.label}: {int(value)}",
                    value=int(value),
                    min=lo,
                    max=hi,
                    on_value=lambda v, n=lever.name: set_lever(n, int(v)),
                    thumb_label=False,
                )
            else:
                solara.Select(
                    lever.label,
                    value=str(value),
                    values=lever.choices(),
                    on_value=lambda v, n=lever.name: set_lever(n, v),
                )
        seed = settings.seed if settings.seed is not None else model.value.seed
        solara.InputInt("Seed", value=seed, on_value=lambda v: change(seed=int(v)))
        solara.Switch(
            label="Start where policy starts (skip the burn-in)",
            value=settings.start_burned_in,
            on_value=lambda v: change(start_burned_in=bool(v)),
        )
        solara.Text(
            "On: the run starts at its first measured week, in the world the scenario's own "
            "policies built over the burn-in; the levers change policy from that week. Off: "
            "watch the burn-in from week 0."
        )
        if error.value:
            solara.Error(error.value)
        elif settings != model.value.settings:
            solara.Warning("Press Reset to run with these settings.")
        else:
            solara.Success("The model is running these settings.", dense=True)


def _started_with() -> str | None:
    return os.environ.get(SCENARIO_ENV) or None


def _label(path: Path) -> str:
    return path.name


# The grid, in reading order: two columns (Mesa's layout), the network and the measures first.
COMPONENTS = [_figure_component(name) for name in figures.PANELS]
COMPONENTS.insert(1, Measures)


@solara.component
def Page():
    """The whole page, one model per browser tab."""
    settings = solara.use_memo(VizSettings.for_file, [])
    first = solara.use_memo(lambda: VizModel(settings=settings), [])
    model = solara.use_reactive(first)
    solara.Title("yjsim viz")
    with solara.Sidebar():
        SettingsCard(settings, model)
    SolaraViz(
        model,
        components=COMPONENTS,
        model_params={"settings": settings},
        name="yjsim: youth justice in a London borough",
        play_interval=PLAY_INTERVAL_MS,
        render_interval=RENDER_INTERVAL,
    )


page = Page

# The pages solara serves (the layout shows them as tabs): the model, and a decision.
routes = [
    solara.Route(path="/", component=Page, label="Model"),
    solara.Route(path=DECISION_ROUTE, component=DecisionPage, label="Decision"),
]
