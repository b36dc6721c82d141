"""Typed parameters that carry their unit, source and how sure we are of them.

Every model parameter is declared once, in the module of its concern, with
``param(...)``. The register (``yjsim params``) is read straight from those
declarations, so a value cannot be added without saying where it comes from.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from scipy.special import betaincinv, ndtri

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


PriorKind = Literal["normal", "lognormal", "beta", "uniform"]
# A prior's central 98% must lie within its parameter's bounds: a draw is clipped to the
# bounds, and no more than this share of draws may end there.
PRIOR_TAIL = 0.01
Z90 = 1.6448536269514722  # the standard normal's 95th percentile: a 90% interval is +-Z90 SD


@dataclass(frozen=True)
class EffectPrior:
    """The uncertainty of a programme effect: the distribution a posterior draw takes it from.

    Declared beside the parameter (``param(..., prior=EffectPrior.normal(0.14, 0.25))``);
    the parameter's value stays the point value every point run uses. Four kinds, each
    with two numbers ``a`` and ``b`` (made by the constructors, which name them):

    - ``normal(mean, sd)``: an effect that may help or harm (a log-hazard reduction, where
      a negative draw is a programme that raises offending);
    - ``lognormal(median, sigma)``: a positive ratio or multiplier; ``sigma`` is the SD of
      its logarithm (a published rate ratio and its confidence interval);
    - ``beta(a, b)``: a share between 0 and 1;
    - ``uniform(low, high)``: where the evidence gives a range and no centre.

    ``low`` and ``high`` are the parameter's bounds (set by :func:`param`): a draw beyond
    them is clipped to them, which the declaration keeps to a rare tail.
    """

    kind: PriorKind
    a: float
    b: float
    low: float = -math.inf
    high: float = math.inf

    def __post_init__(self) -> None:
        if not (math.isfinite(self.a) and math.isfinite(self.b)):
            raise ValueError(f"{self.kind} prior: expected finite numbers, got {self.a}, {self.b}")
        valid = {
            "normal": self.b > 0,
            "lognormal": self.a > 0 and self.b > 0,
            "beta": self.a > 0 and self.b > 0,
            "uniform": self.a < self.b,
        }
        if not valid.get(self.kind, False):
            raise ValueError(f"not a valid {self.kind} prior: {self.a}, {self.b}")

    @classmethod
    def normal(cls, mean: float, sd: float) -> EffectPrior:
        """Normal with this mean and standard deviation."""
        return cls("normal", float(mean), float(sd))

    @classmethod
    def lognormal(cls, median: float, sigma: float) -> EffectPrior:
        """Lognormal with this median and SD of the logarithm."""
        return cls("lognormal", float(median), float(sigma))

    @classmethod
    def beta(cls, a: float, b: float) -> EffectPrior:
        """Beta with shapes a and b (mean a / (a + b))."""
        return cls("beta", float(a), float(b))

    @classmethod
    def uniform(cls, low: float, high: float) -> EffectPrior:
        """Uniform between low and high."""
        return cls("uniform", float(low), float(high))

    def quantile(self, u: np.ndarray | float) -> np.ndarray:
        """The distribution's quantiles at probabilities ``u`` (not clipped to the bounds)."""
        u = np.clip(np.asarray(u, dtype=float), 1e-12, 1 - 1e-12)
        if self.kind == "normal":
            return self.a + self.b * ndtri(u)
        if self.kind == "lognormal":
            return self.a * np.exp(self.b * ndtri(u))
        if self.kind == "beta":
            return betaincinv(self.a, self.b, u)
        return self.a + (self.b - self.a) * u

    def draw(self, u: np.ndarray | float) -> np.ndarray:
        """Values for uniforms ``u`` (inverse CDF), clipped to the parameter's bounds."""
        return np.clip(self.quantile(u), self.low, self.high)

    def within(self, low: float, high: float) -> EffectPrior:
        """This prior for a parameter bounded by ``low`` and ``high`` (a ValueError if more
        than a rare tail of it falls outside them)."""
        lo, hi = (float(x) for x in self.quantile(np.array([PRIOR_TAIL, 1 - PRIOR_TAIL])))
        if lo < low or hi > high:
            raise ValueError(
                f"{self.describe()}: its central {1 - 2 * PRIOR_TAIL:.0%} ({lo:.3g} to {hi:.3g}) "
                f"leaves the parameter's bounds {low} to {high}"
            )
        return EffectPrior(self.kind, self.a, self.b, low, high)

    def describe(self) -> str:
        """One line: the kind with its numbers, then the median and the 90% interval."""
        names = {
            "normal": ("mean", "sd"),
            "lognormal": ("median", "sigma"),
            "beta": ("a", "b"),
            "uniform": ("low", "high"),
        }[self.kind]
        lo, mid, hi = (float(x) for x in self.draw(np.array([0.05, 0.5, 0.95])))
        return (
            f"{self.kind}({names[0]} {_g(self.a)}, {names[1]} {_g(self.b)}): "
            f"median {_g(mid)}, 90% {_g(lo)} to {_g(hi)}"
        )

    def as_dict(self) -> dict[str, Any]:
        """As plain JSON-able values (kept in the field's schema extra)."""
        return {"kind": self.kind, "a": self.a, "b": self.b, "low": self.low, "high": self.high}


def _g(x: float) -> str:
    return f"{x:.3g}"


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
    prior: EffectPrior | None = None,
) -> Any:
    """Declare a parameter with its unit, its source and its basis.

    ``basis`` is "sourced" (a published figure), "assumed" (our judgement, to be
    tested by sensitivity analysis) or "calibrated" (fitted to targets; the value
    here is the prior centre until a posterior is loaded). ``source`` cites keys of
    the bibliography, docs/sources.md ("mps-2009", or "key; key"); the figure used
    goes in ``doc``. A sourced parameter must cite a source; an assumption may
    explain itself in ``doc`` instead.

    ``prior`` is a programme effect's uncertainty (:class:`EffectPrior`): experiments with
    posterior draws take the effect from it, draw by draw; ``default`` stays the value of
    every point run. A sourced prior's centre and spread come from the cited evidence; an
    assumed one is wide where the evidence is thin.
    """
    if basis == "sourced" and not source:
        raise ValueError("a sourced parameter needs its source")
    extra: dict[str, Any] = {"unit": unit, "source": source, "basis": basis}
    if prior is not None:
        if basis == "calibrated" or not isinstance(default, float):
            raise ValueError("a prior is for a programme effect: a float, sourced or assumed")
        if gt is not None or lt is not None:  # a draw clipped to gt would be refused
            raise ValueError("a parameter with a prior is bounded with ge and le")
        low = -math.inf if ge is None else ge
        high = math.inf if le is None else le
        extra["prior"] = prior.within(low, high).as_dict()
    return Field(
        default,
        ge=ge,
        le=le,
        gt=gt,
        lt=lt,
        description=doc,
        json_schema_extra=extra,
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
    prior: EffectPrior | None = None  # a programme effect's distribution (posterior draws)
    default: Any = None  # the declared point value


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
                prior=EffectPrior(**extra["prior"]) if "prior" in extra else None,
                default=field.default,
            )
        )
    return rows
