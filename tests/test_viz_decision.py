"""The browser's decision page (issue 20, item 7): a finished decision folder opened, its
frontier walked, each portfolio put in words; and a folder that is not a finished
decision refused in one line, on the page and by ``yjsim viz --decision``.

The smoke decision (decisions/smoke.toml) is run once for this module, as
tests/test_decide.py runs it; the page is rendered headless with ``solara.render``, as
tests/test_viz.py renders the model's page.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import ClassVar

os.environ.setdefault("SOLARA_TELEMETRY_MIXPANEL_ENABLE", "false")

import ipyvuetify as v
import ipywidgets
import pytest
import solara
from conftest import free_port, wait_for_server
from test_viz_browser import CHROMIUM, CHROMIUM_ARGS, LOCAL, chromium_or_skip, stop_server

import sim.viz
from sim.decision_report import gbp, number
from sim.viz import DECISION_ENV, server_command
from sim.viz.app import routes
from sim.viz.decision_page import DecisionPage
from sim.viz.decision_view import (
    BASE,
    DECISION_FILE,
    DecisionFolderError,
    evppi_rows,
    first_stop,
    frontier_png,
    frontier_stops,
    load_decision_folder,
    losing_boxes,
    open_decision,
    portfolio_text,
    recommendation,
)


@pytest.fixture(scope="session")
def smoke(smoke_decision_run: tuple[Path, dict]) -> Path:
    """The smoke decision's folder (run once for the session, tests/conftest.py)."""
    return smoke_decision_run[0]


@pytest.fixture
def answer(smoke: Path) -> dict:
    """A fresh copy of the smoke decision's decision.json, to change."""
    return json.loads((smoke / DECISION_FILE).read_text())


def _folder(tmp_path: Path, content: dict | str) -> Path:
    """A folder holding ``content`` as its decision.json."""
    folder = tmp_path / "decision"
    folder.mkdir()
    text = content if isinstance(content, str) else json.dumps(content)
    (folder / DECISION_FILE).write_text(text)
    return folder


# -- the folder, read and checked -------------------------------------------------------------


def test_a_finished_decision_opens_into_its_checked_answer(smoke, answer):
    d = load_decision_folder(smoke)
    a = d.answer
    assert d.folder == smoke and d.raw == answer
    assert a.name == "smoke" and a.budget_gbp == answer["budget_gbp"]
    assert a.recommended == answer["recommended"] is not None
    assert [p.name for p in a.portfolios] == [p["name"] for p in answer["portfolios"]]
    assert [f.name for f in a.frontier] == [f["name"] for f in answer["frontier"]]
    assert a.verification is not None and set(a.verification.portfolios) == set(
        answer["verification"]["portfolios"]
    )
    for name, entry in answer["verification"]["portfolios"].items():
        checked = a.verification.portfolios[name]
        assert set(checked.objectives) == set(answer["objectives"]) & set(entry)
        assert checked.objectives[a.ranked_by].median == entry[a.ranked_by]["median"]
    primary = a.ranked_by
    for f in answer["frontier"]:
        assert a.averted(f["name"]) == pytest.approx(f[f"{primary}_averted"])


def test_the_slider_moves_along_the_frontier_cheapest_first_from_the_recommendation(smoke, answer):
    d = load_decision_folder(smoke)
    stops = frontier_stops(d)
    cost = {p["name"]: p["cost_gbp"] for p in answer["portfolios"]}
    frontier = [f["name"] for f in answer["frontier"]]
    assert set(frontier) <= set(stops)
    assert set(stops) <= set(frontier) | {answer["recommended"]}
    assert [cost[n] for n in stops] == sorted(cost[n] for n in stops)
    assert answer["recommended"] in stops
    assert stops[first_stop(d)] == answer["recommended"]


