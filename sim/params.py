"""Typed parameters that carry their unit, source and how sure we are of them.

Every model parameter is declared once, in the module of its concern, with
``param(...)``. The register (``yjsim params``) is read straight from those
declarations, so a value cannot be added without saying where it comes from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Basis = Literal["calibrated", "sourced", "assumed"]

# Every number has both bounds. Where no source or physical law sets the upper one, these
# generous plausibility limits do: far beyond any value a scenario means, they refuse
# typos and sizes that would exhaust the machine (issue: "every value is bounded").
MAX_LOG_EFFECT = 10.0  # a log-hazard or log-odds term: e**10 is a factor of about 22,000
MAX_WEIGHT = 100.0  # a relative weight or multiplier (1 is "as much as the reference")
MAX_WEEKS = 1040  # a duration in weeks: 20 years, longer than anyone stays in the model
MAX_GBP = 1e9  # a unit cost or budget in pounds: a billion, a borough's whole budget
MAX_COUNT = 1_000_000  # staff, places or cases: more than England and Wales have

# Element types for per-offence-type tuples, so each entry is range-checked.
Probability = Annotated[float, Field(ge=0, le=1)]
NonNegative = Annotated[float, Field(ge=0, le=MAX_WEIGHT)]  # a weight or multiplier
Gravity = Annotated[int, Field(ge=1, le=8)]  # YJB gravity scores run 1-8

# Bibliography keys (docs/sources.md) of the five seed documents, cited by many
# parameters. Other sources are cited by their key directly: source="wilson-2018".
CROYDON_2019 = "croydon-yos-2019"
CROYDON_EARLIER = "croydon-yot-earlier"
ISLINGTON = "islington-yos-2016"
CROYDON_SCRUTINY = "croydon-scrutiny"
MPS_2009 = "mps-2009"


def param(
    default: Any,
    *,
    unit: str,
    basis: Basis,
    source: str = "",
    ge: float | None = None,
    le: float | None = None,
    gt: float | None = None,
    lt: float | None = None,
    doc: str = "",
) -> Any:
    """Declare a parameter with its unit, its source and its basis.

    ``basis`` is "sourced" (a published figure), "assumed" (our judgement, to be
    tested by sensitivity analysis) or "calibrated" (fitted to targets; the value
    here is the prior centre until a posterior is loaded). ``source`` cites keys of
    the bibliography, docs/sources.md ("mps-2009", or "key; key"); the figure used
    goes in ``doc``. A sourced parameter must cite a source; an assumption may
    explain itself in ``doc`` instead.
    """
    if basis == "sourced" and not source:
        raise ValueError("a sourced parameter needs its source")
    return Field(
        default,
        ge=ge,
        le=le,
        gt=gt,
        lt=lt,
        description=doc,
        json_schema_extra={"unit": unit, "source": source, "basis": basis},
    )


class Params(BaseModel):
    """Base for a concern's parameter block: unknown keys are errors, values are checked.

    NaN and infinity are refused for every number (TOML spells them ``nan`` and ``inf``):
    NaN passes every bound check (each comparison is false) and a run with it ends quietly
    with nonsense, and infinity ends in a traceback or ``Infinity`` in summary.json.
    """

    model_config = ConfigDict(
        extra="forbid", validate_assignment=True, frozen=False, allow_inf_nan=False
    )


@dataclass(frozen=True)
class RegisterRow:
    """One line of the parameter register."""

    name: str
    value: Any
    unit: str
    basis: str
    source: str
    doc: str


def register_rows(section: str, block: BaseModel) -> list[RegisterRow]:
    """Rows of the register for one parameter block (recursing into nested blocks)."""
    rows: list[RegisterRow] = []
    for key, field in type(block).model_fields.items():
        value = getattr(block, key)
        name = f"{section}.{key}" if section else key
        if isinstance(value, BaseModel):
            rows.extend(register_rows(name, value))
            continue
        extra = field.json_schema_extra or {}
        if not isinstance(extra, dict) or "basis" not in extra:
            continue  # structural settings (names, switches) are not parameters
        source = str(extra["source"])
        if value != field.default and extra["basis"] != "calibrated":
            # The scenario file changed it and cites its own source in a comment.
            was = f"; default {field.default!r}" + (f" from {source}" if source else "")
            source = f"set in the scenario file, whose comment gives its source{was}"
        rows.append(
            RegisterRow(
                name=name,
                value=value,
                unit=str(extra["unit"]),
                basis=str(extra["basis"]),
                source=source,
                doc=field.description or "",
            )
        )
    return rows
