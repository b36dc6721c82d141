"""The ``yjsim`` command line: run, validate, list scenarios, print the parameter register.

Nothing ends in a traceback. Exit statuses:

- 0: done;
- 1: an experiment finished but some runs failed (listed in DIR/failures/);
- 2: bad input: one line on stderr names the file (or option) and the key, and says
  what is expected; nothing is written;
- 3: a fault outside the input (a folder that cannot be written, a full disk, a
  damaged results folder, a scheduler that does not answer): one line names the path,
  and says "rerun the same command to resume" where the work so far is kept;
- 130: interrupted (Ctrl-C).
"""

from __future__ import annotations

import functools
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from sim.faults import Fault, check_writable, os_fault, remove_made
from sim.scenario import SCENARIO_DIR, RunSettings, load_scenario, with_overrides
from sim.tomlfile import InputError, describe_error

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="yjsim: an agent-based simulation of youth offending and the policies against it.",
    pretty_exceptions_enable=False,
)

EXIT_BAD_INPUT = 2
EXIT_FAULT = 3
EXIT_INTERRUPTED = 130  # the shell's status for a process ended by SIGINT (128 + 2)
EXIT_READER_GONE = 141  # the shell's status for a process ended by SIGPIPE (128 + 13)


def _fail(message: str) -> None:
    typer.echo(f"yjsim: error: {message}", err=True)
    raise typer.Exit(EXIT_BAD_INPUT)


def _fault(message: str) -> None:
    typer.echo(f"yjsim: fault: {message}", err=True)
    raise typer.Exit(EXIT_FAULT)


def _warn(message: str) -> None:
    typer.echo(f"yjsim: warning: {message}", err=True)


def _guarded(command: Callable) -> Callable:
    """Bad input (exit 2) and faults (exit 3) as one line each, never a traceback."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except InputError as e:
            _fail(str(e))
        except Fault as e:
            _fault(str(e))
        except BrokenPipeError:
            # The reader of stdout left (``yjsim params | head``): nothing was refused,
            # so end quietly, as Unix tools do. stdout goes to /dev/null first, or the
            # interpreter's own flush at exit meets the closed pipe again.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise typer.Exit(EXIT_READER_GONE) from None
        except OSError as e:  # a write or read that the command did not foresee
            _fault(str(os_fault(e, "cannot read or write")))

    return wrapper


def _check_workers(workers: int | None, allow_more: bool) -> None:
    """At least one; at most this machine's cores unless ``--allow-more-workers``."""
    if workers is None:
        return
    if workers < 1:
        _fail(f"--workers: expected a whole number >= 1, got {workers}")
    cores = os.cpu_count() or 1
    if workers > cores and not allow_more:
        _fail(
            f"--workers: at most {cores} (this machine's cores), got {workers}; "
            "pass --allow-more-workers to start more"
        )


# Options shared by the commands that run batches on dask (experiment, compare, decide).
LocalWorkers = Annotated[
    int | None, typer.Option(help="local worker processes (default: one per core)")
]
Scheduler = Annotated[
    str | None, typer.Option(help="address of a running dask scheduler, e.g. tcp://host:8786")
]
Progress = Annotated[bool, typer.Option(help="show a progress bar")]
AllowMoreWorkers = Annotated[
    bool,
    typer.Option(
        "--allow-more-workers",
        help="allow --workers above this machine's cores (by default the cap)",
    ),
]


def _load(path: Path, draw: int | None = None, **run):
    try:
        scenario = load_scenario(path, draw=draw)
        return with_overrides(scenario, **run) if run else scenario
    except InputError as e:
        _fail(str(e))
    except ValidationError as e:  # a --years or --seed out of range
        key, message = describe_error(e, RunSettings)
        _fail(f"{path}: run.{key}: {message}")


def _fmt(value) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


SUMMARY_LINES = (
    ("population_10_17", "children aged 10-17"),
    ("true_offences_per_year", "true offences a year (the model knows them)"),
    ("proven_offences_per_year", "proven offences a year (caution or conviction)"),
    ("arrests_per_year", "arrests a year"),
    ("diversions_per_year", "diversions a year"),
    ("children_cautioned_or_sentenced_per_year", "children cautioned or sentenced a year"),
    ("first_time_entrants_per_year", "first-time entrants a year"),
    ("first_time_entrants_per_100k", "first-time entrants per 100,000 aged 10-17"),
    ("proven_reoffending_rate", "proven reoffending rate (MoJ measure)"),
    ("reoffences_per_reoffender", "reoffences per reoffender"),
    ("yos_caseload_mean", "YOS caseload (mean)"),
    ("custody_population_mean", "children in custody (mean)"),
)