def test_a_recommendation_off_the_frontier_gets_a_stop_in_its_place_by_cost(tmp_path, answer):
    off = [p["name"] for p in answer["portfolios"] if p["name"] != answer["recommended"]]
    cheap = min(
        (p for p in answer["portfolios"] if p["name"] in off),
        key=lambda p: p["cost_gbp"],
    )
    answer["frontier"] = [f for f in answer["frontier"] if f["name"] != answer["recommended"]]
    answer["recommended"] = cheap["name"]
    answer["frontier"] = [f for f in answer["frontier"] if f["name"] != cheap["name"]]
    d = load_decision_folder(_folder(tmp_path, answer))
    stops = frontier_stops(d)
    assert stops[0] == cheap["name"] == stops[first_stop(d)]
    assert stops[1:] == [f["name"] for f in answer["frontier"]]


def test_each_stop_says_what_it_buys(smoke, answer):
    d = load_decision_folder(smoke)
    by_name = {p["name"]: p for p in answer["portfolios"]}
    verified = answer["verification"]["portfolios"]
    for name in frontier_stops(d):
        text = portfolio_text(d, name)
        p = by_name[name]
        words = " ".join(text.lines)
        assert text.name == name and text.heading.startswith(name)
        for key, value in p["levers"].items():
            assert f"{key.removeprefix('interventions.')} = {value}" in text.levers
        is_best = name == answer["recommended"]
        assert text.recommended is is_best
        assert ("(recommended)" in text.heading) is is_best
        if is_best:
            assert text.lines[0].startswith("The recommendation")
        else:
            assert text.lines[0] == f"Not the recommendation (that is {answer['recommended']})."
        cost = verified[name]["cost_gbp"] if name in verified else p["cost_gbp"]
        if name == "base":  # today's policies: nothing to buy (sim/decision.py's BASE)
            assert cost == 0 and "costs nothing more and changes nothing" in words
            continue
        assert gbp(abs(cost)) in words
        assert ("within the budget" in words) is (cost <= answer["budget_gbp"])
        for objective, label in answer["objectives"].items():
            line = next(x for x in text.lines if x.startswith(f"{label}:"))
            if name in verified and objective in verified[name]:
                e = verified[name][objective]
                assert f"in {verified[name]['runs']} verification runs" in line
            else:
                e = p["observed_interval"][objective]
                assert "in the design's runs" in line
            assert f"changed by {number(e['median'])}" in line
            assert f"between {number(e['low'])} and {number(e['high'])}" in line
        if name in verified:
            v_ = verified[name]
            if "probability_best" in v_:
                assert f"in {v_['probability_best']:.0%} of the {v_['runs']} verification" in words
                assert f"expected regret {number(v_['expected_regret'])}" in words
            if not v_["feasible"]:
                assert f"Set aside by the verification runs: {v_['why_not']}." in text.lines
        else:
            assert "Not verified by real paired runs" in words


def test_todays_policies_are_the_yardstick(smoke, answer):
    d = load_decision_folder(smoke)
    text = portfolio_text(d, BASE)
    assert text.levers == "no change (today's policies)"
    assert any(line.startswith("Today's policies, unchanged") for line in text.lines)
    base = answer["verification"]["base"]
    assert any(
        f"in {base['probability_best']:.0%} of the verification runs" in x for x in text.lines
    )


def test_the_page_says_what_the_report_says(smoke, answer):
    d = load_decision_folder(smoke)
    report = (smoke / "report" / "index.md").read_text()
    paragraphs = recommendation(d)
    assert paragraphs and paragraphs[0].startswith(f"Recommended: {answer['recommended']}: ")
    for line in paragraphs:
        assert line in report
    boxes = losing_boxes(d)
    # One line a box, or, where PRIM found none, one line that says so.
    assert len(boxes) == max(len(answer["scenario_discovery"]["boxes"]), 1)
    for line in boxes:
        assert line in report
    evpi, rows = evppi_rows(d)
    value = answer["evppi"][answer["ranked_by"]]
    assert f"worth {number(value['all'])} " in evpi
    ranked = sorted((k for k in value if k != "all"), key=lambda k: -value[k])
    assert [k for k, _ in rows] == ranked[: len(rows)]
    assert rows and [v for _, v in rows] == [number(value[k]) for k, _ in rows]


