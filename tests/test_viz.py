"""The browser view without a browser: levers, the network sample, figures, the page.

The page is rendered headless with ``solara.render`` inside an ``AppLayout`` (as the
server does, so the sidebar with the controls exists), then stepped and reset by
clicking its buttons.
"""

from __future__ import annotations

import os
import pkgutil
from pathlib import Path
from types import SimpleNamespace

os.environ.setdefault("SOLARA_TELEMETRY_MIXPANEL_ENABLE", "false")

import ipyvuetify as v
import ipywidgets
import numpy as np
import pytest
import solara
from conftest import SCENARIOS
from mesa.visualization.utils import update_counter

from sim.interventions import Intervention
from sim.model import YouthJusticeModel
from sim.scenario import load_scenario
from sim.viz import SCENARIO_ENV, figures, server_command
from sim.viz import state as viz_state
from sim.viz.app import RENDER_INTERVAL, Page
from sim.viz.state import (
    LEVERS,
    STATES,
    VizModel,
    VizSettings,
    apply_levers,
    available_levers,
    clamp_population,
    lever_values,
    sample_around_gang,
    scale_population,
)

CROYDON = SCENARIOS / "croydon-2018.toml"
SMALL = 3000  # children aged 10-17: builds in a fraction of a second
PLAY_TO = 30  # weeks: by then every series has something to show


@pytest.fixture
def small_settings() -> VizSettings:
    """Settings that start at week 0 (the tests below count weeks from there); the page's
    default start, in the burned-in world, has tests of its own."""
    settings = VizSettings.for_file(CROYDON, SMALL)
    settings.start_burned_in = False
    return settings


# -- levers ----------------------------------------------------------------------------------
def test_each_available_lever_switches_its_intervention_through_its_own_params():
    sc = load_scenario(CROYDON)
    levers = available_levers()
    assert levers, "no intervention registered: the page would have no levers"
    for lever in levers:
        cls = Intervention.registry[lever.name]
        off_value = {"switch": False, "count": 0, "mode": "none"}[lever.kind]
        off = apply_levers(sc, {lever.name: off_value})
        assert isinstance(off.interventions[lever.name], cls.Params)
        assert off.interventions[lever.name].enabled is False
        assert lever.value_in(off) == off_value
        on_value = {"switch": True, "count": 3}.get(lever.kind) or lever.choices()[-1]
        on = apply_levers(sc, {lever.name: on_value})
        assert on.interventions[lever.name].enabled is True
        assert lever.value_in(on) == on_value
        if lever.param is not None:
            assert getattr(on.interventions[lever.name], lever.param) == on_value
        # The rest of the scenario is untouched.
        assert on.population == sc.population
        others = {k: v for k, v in on.interventions.items() if k != lever.name}
        assert others == {k: v for k, v in sc.interventions.items() if k != lever.name}


def test_levers_read_back_the_scenario_they_were_applied_to():
    sc = load_scenario(CROYDON)
    values = lever_values(sc)
    assert apply_levers(sc, values).interventions.keys() >= sc.interventions.keys()
    assert lever_values(apply_levers(sc, values)) == values


def test_a_missing_intervention_hides_its_lever_and_is_ignored(monkeypatch):
    sc = load_scenario(CROYDON)
    name = available_levers()[0].name
    monkeypatch.delitem(Intervention.registry, name)
    # Importing the package again must not bring it back for this test: pretend the
    # module is gone, and add one that cannot be imported at all (being written).
    real = pkgutil.iter_modules

    def modules(path):
        kept = [m for m in real(path) if m.name != name]
        return [*kept, pkgutil.ModuleInfo(None, "module_being_written", False)]

    monkeypatch.setattr(viz_state, "pkgutil", SimpleNamespace(iter_modules=modules))
    names = [lever.name for lever in available_levers()]
    assert name not in names
    assert names  # the others are still there
    assert name not in lever_values(sc)
    unchanged = apply_levers(sc, {name: True})
    assert unchanged.interventions.get(name) == sc.interventions.get(name)


def test_levers_cover_the_four_policy_levers_of_the_issue():
    assert [lever.name for lever in LEVERS] == [
        "triage",
        "schools_officers",
        "gangs_team",
        "kickz",
    ]


def test_a_smaller_borough_keeps_ward_school_and_gang_sizes():
    sc = load_scenario(CROYDON)
    pop = sc.population
    scaled = scale_population(sc, 10_000)
    small = scaled.population
    share = 10_000 / pop.population_10_17
    assert small.population_10_17 == 10_000
    assert small.wards == max(4, round(pop.wards * share))
    assert small.secondary_schools == max(2, round(pop.secondary_schools * share))
    assert scaled.gangs.count == max(1, round(sc.gangs.count * share))
    assert small.wards < pop.wards
    assert scale_population(sc, pop.population_10_17) == sc


