"""A Gaussian-process emulator: of paired differences for ``yjsim decide``
(sim/decision.py), and of a fit's statistics for ``yjsim fit-match`` (sim/fit_match.py).

One scikit-learn :class:`~sklearn.gaussian_process.GaussianProcessRegressor` per
objective maps (lever values, drawn parameter values) to the paired difference of a
portfolio against the base scenario. Inputs are scaled to [0, 1] by the ranges seen in
the training rows; the kernel is a constant times an anisotropic RBF (one length scale
per input, so irrelevant parameters get long ones) plus white noise (the chance part of
each run, which the common seeds do not remove). Its accuracy is measured on held-back
portfolios: the emulator never sees any run of them while it is fitted.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

# Length scales in scaled units: 0.01 (a hundredth of a lever's range) to 100 (flat).
LENGTH_BOUNDS = (1e-2, 1e2)
# The white noise, as a share of the (normalised) variance of the differences: from
# nearly none (1e-6) to all of it (10, for a difference that is only chance).
NOISE_BOUNDS = (1e-6, 10.0)
RESTARTS = 3  # optimiser restarts of the kernel's hyperparameters


@dataclass
class Emulator:
    """A fitted emulator of one objective: predict the paired difference at inputs X."""

    model: Any  # a fitted sklearn GaussianProcessRegressor
    lo: np.ndarray
    span: np.ndarray

    def scaled(self, x: np.ndarray) -> np.ndarray:
        return (np.asarray(x, float) - self.lo) / self.span

    def predict(self, x: np.ndarray) -> np.ndarray:
        """The expected difference at each row of ``x``."""
        return np.asarray(self.model.predict(self.scaled(x)), float)


def fit(x: np.ndarray, y: np.ndarray, seed: int = 0) -> Emulator:
    """Fit a Gaussian process to rows ``x`` (inputs) and ``y`` (one objective)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel

    x = np.asarray(x, float)
    y = np.asarray(y, float)
    lo = x.min(axis=0)
    span = x.max(axis=0) - lo
    span[span == 0] = 1.0  # a constant input: scaled to 0, its length scale is moot
    kernel = ConstantKernel(1.0, (1e-3, 1e3)) * RBF(
        np.ones(x.shape[1]), LENGTH_BOUNDS
    ) + WhiteKernel(0.1, NOISE_BOUNDS)
    gp = GaussianProcessRegressor(
        kernel, normalize_y=True, n_restarts_optimizer=RESTARTS, random_state=seed
    )
    with warnings.catch_warnings():
        # A length scale at its bound (an input that does not matter) is an answer here.
        warnings.simplefilter("ignore", ConvergenceWarning)
        gp.fit((x - lo) / span, y)
    return Emulator(gp, lo, span)


@dataclass(frozen=True)
class Accuracy:
    """How well an emulator predicts held-back runs."""

    r2: float
    rmse: float
    n: int  # held-back runs
    sd: float  # standard deviation of the held-back differences (the RMSE's yardstick)

    def as_dict(self) -> dict[str, float]:
        return {"r2": self.r2, "rmse": self.rmse, "n_held_back": self.n, "sd": self.sd}


def accuracy(truth: np.ndarray, predicted: np.ndarray) -> Accuracy:
    """R^2 (1 - residual over total sum of squares) and RMSE of ``predicted``."""
    truth = np.asarray(truth, float)
    predicted = np.asarray(predicted, float)
    resid = truth - predicted
    total = float(np.sum((truth - truth.mean()) ** 2))
    r2 = 1.0 - float(np.sum(resid**2)) / total if total > 0 else float("nan")
    return Accuracy(r2, float(np.sqrt(np.mean(resid**2))), len(truth), float(truth.std()))