def test_a_decision_without_discovery_or_verification_still_opens(tmp_path, answer):
    answer.update(scenario_discovery=None, evppi=None, verification=None)
    d = load_decision_folder(_folder(tmp_path, answer))
    assert losing_boxes(d) == [] and evppi_rows(d) == ("", [])
    for name in frontier_stops(d):
        assert "Not verified by real paired runs" in " ".join(portfolio_text(d, name).lines)


def test_keeping_todays_policies_or_nothing_within_budget_is_said_plainly(tmp_path, answer):
    answer["recommended"] = BASE
    d = load_decision_folder(_folder(tmp_path, answer))
    assert recommendation(d)[0].startswith("Keep today's policies: ")
    assert BASE in frontier_stops(d) and frontier_stops(d)[first_stop(d)] == BASE
    assert portfolio_text(d, BASE).heading == f"{BASE} (recommended)"
    answer["recommended"] = None
    (tmp_path / "decision").rename(tmp_path / "before")
    d = load_decision_folder(_folder(tmp_path, answer))
    assert recommendation(d)[0] == (
        "No portfolio of the design is within the budget and the constraints."
    )
    assert first_stop(d) == 0
    for name in frontier_stops(d):
        text = portfolio_text(d, name)
        assert not text.recommended and "recommend" not in " ".join(text.lines)
    assert frontier_png(d, None).startswith(b"\x89PNG")


def test_the_frontier_figure_rings_the_selected_portfolio(smoke):
    d = load_decision_folder(smoke)
    stops = frontier_stops(d)
    images = {name: frontier_png(d, name) for name in stops[:2]}
    for image in images.values():
        assert image.startswith(b"\x89PNG")
    assert images[stops[0]] != images[stops[1]]


# -- a folder that is not a finished decision --------------------------------------------------


def _drop(key: str):
    return lambda a: a.pop(key)


def _set(path: tuple, value):
    def change(a):
        target = a
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = value

    return change


def _first_verified(a) -> str:
    return next(iter(a["verification"]["portfolios"]))