def test_a_smaller_london_shrinks_borough_by_borough():
    sc = load_scenario(SCENARIOS / "london.toml")
    boroughs = sc.population.boroughs
    assert len(boroughs) > 1
    total = sum(b.population_10_17 for b in boroughs)
    scaled = scale_population(sc, 20_000)
    small = scaled.population
    assert len(small.boroughs) == len(boroughs)
    assert sum(b.population_10_17 for b in small.boroughs) == pytest.approx(20_000, rel=0.05)
    assert all(b.wards >= 1 and b.secondary_schools >= 1 for b in small.boroughs)
    assert scaled.gangs.count == max(1, round(sc.gangs.count * 20_000 / total))
    assert [b.name for b in small.boroughs] == [b.name for b in boroughs]


# -- the model and its network sample ---------------------------------------------------------
def test_network_sample_surrounds_the_largest_gang_and_keeps_its_layout(small_settings):
    model = VizModel(settings=small_settings)
    ppl = model.people
    live = np.arange(ppl.lo, ppl.n)
    members = live[ppl.gang[live] >= 0]
    biggest = np.bincount(ppl.gang[members]).argmax()
    sample = model.sample
    assert sample.ids.size == viz_state.SAMPLE_SIZE
    assert np.isin(members[ppl.gang[members] == biggest], sample.ids).all()
    assert np.array_equal(sample.ids, sample_around_gang(model))
    assert sample.xy.shape == (sample.ids.size, 2)
    assert np.isfinite(sample.xy).all()
    assert sample.edges.size > 0 and sample.edge_is_gang.any()
    xy = sample.xy.copy()
    for _ in range(30):
        model.step()
    assert model.network_sample() is sample  # not laid out again while it is still there
    assert np.array_equal(model.sample.xy, xy)
    state, gang = sample.states(model)
    assert state.shape == sample.ids.shape
    assert set(np.unique(state)) <= set(range(len(STATES)))
    assert gang.sum() > 0
    # The state agrees with the agent views, person by person.
    for k in range(0, sample.ids.size, 37):
        yp = model.young_person(int(sample.ids[k]))
        assert (STATES[state[k]] == "custody") == (yp.present and yp.in_custody)
        assert gang[k] == (yp.present and yp.gang_member)


def test_the_sample_is_drawn_again_once_half_of_it_has_left(small_settings):
    model = VizModel(settings=small_settings)
    first = model.sample
    model.people.lo = int(np.percentile(first.ids, 70)) + 1  # as if the oldest had turned 21
    assert first.left_share(model) > viz_state.RESAMPLE_LEFT_SHARE
    second = model.network_sample()
    assert second is not first
    assert (second.ids >= model.people.lo).all()


def test_viz_model_runs_the_settings_it_was_built_from(small_settings):
    lever = available_levers()[0]
    small_settings.levers[lever.name] = {"switch": False, "count": 0, "mode": "none"}[lever.kind]
    small_settings.seed = 11
    model = VizModel(settings=small_settings)
    assert model.seed == 11
    assert model.params.population.population_10_17 == SMALL
    assert model.params.interventions[lever.name].enabled is False
    assert model.settings == small_settings
    assert model.settings is not small_settings  # a later change waits for the next Reset
    small_settings.seed = 12
    assert model.settings.seed == 11


# -- where the page starts -------------------------------------------------------------------
def test_the_page_starts_at_the_first_measured_week_in_the_burned_in_world(tmp_path):
    settings = VizSettings.for_file(CROYDON, SMALL)
    assert settings.start_burned_in
    model = VizModel(settings=settings)
    burn_in = model.burn_in_weeks
    assert model.week == burn_in > 0
    assert list(model.frame_series()["week"]) == list(range(burn_in))  # the burn-in's record
    plain = YouthJusticeModel(scenario=settings.scenario(), seed=model.seed)
    plain.run(until=burn_in)
    assert np.array_equal(model.people.n_offences, plain.people.n_offences)
    for _ in range(3):
        model.step()
    assert model.week == burn_in + 3


def test_the_burned_in_world_is_made_once_and_the_levers_act_from_it(monkeypatch):
    from sim import fork

    settings = VizSettings.for_file(CROYDON, SMALL)
    settings.seed = 101
    first = VizModel(settings=settings)
    assert len(list(viz_state.cache_dir().glob("*.yjsnap"))) >= 1
    monkeypatch.setattr(fork, "burn_in", lambda *a, **k: pytest.fail("burned in again"))
    lever = next(lv for lv in available_levers() if lv.kind == "count")
    settings.levers[lever.name] = 0  # a policy changed: the same world, read from the cache
    second = VizModel(settings=settings)
    assert second.params.interventions[lever.name].enabled is False
    assert np.array_equal(first.people.gang, second.people.gang)


