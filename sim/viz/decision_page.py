"""The decision page (route ``/decision``): a finished ``yjsim decide`` folder in the browser.

The folder comes from ``yjsim viz --decision DIR`` (``$YJSIM_VIZ_DECISION``) or from the
text field. The page opens with the recommendation in plain language; below it the
frontier of cost against harm averted and a slider that moves along the frontier's
portfolios, cheapest first, with what the selected one buys; then when the recommendation
loses and what is worth finding out next. What it says comes from
:mod:`sim.viz.decision_view`; this module only lays it out. A folder that is not a
finished decision gets that module's one-line message.
"""

from __future__ import annotations

import os
from html import escape

import solara

from sim.viz import DECISION_ENV
from sim.viz.decision_view import (
    OpenDecision,
    PortfolioText,
    evppi_rows,
    first_stop,
    frontier_png,
    frontier_stops,
    losing_boxes,
    open_decision,
    portfolio_text,
    recommendation,
)

PROMPT = "Name the folder a finished decision wrote (yjsim decide DECISION.toml --out DIR)."


def _paragraphs(lines: list[str]) -> str:
    return "".join(f"<p>{escape(line)}</p>" for line in lines)


def _bullets(lines: list[str]) -> str:
    return "<ul>" + "".join(f"<li>{escape(line)}</li>" for line in lines) + "</ul>"


def _html(content: str, name: str):
    return solara.HTML(tag="div", unsafe_innerHTML=content, classes=[f"yjsim-decision-{name}"])


@solara.component
def DecisionPage():
    """Open a decision folder, then move along its frontier."""
    folder = solara.use_reactive(os.environ.get(DECISION_ENV, ""))
    reads = solara.use_reactive(0)  # bumped by "Read again", for a decision rerun meanwhile

    def read() -> tuple[OpenDecision | None, str]:
        if not folder.value.strip():
            return None, ""
        return open_decision(folder.value)

    opened, error = solara.use_memo(read, [folder.value, reads.value])
    solara.Title("yjsim: a decision")
    with solara.Column(style={"padding": "0 16px", "max-width": "1300px"}):
        with solara.Row(style={"align-items": "center"}):
            solara.InputText(
                "Decision folder (holds decision.json)", value=folder, continuous_update=False
            )
            solara.Button("Read again", on_click=lambda: reads.set(reads.value + 1), text=True)
        if error:
            solara.Error(error, classes=["yjsim-decision-error"])
        elif opened is None:
            solara.Info(PROMPT)
        else:
            # A new folder starts its own slider (at its recommendation).
            DecisionView(opened).key(f"{opened.folder}#{reads.value}")


@solara.component
def DecisionView(d: OpenDecision):
    """One decision: the recommendation, the frontier and its slider, the selected
    portfolio, when the recommendation loses and what to find out next."""
    stops = solara.use_memo(lambda: frontier_stops(d), [d])
    index = solara.use_reactive(first_stop(d))
    i = min(max(index.value, 0), len(stops) - 1) if stops else 0
    selected = stops[i] if stops else None
    image = solara.use_memo(lambda: frontier_png(d, selected), [d, selected])

    def move(value) -> None:
        # The slider's range holds in the browser only: a client can send any value.
        try:
            position = int(value)
        except (TypeError, ValueError, OverflowError):
            return
        index.set(min(max(position, 0), len(stops) - 1))

    a = d.answer
    _html(f"<h2>Decision: {escape(a.name)}</h2>{_paragraphs(recommendation(d))}", "recommendation")
    with solara.Columns([3, 2]):
        solara.Image(image, width="100%", format="png", classes=["yjsim-decision-frontier"])
        with solara.Column():
            if selected is None:
                solara.Warning("The frontier is empty: there is no portfolio to move along.")
            else:
                solara.Text(
                    f"Along the frontier, cheapest first: {selected} ({i + 1} of {len(stops)})",
                    classes=["yjsim-decision-position"],
                )
                solara.SliderInt(
                    "",
                    value=i,
                    min=0,
                    max=len(stops) - 1,
                    on_value=move,
                    tick_labels=stops,
                    thumb_label=False,
                )
                PortfolioCard(portfolio_text(d, selected))
    boxes = losing_boxes(d)
    _html(
        "<h3>When would it lose?</h3>"
        + (_bullets(boxes) if boxes else "<p>Scenario discovery did not run for it.</p>"),
        "boxes",
    )
    evpi, rows = evppi_rows(d)
    if rows:
        table = "".join(f"<tr><td>{escape(k)}</td><td>{escape(v)}</td></tr>" for k, v in rows)
        label = escape(a.objectives[a.ranked_by])
        _html(
            f"<h3>What to find out next</h3><p>{escape(evpi)}</p>"
            f"<table><thead><tr><th>parameter or group</th><th>EVPPI ({label} averted a year)"
            f"</th></tr></thead><tbody>{table}</tbody></table>",
            "evppi",
        )
    else:
        _html("<h3>What to find out next</h3><p>No value of information was computed.</p>", "evppi")


@solara.component
def PortfolioCard(text: PortfolioText):
    """What the selected portfolio buys."""
    with solara.Card(text.heading, subtitle=text.levers, classes=["yjsim-decision-portfolio"]):
        _html(_bullets(text.lines), "portfolio-lines")
