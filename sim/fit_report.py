"""The calibration's fit report: targets against simulations, posterior marginals, and
(once ``yjsim sensitivity`` has run) which parameters the targets and the policy
differences hang on. PNGs and a Markdown page under ``calibration/report/``.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import matplotlib.ticker
import numpy as np
import pandas as pd

from sim.calibration import STATISTIC_LABELS, Calibration, Target
from sim.posterior import Posterior


def _label(t: Target) -> str:
    return f"{t.setting}: {STATISTIC_LABELS.get(t.statistic, t.statistic)}"


def plot_targets(cal: Calibration, runs: pd.DataFrame, path: Path, what: str) -> Path:
    """One panel per target: the simulated values (dots), their mean, the target band."""
    n = len(cal.targets)
    cols = 2
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(11, 2.1 * rows + 0.8), squeeze=False)
    rng = np.random.default_rng(0)  # jitter only
    for ax, t in zip(axes.flat, cal.targets, strict=False):
        x = runs.loc[runs["setting"] == t.setting, t.statistic].to_numpy(float)
        x = x[np.isfinite(x)]
        lo_hi = []
        if t.value is not None:
            ax.axvspan(t.value - t.tolerance, t.value + t.tolerance, color="tab:green", alpha=0.2)
            ax.axvline(t.value, color="tab:green", lw=2, label="target ± tolerance")
            lo_hi += [t.value - 1.5 * t.tolerance, t.value + 1.5 * t.tolerance]
        else:
            bound = t.above if t.above is not None else t.below
            side = 1 if t.above is not None else -1
            ax.axvline(bound, color="tab:green", lw=2, label="bound")
            ax.axvspan(bound, bound + side * 10 * t.tolerance, color="tab:green", alpha=0.2)
            lo_hi += [bound - 2 * t.tolerance, bound + 2 * t.tolerance]
        if x.size:
            ax.scatter(x, rng.uniform(-0.3, 0.3, x.size), s=12, color="tab:blue", alpha=0.7)
            ax.axvline(x.mean(), color="tab:blue", ls="--", label="simulated mean")
            lo_hi += [x.min(), x.max()]
        span = max(lo_hi) - min(lo_hi)
        ax.set_xlim(min(lo_hi) - 0.05 * span, max(lo_hi) + 0.05 * span)
        ax.set_ylim(-1, 1)
        ax.set_yticks([])
        ax.set_title(_label(t) + ("" if t.fit else " (not fitted)"), fontsize=9)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7, loc="upper left")
    fig.suptitle(f"Calibration targets against the model ({what})", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_marginals(cal: Calibration, post: Posterior, path: Path) -> Path:
    """Weighted histogram of each parameter over its prior range, prior shown flat."""
    priors = {p.name: p for p in cal.priors}
    n = len(post.names)
    cols = 4
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(12, 2.6 * rows + 0.6), squeeze=False)
    mean = post.mean()
    for ax, (j, name) in zip(axes.flat, enumerate(post.names), strict=False):
        p = priors.get(name)
        values = post.values[:, j]
        log = p is not None and p.prior == "loguniform"
        lo, hi = (p.low, p.high) if p is not None else (values.min(), values.max())
        edges = np.geomspace(lo, hi, 16) if log else np.linspace(lo, hi, 16)
        ax.hist(values, bins=edges, weights=post.weights, density=True, color="tab:blue", alpha=0.7)
        if p is not None:
            dens = (
                1 / (np.log(hi) - np.log(lo)) / edges if log else np.full(edges.size, 1 / (hi - lo))
            )
            ax.plot(edges, dens, color="grey", ls=":", label="prior")
        ax.axvline(mean[name], color="k", ls="--", lw=1, label="posterior mean")
        if log:
            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_xlim(lo, hi)
        ax.set_title(name, fontsize=9)
        ax.set_yticks([])
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    gen = post.metadata.get("yjsim.generation", "?")
    eps = post.metadata.get("yjsim.epsilon", "?")
    sims = post.metadata.get("yjsim.simulations", "?")
    fig.suptitle(
        f"Posterior marginals ({post.size} particles, effective size "
        f"{post.effective_size:.0f}; ABC-SMC generation {gen}, epsilon {eps}, "
        f"{sims} simulations)",
        fontsize=11,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_fit_report(
    cal: Calibration, post: Posterior, tables: dict[str, tuple[str, pd.DataFrame]], seeds: int
) -> Path:
    """The Markdown page: how the fit was made, each target table, the figures."""
    from sim.calibration import format_fit_table
    from sim.posterior import describe

    out = cal.report_dir
    out.mkdir(parents=True, exist_ok=True)
    lines = [
        f"# Calibration report: {cal.config.name}",
        "",
        cal.config.description,
        "",
        f"Made by `yjsim check-fit {cal.path.as_posix()} --seeds {seeds}`. The posterior is "
        f"`{cal.posterior_path.name}` ({post.size} particles, effective sample size "
        f"{post.effective_size:.1f} (1 / sum of squared weights), ABC-SMC generation "
        f"{post.metadata.get('yjsim.generation', '?')}, the last of the "
        f"{post.metadata.get('yjsim.generations_run', '?')} run with an effective size of "
        f"at least {cal.config.abc.min_effective_size:g}; epsilon "
        f"{post.metadata.get('yjsim.epsilon', '?')}, "
        f"{post.metadata.get('yjsim.simulations', '?')} simulations in all).",
        "",
        "## Targets",
        "",
    ]
    for key, (what, table) in tables.items():
        lines += [f"### {what}", "", format_fit_table(table, seeds, what), ""]
        lines += [f"![targets, {what}](targets-{key}.png)", ""]
    lines += [
        "Sources:",
        "",
        *[f"- `{t.name}`: {t.source}" + (f" ({t.note})" if t.note else "") for t in cal.targets],
        "",
        "## Posterior",
        "",
        "```",
        describe(post),
        "```",
        "",
        "![posterior marginals](marginals.png)",
        "",
        "Priors and why:",
        "",
        *[f"- `{p.name}`: {p.prior} {p.low:g} to {p.high:g}. {p.why}" for p in cal.priors],
        "",
    ]
    path = out / "README.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    embed_sensitivity(out)
    return path


def embed_sensitivity(report_dir: Path) -> None:
    """End the report page with ``sensitivity.md`` (if both exist), replacing an older copy.

    ``yjsim check-fit`` and ``yjsim sensitivity`` run in either order; both call this.
    """
    page, sens = report_dir / "README.md", report_dir / "sensitivity.md"
    if not (page.is_file() and sens.is_file()):
        return
    text = page.read_text(encoding="utf-8")
    cut = text.find("\n## Sensitivity")
    head = text if cut < 0 else text[:cut]
    page.write_text(head.rstrip("\n") + "\n\n" + sens.read_text(encoding="utf-8"), encoding="utf-8")