def print_summary(summary: dict) -> None:
    """A readable table of the headline figures."""
    typer.echo(
        f"\n{summary['scenario']}  seed {summary['seed']}, {summary['years']} measured years "
        f"after {summary['burn_in_years']} years' burn-in (annual means)\n"
    )
    width = max(len(label) for _, label in SUMMARY_LINES)
    for key, label in SUMMARY_LINES:
        value = summary.get(key)
        if key == "proven_reoffending_rate" and value is not None:
            text = f"{100 * value:.1f}%"
        else:
            text = _fmt(value)
        typer.echo(f"  {label:<{width}}  {text:>12}")
    bands = summary.get("reoffending_rate_by_previous_offences", {})
    typer.echo(
        "  reoffending by previous offences  "
        + "  ".join(f"{k}: {'n/a' if v is None else f'{100 * v:.0f}%'}" for k, v in bands.items())
    )
    typer.echo("")


@app.command()
@_guarded
def run(
    scenario: Annotated[Path, typer.Argument(help="scenario TOML file")],
    years: Annotated[int | None, typer.Option(help="measured years (after burn-in)")] = None,
    seed: Annotated[int | None, typer.Option(help="random seed")] = None,
    draw: Annotated[
        int | None,
        typer.Option(help="posterior draw: 0 the mean (default), K the K-th particle"),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="folder for summary.json, timeseries.parquet")
    ] = None,
    progress: Progress = True,
) -> None:
    """Run a scenario, print its summary, and write the outputs to --out."""
    sc = _load(scenario, draw=draw, years=years, seed=seed)
    if out is not None and os.path.exists(out) and not os.path.isdir(out):
        _fail(f"--out {out}: exists and is not a folder")
    from sim import simulation
    from sim.summary import write_outputs

    made = check_writable(out) if out is not None else []  # before the run, not after
    start = time.perf_counter()
    try:
        done = simulation.simulate(
            sc, sc.run.seed, series=out is not None, progress=progress and sys.stderr.isatty()
        )
    except BaseException:
        remove_made(made)
        raise
    print_summary(done.summary)
    if out is not None:
        write_outputs(out, done.summary, done.series)
        typer.echo(f"wrote {out / 'summary.json'} and {out / 'timeseries.parquet'}")
    else:
        typer.echo(
            "wrote nothing: add --out DIR to keep summary.json and timeseries.parquet", err=True
        )
    typer.echo(f"({time.perf_counter() - start:.1f} s)", err=True)


@app.command()
@_guarded
def validate(scenario: Annotated[Path, typer.Argument(help="scenario TOML file")]) -> None:
    """Check a scenario file without running it."""
    sc = _load(scenario)
    on = ", ".join(n for n, p in sorted(sc.interventions.items()) if p.acts()) or "none"
    typer.echo(f"{scenario}: ok ({sc.name}; interventions: {on})")


@app.command("list")
@_guarded
def list_scenarios(
    folder: Annotated[Path, typer.Argument(help="folder of scenarios")] = SCENARIO_DIR,
) -> None:
    """The scenarios in a folder, with a one-line description each."""
    files = sorted(folder.glob("*.toml"))
    if not files:
        _fail(f"{folder}: no scenario files (*.toml)")
    width = max(len(f.name) for f in files)
    for f in files:
        try:
            desc = load_scenario(f).description
        except InputError as e:  # the file or one it extends, or its posterior
            desc = f"(invalid: {e.message})"
        typer.echo(f"  {f.name:<{width}}  {desc}")


