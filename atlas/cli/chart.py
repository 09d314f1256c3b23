"""`atlas chart`: chart a task over settings on the embedded store, show a chart, list charts.

    atlas chart run --task T --setting vanilla:20 --setting gru:20 --networks-per-setting N
        [--param NAME=VALUE ...] [--training NAME=VALUE ...] [--seed-budget --seed
        --chunk-size --acceptance --plot FILE --no-kappa]
    atlas chart show ID [--plot FILE] [--no-kappa]
    atlas chart list

`run` trains in this process (the embedded runner, whatever broker is configured), printing
each setting's progress as it changes, and ends with the chart's types once its accepted
networks are analysed. Interrupted (Ctrl-C), the running chunks go back to queued: `atlas
serve` on the same database finishes the chart.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from atlas.analysis_status import AnalysisStatus
from atlas.cli import CommandError
from atlas.cli.arguments import positive_int, record_id, seed
from atlas.cli.database import atlas_session, atlas_sessions
from atlas.cli.loading import add_task_parameter_argument, resolve_task
from atlas.config import get_settings

if TYPE_CHECKING:
    from atlas.analysis.chart_summary import KappaOutcome, TypeBreakdown
    from atlas.store import ChartRecord, ChartResult

DEFAULT_INTERVAL_S = 5.0


def register(subparsers: argparse._SubParsersAction) -> None:
    from atlas.store import ACCEPTANCE_LOSS, BUDGET_FACTOR, DEFAULT_CHUNK_SIZE

    parser = subparsers.add_parser("chart", help="chart a task over settings; show, list charts")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    run = actions.add_parser("run", help="train a chart here, with progress per setting")
    run.add_argument("--task", required=True, help="task key or alias")
    add_task_parameter_argument(run)
    run.add_argument(
        "--setting",
        action="append",
        required=True,
        metavar="ARCH:UNITS",
        help="a setting to chart, e.g. vanilla:20; repeatable",
    )
    run.add_argument("--networks-per-setting", type=positive_int, required=True, metavar="N")
    run.add_argument(
        "--seed-budget",
        type=positive_int,
        help=f"seeds a setting may use (default {BUDGET_FACTOR}x --networks-per-setting)",
    )
    run.add_argument("--seed", type=seed, default=0, help="start of the chart's seeds")
    run.add_argument(
        "--chunk-size",
        type=positive_int,
        default=DEFAULT_CHUNK_SIZE,
        help="networks per population chunk (default %(default)s)",
    )
    run.add_argument(
        "--acceptance",
        type=float,
        default=ACCEPTANCE_LOSS,
        metavar="LOSS",
        help="accept networks whose validation loss is below this (default %(default)g)",
    )
    run.add_argument(
        "--training",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a training option (JSON value), e.g. --training max_epochs=500",
    )
    run.add_argument(
        "--interval", type=float, default=DEFAULT_INTERVAL_S, help="seconds between reports"
    )
    show = actions.add_parser("show", help="a chart's progress and types")
    show.add_argument("chart_id", type=record_id, metavar="ID")
    runs = actions.add_parser(
        "from-runs", help="a chart of populations trained elsewhere (run folders)"
    )
    runs.add_argument(
        "folders", type=Path, nargs="+", metavar="FOLDER", help="run folders, one per setting"
    )
    runs.add_argument("--networks-per-setting", type=positive_int, required=True, metavar="N")
    runs.add_argument("--seed-budget", type=positive_int, help="as for run (default 3x N)")
    runs.add_argument("--acceptance", type=float, default=ACCEPTANCE_LOSS, metavar="LOSS")
    runs.add_argument(
        "--no-analysis",
        action="store_true",
        help="store the networks, leave them unanalysed (default: analyse the accepted ones)",
    )
    listing = actions.add_parser("list", help="the charts in the atlas, newest first")
    for each in (run, show, runs):
        each.add_argument("--plot", help="write the type shares per setting (.png or .svg)")
        each.add_argument(
            "--no-kappa",
            action="store_true",
            help="skip scoring the type predictor (50 random forests per setting)",
        )
    for each in (run, show, runs, listing):
        each.add_argument(
            "--database-url",
            help="atlas database (default: ATLAS_DATABASE_URL, else the SQLite file)",
        )
    run.set_defaults(func=run_chart)
    show.set_defaults(func=show_chart)
    runs.set_defaults(func=chart_from_run_folders)
    listing.set_defaults(func=list_charts)


# --------------------------------------------------------------------------- run


def _settings(items: list[str]) -> tuple:
    from atlas.store import SettingSpec

    settings = []
    for item in items:
        architecture, sep, units = item.partition(":")
        if not sep or not units.strip().isdigit():
            raise CommandError(f"--setting expects ARCH:UNITS, e.g. vanilla:20; got {item!r}")
        settings.append(SettingSpec(architecture.strip(), int(units)))
    return tuple(settings)


def _training(items: list[str]) -> dict:
    options = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise CommandError(f"--training expects NAME=VALUE, got {item!r}")
        try:
            options[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            options[key.strip()] = value
    return options


def run_chart(args: argparse.Namespace) -> int:
    from atlas.store import ChartSpec, ChartSpecError, WorkStatus, migrate, submit_chart
    from worker import dispatch

    task = resolve_task(args.task, args.param)
    spec = ChartSpec(
        task=task.name,
        settings=_settings(args.setting),
        networks_per_setting=args.networks_per_setting,
        task_parameters=task.parameters(),
        training=_training(args.training),
        acceptance_loss=args.acceptance,
        seed_budget=args.seed_budget,
        seed=args.seed,
        chunk_size=args.chunk_size,
    )
    settings = get_settings()
    url = args.database_url or settings.database_url
    # Trained here whatever broker is configured; one torch thread per chunk, as `atlas serve`
    # does (several chunks train at once on the cores).
    settings = settings.model_copy(
        update={
            "database_url": url,
            "broker_url": None,
            "torch_threads": settings.torch_threads or 1,
        }
    )
    migrate(url)
    with atlas_sessions(url) as sessions:
        try:
            submitted = submit_chart(sessions, spec)
        except ChartSpecError as exc:
            raise CommandError(str(exc)) from exc
    chart_id = submitted.record.id
    print(f"chart {chart_id}: {task.name} over {len(spec.settings)} settings, "
          f"{spec.networks_per_setting} accepted networks each")  # fmt: skip
    for job_id in submitted.job_ids:
        dispatch.enqueue_training(job_id, settings)
    try:
        final = _follow(url, chart_id, args.interval)
    except KeyboardInterrupt:
        print(f"\ninterrupted: chart {chart_id}'s running chunks go back to queued; "
              "`atlas serve` on this database finishes it", file=sys.stderr)  # fmt: skip
        return 130
    finally:
        dispatch.shutdown(wait=True)
    code = show_result(url, chart_id, args.plot, kappa=not args.no_kappa)
    if final.status == WorkStatus.FAILED:  # shown above; a script must see it too
        raise CommandError(f"chart {chart_id} failed: {final.error or 'see its settings above'}")
    return code


def _follow(url: str, chart_id: int, interval: float) -> ChartRecord:
    """Print each setting's progress whenever it changes, until the chart has finished and
    its accepted networks are analysed; the chart as it ended."""
    from atlas.store import (
        FINISHED,
        chart_networks,
        chart_record,
        make_engine,
        session_factory,
        session_scope,
    )

    analysis_ended = (AnalysisStatus.DONE, AnalysisStatus.FAILED)
    engine = make_engine(url)
    sessions = session_factory(engine)
    last: list[str] = []
    try:
        while True:
            with session_scope(sessions) as session:
                record = chart_record(session, chart_id)
                networks = chart_networks(session, chart_id)
            waiting = sum(n.analysis_status not in analysis_ended for n in networks)
            lines = [f"  {_progress_line(s)}" for s in record.settings]
            if lines != last:
                stamp = time.strftime("%H:%M:%S")
                print(f"{stamp} chart {chart_id} {record.status}, {waiting} analyses to go")
                print("\n".join(lines), flush=True)
                last = lines
            if record.status in FINISHED and waiting == 0:
                return record
            time.sleep(interval)
    finally:
        engine.dispose()


def _progress_line(s) -> str:
    return (
        f"{s.label:<12} {s.state:<9} seeds {s.seeds_used:>4}/{s.seed_budget:<4} "
        f"trained {s.trained:>4}  accepted {s.accepted:>4}  failed {s.failed:>4}  "
        f"analysed {s.analysed:>4}  training {s.pending:>3}" + (f"  ({s.note})" if s.note else "")
    )


# --------------------------------------------------------------------------- from runs


def chart_from_run_folders(args: argparse.Namespace) -> int:
    """Store the run folders' networks as a finished chart, analyse the accepted ones (the
    chart's; the others wait for `atlas serve` or a worker), show the chart."""
    from atlas.cli.analyses import analyse_or_queue
    from atlas.store import ChartSpecError, chart_from_runs, migrate
    from atlas.store import resolve_task as stored_task
    from atlas.tasks import ParameterError, UnknownTaskError
    from atlas.training.run_folder import RunFolderError, read_population_run, run_task

    url = args.database_url or get_settings().database_url
    migrate(url)
    with atlas_session(url) as session:
        try:
            runs = []
            for folder in args.folders:
                name, parameters = run_task(folder)
                task = stored_task(session, name, **parameters)
                runs.append(read_population_run(folder, len(task.training_set())))
            made = chart_from_runs(
                session,
                runs,
                args.networks_per_setting,
                seed_budget=args.seed_budget,
                acceptance_loss=args.acceptance,
            )
        except (RunFolderError, ChartSpecError, UnknownTaskError, ParameterError) as exc:
            raise CommandError(f"{exc}; nothing was stored") from exc
    print(f"chart {made.chart_id} ({made.status}): {len(made.network_ids)} networks stored, "
          f"{len(made.accepted_ids)} accepted")  # fmt: skip
    if not args.no_analysis:
        analyse_or_queue(made.accepted_ids, url)
    return show_result(url, made.chart_id, args.plot, kappa=not args.no_kappa)