BROKEN_SCHEMA = {
    "no portfolios": (_drop("portfolios"), "portfolios: required key is missing"),
    "cost as text": (_set(("portfolios", 0, "cost_gbp"), "12"), "portfolios.0.cost_gbp: "),
    "unknown recommendation": (_set(("recommended", ), "p99"), "'p99' is not among"),
    "frontier of nothing known": (
        _set(("frontier", 0, "name"), "nowhere"),
        "frontier: 'nowhere' is not among the portfolios",
    ),
    "ranked by no objective": (_set(("ranked_by",), "joy"), "ranked_by: 'joy' is not among"),
    "evppi without the evpi": (
        lambda a: a["evppi"][a["ranked_by"]].pop("all"),
        "evppi: harm has no 'all'",
    ),
    "probability best written as null": (
        lambda a: a["verification"]["portfolios"][_first_verified(a)].update(
            probability_best=None
        ),
        "probability_best: expected a number",
    ),
    "not an object": (lambda a: None, "expected a JSON object"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(BROKEN_SCHEMA))
def test_a_decision_json_of_the_wrong_shape_is_refused_in_one_line(tmp_path, answer, case):
    change, expected = BROKEN_SCHEMA[case]
    broken = copy.deepcopy(answer)
    change(broken)
    folder = _folder(tmp_path, [1, 2] if case == "not an object" else broken)
    with pytest.raises(DecisionFolderError) as info:
        load_decision_folder(folder)
    message = str(info.value)
    assert "\n" not in message and len(message) < 400
    assert message.startswith(f"{folder / DECISION_FILE}: ")
    assert expected in message, message
    assert open_decision(folder) == (None, message)


def test_a_folder_that_is_not_a_finished_decision_is_refused_in_one_line(tmp_path):
    expected = "expected a finished decision folder (yjsim decide DECISION.toml --out DIR)"
    empty = tmp_path / "empty"
    empty.mkdir()
    afile = tmp_path / "a-file"
    afile.write_text("")
    cases = {
        tmp_path / "missing": "no such folder",
        afile: "not a folder",
        empty: "no decision.json in it",
        _folder(tmp_path, '{"name": "smoke", '): "not valid JSON (line 1, column",
        "  ": "(no folder named)",
        "~no-such-user-here/decision": "no such folder",
    }
    for folder, what in cases.items():
        decision, message = open_decision(folder)
        assert decision is None
        assert "\n" not in message and what in message and expected in message, message
        if str(folder).strip():
            assert str(folder) in message


def test_yjsim_viz_refuses_a_folder_that_is_not_a_decision_with_exit_2(tmp_path):
    for folder in (tmp_path / "missing", _folder(tmp_path, "[")):
        command = [sys.executable, "-m", "sim.cli", "viz", "--decision", str(folder)]
        proc = subprocess.run(
            [*command, "--port", str(free_port())],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 2, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("yjsim: error: "), proc.stderr
        assert str(folder) in lines[0] and "expected a finished decision folder" in lines[0]


class _FinishedServer:
    """Stands for the solara server in :func:`serve`: it has already stopped cleanly."""

    started: ClassVar[list] = []

    def __init__(self, cmd, **kwargs) -> None:
        self.started.append((cmd, kwargs))

    def wait(self, timeout: float | None = None) -> int:
        return 0

    def poll(self) -> int:
        return 0


def test_serve_opens_the_decision_on_loopback_without_making_the_world_first(
    monkeypatch, capsys, smoke
):
    made = []
    monkeypatch.setattr(sim.viz, "prepare_default_world", made.append)
    monkeypatch.setattr(sim.viz.subprocess, "Popen", _FinishedServer)
    _FinishedServer.started = []
    port = free_port()
    sim.viz.serve(None, port=port, decision=smoke)
    (cmd, kwargs), = _FinishedServer.started  # fmt: skip
    assert kwargs["env"][DECISION_ENV] == str(smoke.resolve())
    assert cmd[cmd.index("--host") + 1] == "127.0.0.1"
    assert made == []  # the model's world is made when a visitor opens it, not before
    assert f"http://127.0.0.1:{port}/decision" in capsys.readouterr().err
    _, env = server_command(None, port=port)
    assert env[DECISION_ENV] == ""


# -- the page ----------------------------------------------------------------------------------


def test_the_app_serves_the_model_and_the_decision():
    paths = {r.path: r.component for r in routes}
    assert paths == {"/": sim.viz.app.Page, "decision": DecisionPage}


def _html(rc, name: str) -> str:
    found = [
        w
        for w in rc.find(solara.widgets.HTML).widgets
        if w.attributes.get("class") == f"yjsim-decision-{name}"
    ]
    assert len(found) == 1, name
    return found[0].unsafe_innerHTML


def _card_title(rc) -> str:
    return rc.find(v.CardTitle).widget.children[0]


def _title_of(stop: str, best: str) -> str:
    """A stop's card title: the recommended one says so (a frontier may be that one alone)."""
    return f"{stop} (recommended)" if stop == best else stop


def _errors(rc) -> list:
    return [w for w in rc.find(v.Alert).widgets if "yjsim-decision-error" in (w.class_ or "")]


def test_page_opens_the_decision_and_moves_along_the_frontier(monkeypatch, smoke, answer):
    monkeypatch.setenv(DECISION_ENV, str(smoke))
    _, rc = solara.render(solara.AppLayout(children=[DecisionPage()]), handle_error=False)
    d = load_decision_folder(smoke)
    stops = frontier_stops(d)
    best = answer["recommended"]

    assert f"Recommended: {best}: " in _html(rc, "recommendation")
    assert "When would it lose?" in _html(rc, "boxes")
    assert "What to find out next" in _html(rc, "evppi")
    figure = rc.find(ipywidgets.Image).widget
    assert figure.value == frontier_png(d, best)
    assert _card_title(rc) == f"{best} (recommended)"
    slider = rc.find(v.Slider).widget
    assert slider.v_model == stops.index(best) and slider.max == len(stops) - 1

    # Along the frontier: the card, the figure and the position follow the slider.
    other = 0 if stops.index(best) else len(stops) - 1
    slider.v_model = other
    assert _card_title(rc) == _title_of(stops[other], best)
    assert figure.value == frontier_png(d, stops[other])
    line = portfolio_text(d, stops[other]).lines[0]
    assert line in _html(rc, "portfolio-lines").replace("&#x27;", "'")
    rc.find(v.Html, children=[f"Along the frontier, cheapest first: {stops[other]} "
                              f"({other + 1} of {len(stops)})"]).assert_single()  # fmt: skip
    # A client can send any value: the page keeps to the frontier.
    slider.v_model = 10**6
    assert _card_title(rc) == _title_of(stops[-1], best)
    slider.v_model = -3
    assert _card_title(rc) == _title_of(stops[0], best)


def test_page_says_in_one_line_why_a_folder_does_not_open(monkeypatch, tmp_path, smoke):
    monkeypatch.delenv(DECISION_ENV, raising=False)
    _, rc = solara.render(solara.AppLayout(children=[DecisionPage()]), handle_error=False)
    rc.find(v.Alert, children=[sim.viz.decision_page.PROMPT]).assert_single()
    field = rc.find(v.TextField, label="Decision folder (holds decision.json)").widget
    broken = _folder(tmp_path, '{"portfolios": [')
    field.v_model = str(broken)
    field.fire_event("keyup.enter", None)
    (alert,) = _errors(rc)
    message = alert.children[0]
    assert message.startswith(f"{broken / DECISION_FILE}: not valid JSON")
    assert "\n" not in message
    assert not rc.find(v.Slider).widgets  # nothing of a decision on the page

    # A finished decision in the same field opens.
    field.v_model = str(smoke)
    field.fire_event("keyup.enter", None)
    assert not _errors(rc)
    assert rc.find(v.Slider).widget


def test_served_decision_page_walks_the_frontier_in_headless_chromium(tmp_path, smoke, answer):
    """``yjsim viz --decision`` served for real: /decision opens the folder and its slider
    moves along the frontier (tests/test_viz_browser.py: how Chromium is found)."""
    from playwright.sync_api import sync_playwright

    chromium_or_skip("the served decision page")
    port = free_port()
    log = tmp_path / "server.log"
    code = f"from sim.viz import serve; serve(None, port={port}, decision={str(smoke)!r})"
    with log.open("w") as out:
        server = subprocess.Popen(
            [sys.executable, "-c", code], stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    stops = frontier_stops(load_decision_folder(smoke))
    best = answer["recommended"]
    outside: list[str] = []
    try:
        wait_for_server(f"http://127.0.0.1:{port}/", server, log, timeout=60)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
            )
            page = browser.new_page(viewport={"width": 1400, "height": 1100})
            page.on("request", lambda r: None if r.url.startswith(LOCAL) else outside.append(r.url))
            page.goto(f"http://127.0.0.1:{port}/decision")
            page.locator("img.yjsim-decision-frontier").wait_for(timeout=60_000)
            page.get_by_text(f"Recommended: {best}: ").wait_for()
            title = page.locator(".yjsim-decision-portfolio .v-card__title")
            assert title.inner_text() == f"{best} (recommended)"
            before = page.locator("img.yjsim-decision-frontier").get_attribute("src")
            page.locator(".v-slider").first.click()  # focus the slider, then go to its end
            page.keyboard.press("End")
            page.get_by_text(f"cheapest first: {stops[-1]} ({len(stops)} of").wait_for()
            assert title.inner_text() == _title_of(stops[-1], best)
            after = page.locator("img.yjsim-decision-frontier").get_attribute("src")
            assert (after != before) == (stops[-1] != best)  # the figure follows the stop
            browser.close()
    finally:
        stop_server(server)
    assert outside == [], f"the page asked for something off this machine: {outside}"