@app.command()
@_guarded
def params(
    scenario: Annotated[Path | None, typer.Argument(help="scenario TOML file")] = None,
    basis: Annotated[
        str | None, typer.Option(help="only rows with this basis: calibrated, sourced, assumed")
    ] = None,
) -> None:
    """The parameter register: name, value, unit, basis and source of every parameter."""
    from sim.scenario import Scenario

    sc = _load(scenario) if scenario is not None else Scenario(name="defaults")
    if basis not in (None, "calibrated", "sourced", "assumed"):
        _fail(f"--basis: expected calibrated, sourced or assumed, got {basis!r}")
    rows = [r for r in sc.register() if basis is None or r.basis == basis]
    counts = {
        b: sum(r.basis == b for r in sc.register()) for b in ("calibrated", "sourced", "assumed")
    }
    typer.echo(
        f"# parameter register: {sc.name} ({len(rows)} rows; "
        + ", ".join(f"{n} {b}" for b, n in counts.items())
        + ")"
    )
    typer.echo("# sources: keys of docs/sources.md, where each has its full reference")
    typer.echo(
        "# prior: a programme effect's distribution, drawn with the posterior in experiments "
        "with draws (the value is the point value of every other run); - for the rest"
    )
    typer.echo("name\tvalue\tunit\tbasis\tprior\tsource / note")
    for r in rows:
        note = r.source if r.source else "assumption"
        if r.doc:
            note = f"{note}: {r.doc}" if r.source else f"assumption: {r.doc}"
        prior = r.prior.describe() if r.prior is not None else "-"
        typer.echo(f"{r.name}\t{r.value}\t{r.unit}\t{r.basis}\t{prior}\t{note}")


@app.command()
@_guarded
def experiment(
    experiment_file: Annotated[Path, typer.Argument(help="experiment TOML file")],
    out: Annotated[Path, typer.Option(help="results folder (rerun to resume)")],
    workers: LocalWorkers = None,
    scheduler: Scheduler = None,
    progress: Progress = True,
    allow_more_workers: AllowMoreWorkers = False,
    snapshots: Annotated[
        Path | None,
        typer.Option(
            help="keep the burned-in worlds in this folder, for good, and reuse those there "
            "(shared by experiments with the same baseline, seeds and draws); default: in "
            "--out, removed as their runs finish"
        ),
    ] = None,
) -> None:
    """Run an experiment (scenarios x replicates) on dask; resumable Parquet results in --out.

    --workers is capped at this machine's cores (--allow-more-workers lifts the cap).
    """
    from sim.batch import run_experiment

    _check_workers(workers, allow_more_workers)
    try:
        result = run_experiment(
            experiment_file, out, workers, scheduler, progress, snapshots=snapshots
        )
    except KeyboardInterrupt:
        typer.echo("yjsim: interrupted; rerun the same command to resume", err=True)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    typer.echo(result.describe())
    if result.failed:
        raise typer.Exit(1)


@app.command()
@_guarded
def report(
    results: Annotated[Path, typer.Argument(help="results folder of an experiment")],
    publish: Annotated[
        Path | None,
        typer.Option(
            help="also copy the report to this .md file (its charts to a folder beside it), "
            "with the commands and commit that made it: docs/results.md ships with the repo"
        ),
    ] = None,
) -> None:
    """Write RESULTS/report/index.html (and index.md) comparing each policy with the baseline."""
    from sim.report import publish_report, write_report

    if publish is not None:
        target = publish_report(results, publish, log=_warn)
        typer.echo(f"wrote {results / 'report'} and {target}")
        return
    path = write_report(results, log=_warn)
    typer.echo(f"wrote {path} and {path.with_suffix('.md')}")


@app.command()
@_guarded
def compare(
    baseline: Annotated[Path, typer.Argument(help="scenario A: the baseline")],
    policy: Annotated[Path, typer.Argument(help="scenario B: the policy compared with A")],
    seeds: Annotated[int, typer.Option(help="paired seeds (replicates)")] = 5,
    draws: Annotated[
        int, typer.Option(help="parameter draws of the shared posterior (0: its mean)")
    ] = 0,
    years: Annotated[
        int | None, typer.Option(help="measured years for both (default: theirs)")
    ] = None,
    workers: LocalWorkers = None,
    out: Annotated[
        Path | None,
        typer.Option(help="keep the results here (then `yjsim report OUT`; a rerun resumes)"),
    ] = None,
    progress: Progress = True,
    allow_more_workers: AllowMoreWorkers = False,
) -> None:
    """Compare scenario B with A on paired runs and say what B would change, how sure we
    are and what it would cost (the report's plain-language lines)."""
    from sim.compare import run_compare

    _check_workers(workers, allow_more_workers)
    try:
        done = run_compare(baseline, policy, seeds, draws, years, workers, out, progress, log=_warn)
    except KeyboardInterrupt:
        again = "; rerun the same command to resume" if out is not None else ""
        typer.echo(f"yjsim: interrupted{again}", err=True)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    for line in done.lines:
        typer.echo(line)
    if done.out is not None:
        typer.echo(f"results in {done.out}: `yjsim report {done.out}` for the full report")
    if done.failed:
        raise typer.Exit(1)


