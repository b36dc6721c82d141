"""``yjsim compare A.toml B.toml``: a quick paired comparison of two scenarios.

It checks the two files, writes a two-scenario experiment (A the baseline, B the policy)
and runs it with the experiment runner (:func:`sim.batch.run_experiment`): the same
seeds and parameter draws for both, a shared burn-in where B differs from A only in
policy. Then it says what the report's top layer says about B against A
(:func:`sim.plain_language.policy_lines`). The results go to ``--out`` if given (so
``yjsim report DIR`` can follow, and a rerun resumes), otherwise to a temporary folder
removed at the end.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sim.experiment import ExperimentError
from sim.scenario import Scenario, load_scenario, posterior_path
from sim.tomlfile import InputError

# The most seeds or draws one comparison may ask for (an experiment's own limits are
# larger; a quick comparison that needs more is an experiment).
MAX_SEEDS = 10_000
MAX_DRAWS = 10_000
MAX_YEARS = 100  # as an experiment's ``years``


class CompareError(InputError):
    """A problem with the two scenarios or the options of ``yjsim compare``."""


@dataclass
class Comparison:
    """What ``yjsim compare`` found: the lines to print, and how the runs went."""

    lines: list[str]
    runs: int
    failed: int
    out: Path | None  # the results folder kept, if any


def _check_options(seeds: int, draws: int, years: int | None) -> None:
    if not 1 <= seeds <= MAX_SEEDS:
        raise CompareError(
            "--seeds", "", f"expected a whole number from 1 to {MAX_SEEDS:,}, got {seeds}"
        )
    if not 0 <= draws <= MAX_DRAWS:
        raise CompareError(
            "--draws", "", f"expected a whole number from 0 to {MAX_DRAWS:,}, got {draws}"
        )
    if years is not None and not 1 <= years <= MAX_YEARS:
        raise CompareError(
            "--years", "", f"expected a whole number from 1 to {MAX_YEARS}, got {years}"
        )


def _check_pair(
    a: Path, b: Path, sa: Scenario, sb: Scenario, draws: int, years: int | None
) -> None:
    """What the experiment would refuse, said of the user's two files."""
    if sa.name == sb.name:
        raise CompareError(
            b, "name", f"{sa.name!r} is also the name of {a}; compare needs two different names"
        )
    if years is None and sa.run.years != sb.run.years:
        raise CompareError(
            b,
            "run.years",
            f"{sb.run.years} here but {sa.run.years} in {a}; pass --years so both run as long",
        )
    if sa.run.burn_in_years != sb.run.burn_in_years:
        raise CompareError(
            b,
            "run.burn_in_years",
            f"{sb.run.burn_in_years} here but {sa.run.burn_in_years} in {a}; a paired "
            "comparison needs the same burn-in",
        )
    if draws:
        pa_, pb_ = posterior_path(a, sa), posterior_path(b, sb)
        for path, post in ((a, pa_), (b, pb_)):
            if post is None:
                raise CompareError(
                    path,
                    "parameters",
                    "--draws needs both scenarios to name a calibrated posterior",
                )
        if pa_ != pb_:
            raise CompareError(
                b, "parameters", f"names {pb_} but {a} names {pa_}; --draws needs one posterior"
            )


def experiment_text(a: Path, b: Path, seeds: int, draws: int, years: int | None) -> str:
    """The two-scenario experiment file (TOML) of a comparison."""
    lines = [
        'name = "compare"',
        f"description = {json.dumps(f'{b.name} against {a.name}')}",
        f"scenarios = [{json.dumps(str(a.resolve()))}, {json.dumps(str(b.resolve()))}]",
        f"replicates = {seeds}",
        f"draws = {draws}",
        "seed = 1",
        'outputs = ["summary"]',
    ]
    if years is not None:
        lines.append(f"years = {years}")
    return "\n".join(lines) + "\n"


def run_compare(
    a: Path,
    b: Path,
    seeds: int = 5,
    draws: int = 0,
    years: int | None = None,
    workers: int | None = None,
    out: Path | None = None,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> Comparison:
    """Run B against A on paired seeds (and draws) and say what changes.

    Raises :class:`~sim.tomlfile.InputError` (one line naming the file or option and the
    key) for a bad scenario or option, before anything runs or is written.
    """
    from sim.batch import run_experiment
    from sim.comparison import compare_all, programmes
    from sim.plain_language import policy_lines
    from sim.results import read_manifest, read_results

    a, b = Path(a), Path(b)
    _check_options(seeds, draws, years)
    sa, sb = load_scenario(a), load_scenario(b)
    _check_pair(a, b, sa, sb, draws, years)
    work = Path(tempfile.mkdtemp(prefix="yjsim-compare-"))
    try:
        exp = work / "compare.toml"
        exp.write_text(experiment_text(a, b, seeds, draws, years))
        results = out if out is not None else work / "results"
        try:
            done = run_experiment(exp, results, workers, progress=progress)
        except ExperimentError as e:
            if Path(e.path) != exp:
                raise
            # Anything the checks above missed: name the two files, not the temporary one.
            raise CompareError(f"{a} and {b}", e.key, e.message) from None
        summary = read_results(results, "summary")
        manifest = read_manifest(results)
        baseline, policy = sa.name, sb.name
        lines = [
            f"{policy} against {baseline}: {seeds} paired seeds"
            + (f" x {draws} parameter draws" if draws else "")
            + f", {manifest['years']} measured year{'s' if manifest['years'] != 1 else ''} each.",
        ]
        if summary.empty or policy not in set(summary["scenario"]):
            lines.append("No finished pair of runs to compare.")
        else:
            comps = compare_all(
                summary, baseline, [policy], {policy: sb.description}, programmes(summary)
            )
            lines += policy_lines(comps[policy], baseline, draws)
        if log is not None and done.failed:
            log(f"{done.failed} runs failed; they are left out (see {results}/failures)")
        return Comparison(lines, done.runs, done.failed, out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
