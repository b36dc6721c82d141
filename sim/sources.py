"""The bibliography: docs/sources.md, one entry per key, read by the tests and tools.

An entry is a ``### key`` heading followed by ``- Field: text`` lines (the format is
described at the top of docs/sources.md). Parameters and calibration targets cite
entries by key: ``"mps-2009"``, several keys as ``"mps-2009; croydon-scrutiny"``,
and a target may quote its figure after a colon: ``"croydon-yos-2019: 544 children"``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

BIBLIOGRAPHY = Path(__file__).resolve().parent.parent / "docs" / "sources.md"

KEY = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_HEADING = re.compile(r"^### (\S+)\s*$")
_FIELD = re.compile(r"^- ([A-Z][A-Za-z ]*):[ \t]*(.*)$")
_FIGURE = re.compile(r"^\s+- (.+)$")
FIELDS = ("Authors", "Title", "Publisher", "Year", "Link", "Seed file", "Figures", "Note")


class BibliographyError(ValueError):
    """A malformed bibliography: the message names the file and line."""


@dataclass(frozen=True)
class Source:
    """One bibliography entry; fields not given are empty."""

    key: str
    title: str = ""
    year: str = ""
    authors: str = ""
    publisher: str = ""
    link: str = ""
    seed_file: str = ""
    figures: tuple[str, ...] = ()
    note: str = ""


def bibliography(path: str | Path = BIBLIOGRAPHY) -> dict[str, Source]:
    """Every entry of the bibliography by key, in file order.

    Raises BibliographyError for a key that is not lower-case-with-hyphens, a key given
    twice, an unknown field, or a field given twice in one entry.
    """
    path = Path(path)
    entries: dict[str, Source] = {}
    key: str | None = None
    fields: dict[str, str] = {}
    figures: list[str] = []
    in_figures = False

    def close() -> None:
        if key is not None:
            entries[key] = Source(
                key=key,
                title=fields.get("Title", ""),
                year=fields.get("Year", ""),
                authors=fields.get("Authors", ""),
                publisher=fields.get("Publisher", ""),
                link=fields.get("Link", ""),
                seed_file=fields.get("Seed file", ""),
                figures=tuple(figures),
                note=fields.get("Note", ""),
            )

    in_code = False
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        where = f"{path}:{number}"
        if line.startswith("```"):
            in_code = not in_code  # the format example at the top is not an entry
            continue
        if in_code:
            continue
        if line.startswith("#"):
            close()
            key, fields, figures, in_figures = None, {}, [], False
            heading = _HEADING.match(line)
            if heading:
                key = heading.group(1)
                if not KEY.fullmatch(key):
                    raise BibliographyError(f"{where}: key {key!r} is not lower-case-with-hyphens")
                if key in entries:
                    raise BibliographyError(f"{where}: key {key!r} is given twice")
            continue
        if key is None:
            continue  # prose between sections
        field = _FIELD.match(line)
        if field:
            name, text = field.group(1), field.group(2).strip()
            if name not in FIELDS:
                raise BibliographyError(f"{where}: unknown field {name!r} in {key!r}")
            if name in fields:
                raise BibliographyError(f"{where}: field {name!r} given twice in {key!r}")
            fields[name] = text
            in_figures = name == "Figures"
            continue
        figure = _FIGURE.match(line)
        if figure and in_figures:
            figures.append(figure.group(1).strip())
    close()
    return entries


def bibliography_keys(path: str | Path = BIBLIOGRAPHY) -> set[str]:
    """The keys of the bibliography."""
    return set(bibliography(path))


def cited_keys(source: str) -> list[str]:
    """The keys a citation names: those before the first colon, separated by ";".

    ``"mps-2009"`` -> ``["mps-2009"]``; ``"yjs-2018-19; ons-mid-2018: 21,700 children"``
    -> ``["yjs-2018-19", "ons-mid-2018"]``. Empty for an empty citation. Whatever stands
    where a key should is returned as it is, so that a caller can report it as unknown.
    """
    head = source.split(":", 1)[0]
    return [part.strip() for part in head.split(";") if part.strip()]
