"""The bibliography (docs/sources.md): its entries, its format, and the citations of it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import ROOT

from sim.interventions import load_all
from sim.params import RegisterRow, register_rows
from sim.scenario import Scenario
from sim.sources import (
    BIBLIOGRAPHY,
    KEY,
    BibliographyError,
    bibliography,
    bibliography_keys,
    cited_keys,
)

SEED_FILES = {
    "croydon-yos-inspection-2019-news.txt",
    "croydon-yot-inspection-earlier-news.txt",
    "islington-yos-inspection-news.txt",
    "croydon-scrutiny-police-multiagency-minutes.txt",
    "mps-response-time-for-action-2009.txt",
}


def test_the_bibliography_is_the_repository_file():
    assert BIBLIOGRAPHY == ROOT / "docs" / "sources.md"
    assert BIBLIOGRAPHY.is_file()


def test_every_entry_has_a_title_and_a_year():
    entries = bibliography()
    assert len(entries) >= 40
    for key, entry in entries.items():
        assert entry.title, f"{key}: no title"
        # A four-digit year; "n.d." only for an undated web page, which must say so.
        assert re.fullmatch(r"(19|20)\d\d|n\.d\.", entry.year), f"{key}: year {entry.year!r}"
        if entry.year == "n.d.":
            assert "undated" in entry.note, f"{key}: n.d. without a note saying it is undated"


def test_every_entry_quotes_what_it_supports_and_links_are_addresses():
    for key, entry in bibliography().items():
        assert entry.figures, f"{key}: no figures"
        assert entry.authors and entry.publisher, key
        if entry.link:
            assert entry.link.startswith(("https://", "http://")), f"{key}: link {entry.link!r}"


def test_the_five_seed_documents_each_have_one_entry():
    seeds = {e.seed_file: k for k, e in bibliography().items() if e.seed_file}
    assert set(seeds) == SEED_FILES
    assert seeds["mps-response-time-for-action-2009.txt"] == "mps-2009"
    assert seeds["croydon-yos-inspection-2019-news.txt"] == "croydon-yos-2019"


def test_entries_keep_their_figures_and_fields():
    entry = bibliography()["dfe-exclusions-2018"]
    assert entry.year == "2019"
    assert entry.title == "Permanent and fixed-period exclusions in England: 2017 to 2018"
    assert entry.figures == ("0.20% of secondary pupils permanently excluded in 2017/18",)
    assert "mps-2009" in bibliography_keys()


def test_cited_keys_reads_keys_before_the_colon():
    assert cited_keys("mps-2009") == ["mps-2009"]
    assert cited_keys("mps-2009; croydon-scrutiny") == ["mps-2009", "croydon-scrutiny"]
    assert cited_keys("yjs-2018-19; ons-mid-2018: 21,700 children; 5.5 million") == [
        "yjs-2018-19",
        "ons-mid-2018",
    ]
    assert cited_keys("") == []
    # Free text is returned as it stands, so a caller reports it as an unknown key.
    assert cited_keys("ONS Census 2011, Croydon") == ["ONS Census 2011, Croydon"]


ENTRY = "### {key}\n- Title: A title\n- Year: 2020\n- Figures:\n  - 1 figure\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (ENTRY.format(key="a-1") + ENTRY.format(key="a-1"), "key 'a-1' is given twice"),
        (ENTRY.format(key="Bad_Key"), "key 'Bad_Key' is not lower-case-with-hyphens"),
        (ENTRY.format(key="a-1") + "- Colour: red\n", "unknown field 'Colour' in 'a-1'"),
        (ENTRY.format(key="a-1") + "- Year: 2021\n", "field 'Year' given twice in 'a-1'"),
    ],
)
def test_a_malformed_bibliography_is_rejected_naming_file_and_line(
    tmp_path: Path, text: str, message: str
):
    path = tmp_path / "sources.md"
    path.write_text("# Sources\n\n" + text)
    with pytest.raises(BibliographyError, match=re.escape(message)) as err:
        bibliography(path)
    assert str(err.value).startswith(f"{path}:")


def test_the_format_example_and_prose_are_not_entries(tmp_path: Path):
    path = tmp_path / "sources.md"
    path.write_text(
        "# Sources\n\nProse.\n\n```\n### key\n- Title: example\n```\n\n## Part\n\n"
        + ENTRY.format(key="real-2020")
    )
    entries = bibliography(path)
    assert list(entries) == ["real-2020"]
    assert entries["real-2020"].figures == ("1 figure",)


def declared_rows() -> list[RegisterRow]:
    """Every parameter as declared: the core's defaults and each intervention's."""
    rows = Scenario(name="x").register()
    for name, cls in sorted(load_all().items()):
        rows += register_rows(f"interventions.{name}", cls.Params())
    return rows


def test_the_register_cites_bibliography_keys():
    rows = declared_rows()
    assert len(rows) > 150
    known = bibliography_keys()
    for r in rows:
        keys = cited_keys(r.source)
        if r.basis == "sourced":
            assert keys, f"{r.name}: a sourced parameter cites no key"
        for k in keys:
            assert KEY.fullmatch(k), f"{r.name}: {k!r} is not a key (source={r.source!r})"
            assert k in known, f"{r.name}: {k!r} is not in docs/sources.md"
    cited = {k for r in rows for k in cited_keys(r.source)}
    assert {"mps-2009", "petrosino-2010", "wilson-2018", "commissioner-2019"} <= cited
