"""A calibrated posterior: parameter sets with weights, read from Parquet.

``yjsim calibrate`` writes one row per particle of the last ABC-SMC generation: a
column per free parameter (its dotted name, e.g. ``behaviour.coef_peer``), ``weight``
and ``distance``. A scenario names the file (``parameters = "../calibration/...parquet"``)
and runs with draw 0, the weighted posterior mean, or draw K (1..n), the K-th particle.
The mean is taken on the scale the fit sampled each parameter on (log10 for a
loguniform prior, which the file's metadata records), so that a long right tail does
not drag the point off the posterior.
Experiments pick draws by systematic resampling on the weights, so every draw is a
particle and the picks are the same on every machine.

Only Parquet is read (never a pickle), and every column is checked to be a number.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sim.tomlfile import InputError

RESERVED = ("weight", "distance")


class PosteriorError(InputError):
    """A problem with a posterior table, with the file and the column it concerns."""


def effective_size(weights: np.ndarray) -> float:
    """Kish's effective sample size, (sum w)^2 / sum(w^2): how many equal-weight particles
    the weighted sample is worth (ABC-SMC importance weights can be very uneven)."""
    w = np.asarray(weights, float)
    return float(w.sum() ** 2 / np.sum(w**2))


@dataclass(frozen=True)
class Posterior:
    """Particles (rows) of the free parameters (columns), with normalised weights."""

    path: Path
    names: tuple[str, ...]
    values: np.ndarray  # (particles, parameters)
    weights: np.ndarray  # sums to 1
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return int(self.values.shape[0])

    @property
    def effective_size(self) -> float:
        return effective_size(self.weights)

    @property
    def sampled_on_log10(self) -> frozenset[str]:
        """The parameters the fit sampled on log10 (loguniform priors), as recorded in the
        file's ``yjsim.priors`` metadata; none for a table that does not record it."""
        try:
            priors = json.loads(self.metadata.get("yjsim.priors", "[]"))
            return frozenset(p["name"] for p in priors if p.get("prior") == "loguniform")
        except (ValueError, TypeError, KeyError, AttributeError):
            return frozenset()

    def fit_summary(self) -> dict[str, str | int | float]:
        """How far the fit behind this posterior had gone, from the file's metadata (as
        ``yjsim calibrate`` writes it): the calibration's name, the generation, its
        distance threshold, its effective size and the simulations run so far. Empty for
        a table that records none of it. Results made while a fit is still converging
        carry this, so that they say from which generation they come."""
        kinds = {
            "calibration": str,
            "generation": int,
            "epsilon": float,
            "effective_size": float,
            "simulations": int,
        }
        out: dict[str, str | int | float] = {}
        for key, kind in kinds.items():
            try:
                out[key] = kind(self.metadata[f"yjsim.{key}"])
            except (KeyError, ValueError):  # not recorded, or not a number
                pass
        return out

    def mean(self) -> dict[str, float]:
        """The weighted posterior mean of each parameter, on the scale it was sampled on.

        For a parameter sampled on log10 that is the weighted geometric mean: the fit's
        particles and kernel live on that scale, where the posterior is close to
        symmetric, and an arithmetic mean in natural units is pulled up by the tail
        (the refit's detection scale: 0.34 against a median of 0.11 and a geometric
        mean of 0.14; at the arithmetic means its settings missed their targets by a
        distance of about 1,300 against the posterior's 86).
        """
        logs = self.sampled_on_log10
        out = {}
        for j, n in enumerate(self.names):
            column = self.values[:, j]
            if n in logs and np.all(column > 0):
                out[n] = float(10.0 ** (self.weights @ np.log10(column)))
            else:
                out[n] = float(self.weights @ column)
        return out

    def quantiles(self, q: float) -> dict[str, float]:
        """Weighted quantile q of each parameter."""
        out = {}
        for j, n in enumerate(self.names):
            order = np.argsort(self.values[:, j], kind="stable")
            cdf = np.cumsum(self.weights[order])
            out[n] = float(self.values[order, j][np.searchsorted(cdf, q * cdf[-1])])
        return out

    def draw(self, k: int) -> dict[str, float]:
        """Draw 0 is the posterior mean; draw k (1..size) is the k-th particle."""
        if k == 0:
            return self.mean()
        if not 1 <= k <= self.size:
            raise IndexError(k)
        return {n: float(v) for n, v in zip(self.names, self.values[k - 1], strict=True)}

    def pick(self, draws: int, seed: int) -> list[int]:
        """``draws`` particle numbers (1-based) by systematic resampling on the weights.

        One uniform offset from ``seed``, then evenly spaced points on the weights'
        cumulative sum: each particle is picked about weight x draws times, with less
        noise than independent picks, and the result depends only on file and seed.
        """
        u = np.random.default_rng(seed).uniform()
        points = (u + np.arange(draws)) / draws
        cdf = np.cumsum(self.weights)
        cdf[-1] = 1.0
        return [int(i) + 1 for i in np.searchsorted(cdf, points, side="right")]


def load_posterior(path: str | Path, *, key: str = "parameters") -> Posterior:
    """Read and check a posterior table; a problem raises PosteriorError naming the file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    if not path.is_file():
        raise PosteriorError(path, "", "no such posterior file (run `yjsim calibrate` to make it)")
    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as e:
        raise PosteriorError(path, "", f"not a readable Parquet table ({e})") from None
    if "weight" not in table.column_names:
        raise PosteriorError(path, "weight", "missing column: a posterior needs particle weights")
    for name, typ in zip(table.column_names, table.schema.types, strict=True):
        if not (pa.types.is_floating(typ) or pa.types.is_integer(typ)):
            raise PosteriorError(path, name, f"expected a numeric column, got {typ}")
    names = tuple(n for n in table.column_names if n not in RESERVED)
    if not names:
        raise PosteriorError(path, "", "no parameter columns")
    for n in names:
        if n.count(".") < 1:
            raise PosteriorError(
                path, n, "expected a dotted parameter name like behaviour.coef_peer"
            )
    if table.num_rows == 0:
        raise PosteriorError(path, "", "no particles (the table is empty)")
    values = np.column_stack([table[n].to_numpy().astype(float) for n in names])
    weights = table["weight"].to_numpy().astype(float)
    if not np.all(np.isfinite(values)):
        bad = names[int(np.nonzero(~np.isfinite(values).all(axis=0))[0][0])]
        raise PosteriorError(path, bad, "expected finite numbers, found NaN or infinity")
    total = float(weights.sum())
    if not np.all(np.isfinite(weights)) or np.any(weights < 0) or not total > 0:
        raise PosteriorError(path, "weight", "expected non-negative weights with a positive sum")
    meta = {k.decode(): v.decode() for k, v in (table.schema.metadata or {}).items()}
    return Posterior(path, names, values, weights / total, meta)


def describe(post: Posterior) -> str:
    """One line per parameter: mean and 90% interval."""
    lo, hi, mean = post.quantiles(0.05), post.quantiles(0.95), post.mean()
    width = max(len(n) for n in post.names)
    return "\n".join(
        f"{n:<{width}}  {_g(mean[n])}  (90%: {_g(lo[n])} to {_g(hi[n])})" for n in post.names
    )


def _g(x: float) -> str:
    return f"{x:.3g}" if math.isfinite(x) else "n/a"