# --------------------------------------------------------------------------- show, list


def show_chart(args: argparse.Namespace) -> int:
    url = args.database_url or get_settings().database_url
    return show_result(url, args.chart_id, args.plot, kappa=not args.no_kappa)


def show_result(url: str, chart_id: int, plot: str | None, *, kappa: bool) -> int:
    from atlas.store import chart_result

    with atlas_session(url) as session:
        result = chart_result(session, chart_id, kappa=kappa)
    print("\n".join(format_result(result)))
    if plot:
        _write_plot(result, Path(plot))
    return 0


def _write_plot(result: ChartResult, path: Path) -> None:
    from atlas.analysis.chart_plot import FORMATS, figure_bytes, shares_figure

    fmt = path.suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        raise CommandError(f"--plot must end in .png or .svg, not {path.name!r}")
    record = result.record
    figure = shares_figure(
        [s.progress.label for s in result.settings],
        [s.types for s in result.settings],
        f"chart {record.id}: {record.task} ({record.variant}), type shares",
    )
    path.write_bytes(figure_bytes(figure, fmt))
    print(f"type shares written to {path}")


def _header(record: ChartRecord) -> str:
    return (
        f"chart {record.id}: {record.task} (variant {record.variant}) {record.status}; "
        f"{len(record.settings)} settings x {record.networks_per_setting} networks, "
        f"seed budget {record.seed_budget}, accepted below {record.acceptance_loss:g}"
    )