@app.command()
@_guarded
def decide(
    decision_file: Annotated[Path, typer.Argument(help="decision TOML file (decisions/)")],
    out: Annotated[Path, typer.Option(help="results folder (rerun to resume)")],
    workers: LocalWorkers = None,
    scheduler: Scheduler = None,
    progress: Progress = True,
    allow_more_workers: AllowMoreWorkers = False,
) -> None:
    """Find the best mix of programmes within a budget: a design of portfolios over
    parameter draws, run on dask (resumable), an emulator fitted on them, and the
    portfolios ranked; writes OUT/decision.json."""
    from sim.decision import run_decision

    _check_workers(workers, allow_more_workers)
    try:
        done = run_decision(decision_file, out, workers, scheduler, progress, log=_warn)
    except KeyboardInterrupt:
        typer.echo("yjsim: interrupted; rerun the same command to resume", err=True)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    best = done.answer["recommended"]
    typer.echo(f"recommended: {best}; wrote {done.path} and {done.path.parent}/report/index.html")
    if done.failed:
        raise typer.Exit(1)


@app.command()
@_guarded
def calibrate(
    config: Annotated[Path, typer.Argument(help="calibration config TOML (calibration/)")],
    workers: Annotated[int | None, typer.Option(help="processes (default: every core)")] = None,
    fresh: Annotated[
        bool, typer.Option(help="start again instead of resuming the saved history")
    ] = False,
    allow_more_workers: AllowMoreWorkers = False,
) -> None:
    """Fit the free parameters to the targets by ABC-SMC; write the posterior (Parquet).

    Resumable: each finished generation is saved, and running the same config again
    continues from the last one.
    """
    from sim.calibration import calibrate as run_calibration

    _check_workers(workers, allow_more_workers)
    try:
        out = run_calibration(config, workers=workers, fresh=fresh, log=typer.echo)
    except InputError as e:
        _fail(str(e))
    typer.echo(f"wrote {out}")


@app.command("fit-status")
@_guarded
def fit_status(
    config: Annotated[Path, typer.Argument(help="calibration config TOML (calibration/)")],
    generation: Annotated[
        int | None, typer.Option(help="the generation to show (default: the latest saved)")
    ] = None,
    closest: Annotated[
        int, typer.Option(help="how many of the generation's closest particles to summarise")
    ] = 20,
) -> None:
    """Where a calibration in progress stands, from its saved history (writes nothing).

    The generations so far; each target's weighted median and, over the closest
    particles, its median and misfit (the fitted ones that add most to the distance
    first); each free parameter's weighted median and 90% interval.
    """
    from sim.calibration import Calibration
    from sim.fit_progress import fit_progress, format_fit_progress

    try:
        progress = fit_progress(Calibration(config), generation=generation, closest=closest)
    except InputError as e:
        _fail(str(e))
    typer.echo(format_fit_progress(progress))