def test_a_damaged_cache_file_is_made_again_and_an_unwritable_cache_costs_nothing(
    monkeypatch, tmp_path
):
    settings = VizSettings.for_file(CROYDON, SMALL)
    settings.seed = 102
    monkeypatch.setenv("YJSIM_CACHE", str(tmp_path / "cache"))
    world = viz_state.burned_in_world(settings)
    (path,) = viz_state.cache_dir().glob("*.yjsnap")
    path.write_bytes(b"not a snapshot")
    again = viz_state.burned_in_world(settings)
    assert np.array_equal(world.arrays[0], again.arrays[0], equal_nan=True)
    blocked = tmp_path / "file"
    blocked.write_text("a file where the cache folder would go")
    monkeypatch.setenv("YJSIM_CACHE", str(blocked))
    assert VizModel(settings=settings).week == world.week


def test_the_cache_keeps_the_most_recently_used_worlds(tmp_path):
    for i in range(5):
        f = tmp_path / f"{i}.yjsnap"
        f.write_bytes(b"x")
        os.utime(f, (i, i))
    viz_state.prune_cache(tmp_path, keep=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["3.yjsnap", "4.yjsnap"]


# -- figures ---------------------------------------------------------------------------------
def test_frames_change_when_the_model_steps(small_settings):
    model = VizModel(settings=small_settings)
    before = figures.frame_images(model)
    assert set(before) == set(figures.PANELS)
    assert all(image.startswith(b"\xff\xd8") for image in before.values())  # JPEG
    for _ in range(8):
        model.step()
    after = figures.frame_images(model)
    changed = [name for name in before if before[name] != after[name]]
    assert changed == list(figures.PANELS)
    counts = figures.pathway_counts(model)
    df = model.frame_series()
    assert counts["detected offences"] == int(df["detected"].sum())
    assert counts["court sentence"] >= counts["custody"]
    assert counts["formal: caution or sentence"] >= counts["court sentence"]


def test_running_reoffending_is_the_mojs_measure_on_the_latest_complete_cohort(small_settings):
    from sim import metrics
    from sim.summary import people_frame

    small_settings.scenario_file = str(CROYDON)
    model = VizModel(settings=small_settings)
    for _ in range(140):
        model.step()
    r = figures.running_reoffending(model)
    assert r.complete
    assert (r.start_week, r.end_week) == (140 - 79 - 52, 140 - 79)
    ev = model.events
    full = metrics.proven_reoffending(
        people_frame(model),
        ev.offences_frame(),
        ev.disposals_frame(),
        ev.releases_frame(),
        r.start_week * 7,
        r.end_week * 7,
    )
    assert r.cohort == full.cohort_size > 0
    assert r.rate == pytest.approx(full.rate)
    assert figures.running_reoffending(model) is r  # cached for the week


def test_nice_ceiling_reads_well():
    values = (0, 0.3, 1, 1.1, 1.3, 2.2, 3, 7, 11, 1008)
    assert [figures.nice_ceiling(x) for x in values] == pytest.approx(
        [
            1,
            0.3,
            1,
            1.2,
            1.5,
            2.5,
            3,
            8,
            12,
            1200,
        ]
    )


def test_server_command_binds_loopback_and_passes_the_scenario():
    cmd, env = server_command(CROYDON, port=9999)
    assert cmd[cmd.index("--host") + 1] == "127.0.0.1"
    assert cmd[cmd.index("--port") + 1] == "9999"
    assert "sim.viz.app" in cmd  # its routes: the model at /, a decision at /decision
    assert env[SCENARIO_ENV] == str(CROYDON.resolve())
    assert env["SOLARA_TELEMETRY_MIXPANEL_ENABLE"] == "false"
    # No CDN proxy (it fetches and deletes); the front end is one of the static folders.
    assert env["SOLARA_ASSETS_PROXY"] == "false"
    assert env["SOLARA_ASSETS_CDN"] == "/static/assets/cdn"
    assert (Path(env["SOLARA_ASSETS_EXTRA_LOCATIONS"]) / "cdn" / "requirejs@2.3.6").is_dir()


# -- the page --------------------------------------------------------------------------------
def _measures(rc) -> str:
    found = [
        w
        for w in rc.find(solara.widgets.HTML).widgets
        if w.attributes.get("class") == "yjsim-measures"
    ]
    assert len(found) == 1
    return found[0].unsafe_innerHTML


def _images(rc) -> dict[str, bytes]:
    out = {}
    for w in rc.find(ipywidgets.Image).widgets:
        name = next(c for c in w._dom_classes if c.startswith("yjsim-"))
        out[name.removeprefix("yjsim-")] = w.value
    return out


def _button(rc, label: str):
    return rc.find(v.Btn, children=[label]).widget


def test_page_renders_steps_and_resets_with_the_levers(monkeypatch, small_settings):
    monkeypatch.setenv(SCENARIO_ENV, str(CROYDON))
    monkeypatch.setattr(viz_state, "DEFAULT_POPULATION", SMALL)
    monkeypatch.setattr(
        viz_state.VizSettings,
        "for_file",
        classmethod(lambda cls, path=None, population=SMALL: small_settings.copy()),
    )
    update_counter.value = 0
    _, rc = solara.render(solara.AppLayout(children=[Page()]), handle_error=False)

    # The controls, the levers and every figure are there.
    for label in ("Reset", "Step"):
        assert _button(rc, label)
    assert rc.find(v.Select, label="Scenario").widget.v_model == "croydon-2018.toml"
    assert "croydon-2018.toml" in rc.find(v.Select, label="Scenario").widget.items
    levers = available_levers()
    switches = {w.label: w for w in rc.find(v.Switch).widgets}
    for lever in levers:
        if lever.kind == "switch":
            assert switches[lever.label].v_model == small_settings.levers[lever.name]
        elif lever.kind == "count":
            assert rc.find(v.Slider, label=f"{lever.label}: {small_settings.levers[lever.name]}")
        else:
            assert rc.find(v.Select, label=lever.label).widget.items == lever.choices()
    images = _images(rc)
    assert set(images) == set(figures.PANELS)
    assert "Week 0 of" in _measures(rc)
    rc.find(v.Alert, children=["The model is running these settings."]).assert_single()

    # Step: one week; the figures showing each week's data are redrawn at once, the
    # others as soon as there is something to show (YOS supervision begins around week 20).
    assert RENDER_INTERVAL == 1
    _button(rc, "Step").click()
    assert "Week 1 of" in _measures(rc)
    rc.find(v.Html, children=["Step: 1"]).assert_single()
    after = _images(rc)
    weekly = ["network", "offences"]
    assert [n for n in weekly if images[n] != after[n]] == weekly
    for _ in range(PLAY_TO - 1):
        _button(rc, "Step").click()
    assert f"Week {PLAY_TO} of" in _measures(rc)
    after = _images(rc)
    assert [n for n in images if images[n] != after[n]] == list(images)

    # A lever waits for Reset; Reset builds the model with it and starts again at week 0.
    switch_levers = [lever for lever in levers if lever.kind == "switch"]
    assert switch_levers, "no switch lever available"
    lever = switch_levers[0]
    was = small_settings.levers[lever.name]
    switches = {w.label: w for w in rc.find(v.Switch).widgets}
    switches[lever.label].v_model = not was
    rc.find(v.Alert, children=["Press Reset to run with these settings."]).assert_single()
    _button(rc, "Reset").click()
    text = _measures(rc)
    assert "Week 0 of" in text
    word = "on" if not was else "off"
    assert f"{lever.name.replace('_', ' ')}: {word}" in text
    rc.find(v.Alert, children=["The model is running these settings."]).assert_single()

    # The borough's size: the slider, then Reset.
    slider = rc.find(v.Slider, label=f"Children aged 10-17: {SMALL:,}").widget
    slider.v_model = 4000
    _button(rc, "Reset").click()
    assert "with 4,000 children aged 10-17" in _measures(rc)


def test_population_from_the_browser_is_clamped_to_the_slider():
    lo, hi, _ = viz_state.POPULATION_RANGE
    assert clamp_population(10**8) == hi
    assert clamp_population(-5) == lo
    assert clamp_population(4000.4) == 4000
    assert clamp_population("7000") == 7000
    for bad in (float("nan"), float("inf"), "lots", None):
        with pytest.raises(ValueError, match="children aged 10-17"):
            clamp_population(bad)


def test_page_clamps_the_population_slider_on_the_server(monkeypatch, small_settings):
    """A client can send any slider value; the settings keep to the slider's range."""
    monkeypatch.setenv(SCENARIO_ENV, str(CROYDON))
    monkeypatch.setattr(
        viz_state.VizSettings,
        "for_file",
        classmethod(lambda cls, path=None, population=SMALL: small_settings.copy()),
    )
    update_counter.value = 0
    _, rc = solara.render(solara.AppLayout(children=[Page()]), handle_error=False)
    lo, hi, _ = viz_state.POPULATION_RANGE

    def slider():
        found = [w for w in rc.find(v.Slider).widgets if w.label.startswith("Children aged")]
        assert len(found) == 1
        return found[0]

    slider().v_model = 10**8
    assert slider().label == f"Children aged 10-17: {hi:,}"
    slider().v_model = -5
    assert slider().label == f"Children aged 10-17: {lo:,}"
    _button(rc, "Reset").click()
    assert f"with {lo:,} children aged 10-17" in _measures(rc)