def _kappa(outcome: KappaOutcome | None) -> str:
    if outcome is None:
        return "not scored"
    if outcome.kappa is None:
        return f"none ({outcome.reason})"
    kappa = outcome.kappa
    return (
        f"{kappa.mean:.2f} +/- {kappa.std:.2f} ({outcome.types} types, {outcome.networks} networks)"
    )


def format_result(result: ChartResult) -> list[str]:
    """The chart as text: its progress per setting, then a table of type counts and shares
    with one column per setting and one for the whole chart, then coverage and kappa."""
    record = result.record
    lines = [_header(record)]
    if record.error:
        lines.append(f"  {record.error}")
    lines += [f"  {_progress_line(s)}" for s in record.settings]
    groups: list[tuple[str, TypeBreakdown]] = [
        (s.progress.label, s.types) for s in result.settings
    ] + [("all", result.overall)]
    if not result.overall.typed:
        return [*lines, "no accepted network has a solution type yet"]
    rare = set(result.rare_types)
    names = [t.name for t in result.overall.types if t.name not in rare]
    width = max(len("type"), *(len(n) for n in names), len("rare types (00)"))
    lines.append("")
    lines.append(f"{'type':<{width}}" + "".join(f"  {label:>14}" for label, _ in groups))

    def cell(types: TypeBreakdown, count: int) -> str:
        return f"  {f'{count} ({count / types.typed:.0%})' if types.typed else '-':>14}"

    for name in names:
        counts = [next((t.count for t in g.types if t.name == name), 0) for _, g in groups]
        lines.append(
            f"{name:<{width}}"
            + "".join(cell(g, c) for (_, g), c in zip(groups, counts, strict=True))
        )
    rare_counts = [sum(t.count for t in g.types if t.rare) for _, g in groups]
    lines.append(
        f"{f'rare types ({len(rare)})':<{width}}"
        + "".join(cell(g, c) for (_, g), c in zip(groups, rare_counts, strict=True))
    )
    lines.append(f"rare: below {result.rare_threshold:.1%} of the chart's typed networks")
    for label, types in groups:
        top = ", ".join(f"{c:.0%}" for c in types.top_coverage)
        lines.append(
            f"{label}: {types.typed} typed, {types.major_types} types of 10%+, largest k "
            f"cover {top or '-'}; rare {types.rare_share:.0%}"
        )
    kappas = [(s.progress.label, s.kappa) for s in result.settings] + [
        ("all", result.overall_kappa)
    ]
    lines += [f"kappa {label}: {_kappa(k)}" for label, k in kappas]
    return lines


def list_charts(args: argparse.Namespace) -> int:
    from atlas.store import list_charts as charts

    with atlas_session(args.database_url) as session:
        records = charts(session, limit=1000)
    if not records:
        print("no charts yet")
    for record in records:
        done = ", ".join(
            f"{s.label}: {s.accepted}/{record.networks_per_setting}" for s in record.settings
        )
        print(f"{_header(record)}\n  {done}")
    return 0