@app.command("fit-probe")
@_guarded
def fit_probe(
    config: Annotated[Path, typer.Argument(help="calibration config TOML (calibration/)")],
    change: Annotated[
        list[str],
        typer.Option(
            "--set",
            help="NAME=VALUE: a parameter to change (dotted, as in a scenario; repeatable)",
        ),
    ],
    generation: Annotated[
        int | None, typer.Option(help="the generation whose particles run (default: latest)")
    ] = None,
    closest: Annotated[int, typer.Option(help="how many of its closest particles run")] = 3,
    seeds: Annotated[int, typer.Option(help="seeds per particle (each run both ways)")] = 2,
    setting: Annotated[
        list[str] | None,
        typer.Option(help="a setting to run (repeatable; default: every one with a target)"),
    ] = None,
    workers: Annotated[int | None, typer.Option(help="processes (default: every core)")] = None,
    allow_more_workers: AllowMoreWorkers = False,
    history: Annotated[
        Path | None,
        typer.Option(
            help="the particles of another saved history (a fit of the model before a "
            "structural change); free parameters it lacks take the settings' values"
        ),
    ] = None,
) -> None:
    """What a change would do at a fit's closest particles (writes nothing).

    Runs the fit's settings at its size, burn-in and years with the closest particles
    of a saved generation, as fitted and with the change, paired by seed, and prints
    each target's mean both ways and the paired difference with its 95% interval: which
    mechanism would have to differ, and by how much, for a target the fit misses.
    """
    from sim.calibration import Calibration
    from sim.fit_probe import fit_probe as run_probe
    from sim.fit_probe import format_fit_probe, parse_change

    _check_workers(workers, allow_more_workers)
    changes = {}
    for text in change:
        try:
            name, value = parse_change(text)
        except ValueError as e:
            _fail(f"--set: {e}")
        changes[name] = value
    try:
        probe = run_probe(
            Calibration(config),
            changes,
            generation=generation,
            closest=closest,
            seeds=seeds,
            settings=setting,
            workers=workers,
            history_path=history,
        )
    except InputError as e:
        _fail(str(e))
    typer.echo(format_fit_probe(probe))


@app.command("fit-match")
@_guarded
def fit_match(
    config: Annotated[Path, typer.Argument(help="calibration config TOML (calibration/)")],
    since: Annotated[
        int | None,
        typer.Option(
            help="the first generation whose particles train the emulators "
            "(default: the latest three saved)"
        ),
    ] = None,
    candidates: Annotated[int, typer.Option(help="parameter sets searched")] = 100_000,
    seeds: Annotated[
        int, typer.Option(help="fresh runs of the best candidate at the fit's size (0: none)")
    ] = 8,
    check_seeds: Annotated[
        int,
        typer.Option(
            help="also judge the best candidate as check-fit does: full size, this many "
            "seeds a setting (0: not)"
        ),
    ] = 0,
    wave_runs: Annotated[
        int,
        typer.Option(
            help="a second wave: runs where the first search points, added to the "
            "particles before the search again (0: one wave)"
        ),
    ] = 0,
    waves: Annotated[
        int,
        typer.Option(
            help="waves of --wave-runs runs, each where the last search points (from the "
            "second on, with candidates near its runs too)"
        ),
    ] = 1,
    history: Annotated[
        Path | None,
        typer.Option(
            help="the particles of another saved history (a fit of the model before a "
            "structural change); free parameters it lacks take the settings' values at "
            "its particles and are drawn across their priors at the candidates (needs "
            "--wave-runs)"
        ),
    ] = None,
    workers: Annotated[int | None, typer.Option(help="processes (default: every core)")] = None,
    allow_more_workers: AllowMoreWorkers = False,
) -> None:
    """Can the fitted targets be met together? History matching on a fit's particles.

    Fits a Gaussian-process emulator of each fitted statistic to the particles of the
    later generations, predicts the statistics' means over many parameter sets near
    them, says how many targets can be met at once and which one keeps the others from
    being met, then runs the best parameter set with fresh seeds (writes nothing).
    """
    from sim.calibration import Calibration
    from sim.fit_match import fit_match as run_match
    from sim.fit_match import format_fit_match

    _check_workers(workers, allow_more_workers)
    try:
        found = run_match(
            Calibration(config),
            first_generation=since,
            candidates=candidates,
            seeds=seeds,
            check_seeds=check_seeds,
            wave_runs=wave_runs,
            waves=waves,
            history_path=history,
            workers=workers,
            progress=lambda text: typer.echo(text, err=True),
        )
    except InputError as e:
        _fail(str(e))
    typer.echo(format_fit_match(found))


@app.command("check-fit")
@_guarded
def check_fit(
    config: Annotated[Path, typer.Argument(help="calibration config TOML (calibration/)")],
    seeds: Annotated[int, typer.Option(help="seeds per setting")] = 20,
    workers: Annotated[int | None, typer.Option(help="processes (default: every core)")] = None,
    draws: Annotated[
        bool, typer.Option(help="also run one posterior draw per seed (parameter uncertainty)")
    ] = True,
    allow_more_workers: AllowMoreWorkers = False,
    parameters: Annotated[
        Path | None,
        typer.Option(
            help="judge this parameter set instead of the posterior: a TOML file of "
            "scenario tables, as fit-match prints its best set (prints the table, writes "
            "nothing)"
        ),
    ] = None,
) -> None:
    """Judge the posterior: each setting at full size over many seeds, against the targets.

    Prints the table (mean and 90% interval per target) and writes the fit report
    (Markdown and PNGs) to the config's report folder. With ``--parameters``, judges that
    one parameter set as it judges the posterior mean, and only prints.
    """
    from sim.calibration import (
        Calibration,
        fit_table,
        format_fit_table,
        read_parameter_set,
        write_check_record,
    )
    from sim.calibration import check_fit as run_check
    from sim.fit_report import plot_marginals, plot_targets, write_fit_report
    from sim.posterior import load_posterior

    if seeds < 2:
        _fail(f"--seeds: expected at least 2, got {seeds}")
    _check_workers(workers, allow_more_workers)
    cal = Calibration(config)
    if parameters is not None:
        theta = read_parameter_set(cal, parameters)
        runs = run_check(cal, seeds=seeds, workers=workers, parameters=theta)
        what = f"the parameter set in {parameters}"
        typer.echo(f"\n{format_fit_table(fit_table(cal, runs), seeds, what)}")
        return
    post = load_posterior(cal.posterior_path, key="posterior")
    _check_posterior_applies(cal, post)  # before the report folder is made
    out = cal.report_dir
    check_writable(out)
    kinds = {"mean": "posterior mean"}
    if draws:
        kinds["draws"] = "one posterior draw per seed"
    tables = {}
    for key, what in kinds.items():
        runs = run_check(cal, seeds=seeds, draws=key == "draws", workers=workers)
        runs.to_csv(out / f"check-{key}.csv", index=False)
        table = fit_table(cal, runs)
        tables[key] = (what, table)
        typer.echo(f"\n{format_fit_table(table, seeds, what)}")
        plot_targets(cal, runs, out / f"targets-{key}.png", what)
    plot_marginals(cal, post, out / "marginals.png")
    write_check_record(cal, tables, seeds)
    page = write_fit_report(cal, post, tables, seeds)
    typer.echo(f"\nwrote {page} and its figures")


def _check_posterior_applies(cal, post) -> None:
    """Every particle (and the mean) of ``post`` must apply to every setting's scenario."""
    from sim.posterior import PosteriorError
    from sim.scenario import apply_overrides

    for setting, sc in cal.scenarios.items():
        for k in range(post.size + 1):  # 0: the mean
            try:
                apply_overrides(sc, post.draw(k))
            except InputError as e:
                what = "the mean" if k == 0 else f"particle {k}"
                raise PosteriorError(
                    post.path,
                    e.key,
                    f"cannot be applied to setting {setting!r} ({what}): {e.message}",
                ) from None


@app.command()
@_guarded
def sensitivity(
    config: Annotated[Path, typer.Argument(help="calibration config TOML (calibration/)")],
    workers: Annotated[int | None, typer.Option(help="processes (default: every core)")] = None,
    allow_more_workers: AllowMoreWorkers = False,
) -> None:
    """Global sensitivity (SALib): Morris screening, then Sobol on the top parameters."""
    from sim.sensitivity import run_sensitivity

    _check_workers(workers, allow_more_workers)
    try:
        run_sensitivity(config, workers=workers, log=typer.echo)
    except InputError as e:
        _fail(str(e))


@app.command()
@_guarded
def viz(
    scenario: Annotated[
        Path | None, typer.Argument(help="scenario TOML file to start with")
    ] = None,
    host: Annotated[
        str,
        typer.Option(help="address to bind (127.0.0.1: this machine only; others get a warning)"),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to serve on")] = 8765,
    decision: Annotated[
        Path | None,
        typer.Option(
            help="a finished decision folder (yjsim decide ... --out DIR) to open at /decision"
        ),
    ] = None,
) -> None:
    """Serve the browser view (Mesa SolaraViz) at http://HOST:PORT (a decision at /decision)."""
    from sim.viz import serve

    if not 0 < port < 65536:
        _fail(f"--port: expected 1-65535, got {port}")
    try:
        serve(scenario, host, port, decision=decision)
    except InputError as e:
        _fail(str(e))
    except RuntimeError as e:  # the viz extra is not installed
        _fail(str(e))


def main() -> None:
    """Console entry point."""
    app()


if __name__ == "__main__":
    main()
