"""The monitor command: worker, simulator, replay, topics, local Kafka, demo, backtest.

Mistakes (a bad setting, an unreachable broker, a missing file) end with one sentence on stderr
and exit status 2, not a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from monitor import __version__
from monitor.settings import Settings, SettingsError

if TYPE_CHECKING:
    from monitor.core.models import ModelBook


class UsageError(Exception):
    """A mistake of the user's, told in one sentence."""


def _settings() -> Settings:
    return Settings.from_env()


def cmd_worker(args: argparse.Namespace) -> int:
    from monitor.kafka.io import check_reachable, ensure_topics
    from monitor.worker.app import run_worker

    settings = _settings()
    check_reachable(settings.bootstrap)
    ensure_topics(settings)
    run_worker(settings)
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    from monitor import simulator as sim

    if not args.events and not args.kafka:
        raise UsageError("say where the events go: --events FILE, --kafka, or both.")
    config = sim.SimConfig(
        accounts=args.accounts, days=args.days, seed=args.seed, scenario=args.scenario
    )
    try:
        result = sim.simulate(config)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.events:
        sim.write_events(result.events, args.events)
    if args.truth:
        sim.write_truth(result.truth, args.truth)
        Path(f"{args.truth}.scenario.json").write_text(json.dumps(result.scenario, indent=2))
    sent = 0
    if args.kafka:
        from monitor.kafka.io import produce_lines

        lines = (json.dumps(e, separators=(",", ":")).encode() for e in result.events)
        sent = produce_lines(_settings(), lines, rate=args.rate)
    delinquent = sum(row.label for row in result.truth)
    print(
        f"simulated {len(result.events)} events for {args.accounts} accounts over {args.days} "
        f"days ({args.scenario}, seed {args.seed}); {delinquent} accounts reach 30+ DPD"
        + (f"; {sent} messages sent to Kafka" if args.kafka else "")
    )
    return 0


def _open_lines(path: Path) -> list[bytes]:
    if not path.is_file():
        raise UsageError(f"no events file at {path}: check the path.")
    return path.read_bytes().splitlines()


def cmd_replay(args: argparse.Namespace) -> int:
    from monitor.kafka.io import produce_lines

    sent = produce_lines(_settings(), _open_lines(args.file), rate=args.rate)
    print(f"sent {sent} messages from {args.file} to {_settings().input_topic}")
    return 0


def cmd_topics(args: argparse.Namespace) -> int:
    from monitor.kafka.io import check_topics, create_topics

    settings = _settings()
    if args.action == "create":
        created = create_topics(settings)
        print(f"created: {', '.join(created) or 'nothing (all exist)'}")
        return 0
    drift = check_topics(settings)
    for line in drift:
        print(line)
    if not drift:
        print("topics match the settings")
    return 1 if drift else 0


def cmd_lag(args: argparse.Namespace) -> int:
    from monitor.kafka.io import consumer_lag

    rows = consumer_lag(_settings())
    print(f"{'topic':32} {'partition':>9} {'committed':>10} {'end':>10} {'lag':>8}")
    for topic, partition, committed, end in rows:
        print(f"{topic:32} {partition:>9} {committed:>10} {end:>10} {end - committed:>8}")
    print(f"total lag {sum(end - committed for _, _, committed, end in rows)}")
    return 0


def cmd_kafka(args: argparse.Namespace) -> int:
    from monitor.devtools import localkafka

    if args.action == "start":
        print(f"Kafka is up at {localkafka.start(port=args.port)}")
    elif args.action == "stop":
        print("stopped" if localkafka.stop(port=args.port) else "no local broker was running")
    else:
        up = localkafka.status(port=args.port)
        print("running" if up else "not running")
        return 0 if up else 1
    return 0


def _checkpoint_for(args: argparse.Namespace, settings: Settings) -> ModelBook | None:
    """The models a backtest starts from: ``--checkpoint``, else ``MONITOR_MODEL_CHECKPOINT``
    when it names a file (said on stderr, so a cold and a warm run are never confused)."""
    from monitor.checkpoint import load_models

    path: Path | None = args.checkpoint
    if path is None and settings.model_checkpoint:
        path = Path(settings.model_checkpoint)
        if not path.is_file():
            raise UsageError(
                f"MONITOR_MODEL_CHECKPOINT names {path}, which does not exist: train it with "
                "monitor train, or unset the variable for a cold start."
            )
        print(f"backtest from the models in {path} (MONITOR_MODEL_CHECKPOINT)", file=sys.stderr)
    if path is None:
        return None
    if not path.is_file():
        raise UsageError(f"no model checkpoint at {path}: check the path or train one.")
    return load_models(path)


def cmd_backtest(args: argparse.Namespace) -> int:
    from monitor.offline.backtest import read_truth, replay_lines
    from monitor.offline.report import build_report, write_plots

    settings = _settings()
    try:
        truth = read_truth(args.truth) if args.truth else None
    except (FileNotFoundError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    models = _checkpoint_for(args, settings)
    as_of = {row.account_id: row.as_of for row in truth or [] if row.as_of is not None}
    lines = _open_lines(args.file)
    run = replay_lines(_progress(lines, "backtest"), settings, as_of, models)
    scenario_file = Path(f"{args.truth}.scenario.json") if args.truth else None
    scenario = (
        json.loads(scenario_file.read_text())
        if scenario_file is not None and scenario_file.is_file()
        else None
    )
    source_file = Path(f"{args.truth}.source.json") if args.truth else None
    source = (
        json.loads(source_file.read_text())
        if source_file is not None and source_file.is_file()
        else {}
    )
    report = build_report(run, truth, settings.horizon_days, scenario, source)
    if args.report:
        args.report.write_text(json.dumps(report, indent=2) + "\n")
    if args.alerts:  # a file leaves the process: pseudonymised like the worker's alerts
        from monitor.core.privacy import private_record

        with open(args.alerts, "w", encoding="utf-8") as out:
            for alert in run.alerts:
                out.write(json.dumps(private_record(alert, settings.pseudonymise_key)) + "\n")
    if args.plots:
        write_plots(run, truth, settings.horizon_days, args.plots)
    for key, value in report.items():
        if key == "portfolio":
            for k, v in value.items():
                if k != "alerts":
                    print(f"portfolio.{k:22} {v}")
            print(f"portfolio.alerts{'':16} {len(value['alerts'])}")
        elif key == "models":
            for role, figures in value.items():
                print(f"models.{role:25} {json.dumps(figures, separators=(', ', ': '))}")
        elif isinstance(value, dict):
            print(f"{key:32} {json.dumps(value, separators=(', ', ': '))}")
        else:
            print(f"{key:32} {value}")
    return 0


def _progress(items: list[bytes], what: str) -> Iterable[bytes]:
    """A progress bar on stderr while a long replay runs (only on a terminal)."""
    try:
        from tqdm import tqdm
    except ImportError:
        return items
    return tqdm(items, desc=what, unit="ev", disable=not sys.stderr.isatty(), mininterval=0.5)


def cmd_train(args: argparse.Namespace) -> int:
    from monitor.checkpoint import save_models

    if args.truth is None:
        from monitor.offline.backtest import replay_lines

        run = replay_lines(_progress(_open_lines(args.file), "train"), _settings())
        save_models(run.engine.models, args.checkpoint)
        models = run.engine.models
        print(
            f"trained on {run.events} events: {models.labels} outcomes learned, active model "
            f"{models.version}; checkpoint {args.checkpoint} (start a worker with "
            f"MONITOR_MODEL_CHECKPOINT={args.checkpoint})"
        )
        return 0
    from monitor.offline.training import TrainOptions, train

    if args.alert_volume and args.match_cold not in (None, "volume"):
        raise UsageError("--alert-volume is --match-cold volume: give one of the two.")
    if args.passes < 1 or not 0 <= args.hold_back < 1:
        raise UsageError("--passes must be at least 1 and --hold-back from 0 up to (not) 1.")
    options = TrainOptions(
        passes=args.passes,
        seed=args.seed,
        hold_back=args.hold_back,
        stream_outcomes=args.stream_outcomes,
        match_cold="volume" if args.alert_volume else args.match_cold,
        trees=args.trees,
    )
    try:
        trained = train(args.file, args.truth, _settings(), options)
    except (FileNotFoundError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    save_models(trained.book, args.checkpoint)
    s = trained.summary
    held = (
        f"held back {s['held_back']} examples of {s['held_back_accounts']} accounts "
        f"({s['held_back_positives']} positive): ROC AUC {s['held_back_roc_auc']} fitted, "
        f"{s['held_back_roc_auc_cold']} cold"
        + (
            f", {s['held_back_roc_auc_trees']} boosted trees"
            if "held_back_roc_auc_trees" in s
            else ""
        )
        if s["held_back"]
        else "nothing held back"
    )
    kinds = [
        f"{s[key]} {what}"
        for key, what in (
            ("as_of_examples", "at as_of"),
            ("scoring_examples", "scorings labelled by delinquent_at"),
            ("stream_outcomes", "stream outcomes"),
        )
        if s[key]
    ]
    print(
        f"trained on {s['events']['count']} events from {s['from']} to {s['to']}: "
        f"{s['examples']} examples ({', '.join(kinds)}; {s['positives']} positive), "
        f"{s['passes']} passes, seed {s['seed']}; {held}\ncheckpoint {args.checkpoint}: the "
        "warm-started model is the fallback the online champion must beat (monitor backtest "
        "--checkpoint, or MONITOR_MODEL_CHECKPOINT for a worker or the demo)"
    )
    volume = s.get("alert_volume")
    if volume:
        same = volume["alert_open_same_volume"]
        print(
            f"alerts on this history at MONITOR_ALERT_OPEN={volume['alert_open']}: "
            f"{volume['cold_alerts']} cold, {volume['warm_alerts']} warm-started; "
            + (
                f"the warm start raises as many at MONITOR_ALERT_OPEN={same}"
                if same is not None
                else "no threshold from 0.5 up gives the warm start as many"
            )
        )
    same = s.get("alert_precision")
    if same:
        at = same["alert_open_same_precision"]
        print(
            f"alerts on this history at MONITOR_ALERT_OPEN={same['alert_open']}: "
            f"{same['cold_alerts']} cold (precision {same['cold_precision']}, recall with 7 "
            f"days' lead {same['cold_recall_with_7d_lead']}), {same['warm_alerts']} warm-started "
            f"(precision {same['warm_precision']}, recall {same['warm_recall_with_7d_lead']}); "
            + (
                f"the lowest threshold at which the warm start's alerts are as often right is "
                f"MONITOR_ALERT_OPEN={at} ({same['alerts_at_it']} alerts, precision "
                f"{same['precision_at_it']}, recall {same['recall_with_7d_lead_at_it']})"
                if at is not None
                else "no threshold from 0.5 up makes the warm start's alerts as often right"
            )
        )
    return 0


def cmd_convert(args: argparse.Namespace) -> int:
    from monitor import simulator as sim
    from monitor.offline import taiwan

    config = taiwan.TaiwanConfig()
    if args.id_mod:
        try:
            m, r = (int(part) for part in args.id_mod.split(":"))
        except ValueError:
            m = 0
        if m < 1:
            raise UsageError(
                f"--id-mod takes M:R (clients whose ID % M == R), not {args.id_mod!r}."
            )
        config = taiwan.TaiwanConfig(id_mod=(m, r))
    try:
        events, truth = taiwan.convert(args.csv, config)
    except (FileNotFoundError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    sim.write_events(events, args.events)
    sim.write_truth(truth, args.truth)
    Path(f"{args.truth}.source.json").write_text(json.dumps(taiwan.SOURCE_NOTE, indent=2))
    print(f"converted {len(truth)} clients into {len(events)} events: {args.events}, {args.truth}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from monitor.devtools.demo import run_demo

    return run_demo(
        args.accounts,
        args.days,
        args.seed,
        args.scenario,
        args.keep_running,
        checkpoint=args.checkpoint,
    )


def cmd_receiver(args: argparse.Namespace) -> int:
    from monitor.devtools.receiver import serve

    serve(args.host, args.port, _settings().webhook_secret)
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    import tempfile

    from monitor.bench.report import print_table
    from monitor.bench.run import run_bench

    try:
        workers = [int(w) for w in args.workers.split(",")]
    except ValueError:
        raise UsageError(
            f"--workers takes counts separated by commas, not {args.workers!r}."
        ) from None
    if args.events < 1000 or args.accounts < 1 or any(w < 1 for w in workers):
        raise UsageError("--events must be at least 1000, --accounts and --workers at least 1.")
    settings = _settings()
    if max(workers) > settings.partitions:
        raise UsageError(
            f"{max(workers)} workers need at least as many partitions: set MONITOR_PARTITIONS."
        )
    with tempfile.TemporaryDirectory(prefix="monitor-bench-") as tmp:
        try:
            report = run_bench(
                settings,
                Path(tmp),
                events=args.events,
                accounts=args.accounts,
                workers=workers,
                live_seconds=args.live_seconds,
                keep_topics=args.keep_topics,
                say=lambda line: print(line, file=sys.stderr),
            )
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    print_table(report)
    if args.report:
        args.report.write_text(json.dumps(report, indent=2) + "\n")
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    from monitor import contracts

    names = [args.name] if args.name else sorted(contracts.SCHEMAS)
    for name in names:
        try:
            print(json.dumps(contracts.load(name), indent=2))
        except KeyError as exc:
            raise UsageError(str(exc.args[0])) from None
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="monitor", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=__version__)
    sub = parser.add_subparsers(dest="command", required=True)

    def add(
        name: str, func: Callable[[argparse.Namespace], int], help_: str
    ) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_)
        p.set_defaults(func=func)
        return p

    add("worker", cmd_worker, "run a worker (settings from MONITOR_* variables)")

    def sim_args(p: argparse.ArgumentParser, accounts: int, days: int, scenario: str) -> None:
        p.add_argument("--accounts", type=int, default=accounts)
        p.add_argument("--days", type=int, default=days)
        p.add_argument("--seed", type=int, default=7)
        p.add_argument(
            "--scenario",
            default=scenario,
            help="baseline, macro-shock, limit-growth or liquidity-squeeze",
        )

    p = add("simulate", cmd_simulate, "simulate a repayment stream to a file and/or Kafka")
    sim_args(p, 2000, 180, "baseline")
    p.add_argument("--events", type=Path, help="write the events as JSON lines here")
    p.add_argument("--truth", type=Path, help="write the truth CSV here")
    p.add_argument("--kafka", action="store_true", help="send the events to the input topic")
    p.add_argument("--rate", type=float, help="messages per second (default: as fast as possible)")

    p = add("replay", cmd_replay, "send a JSON-lines events file to the input topic")
    p.add_argument("file", type=Path)
    p.add_argument("--rate", type=float)

    p = add("topics", cmd_topics, "create the monitor's topics, or check them against settings")
    p.add_argument("action", choices=["create", "check"])

    add("lag", cmd_lag, "consumer lag of the worker group on the input topic, per partition")

    p = add("kafka", cmd_kafka, "run a local single-node Kafka (KRaft) on 127.0.0.1")
    p.add_argument("action", choices=["start", "stop", "status"])
    p.add_argument("--port", type=int, default=9092)

    p = add("backtest", cmd_backtest, "replay an events file through the core, no broker")
    p.add_argument("file", type=Path)
    p.add_argument("--truth", type=Path, help="truth CSV: account_id,label,as_of,delinquent_at")
    p.add_argument("--report", type=Path, help="write the JSON report here")
    p.add_argument("--plots", type=Path, help="write PNG plots into this folder")
    p.add_argument("--alerts", type=Path, help="write the alerts as JSON lines here")
    p.add_argument(
        "--checkpoint",
        type=Path,
        help="start from these models (from monitor train) instead of cold; they keep learning",
    )

    p = add(
        "train",
        cmd_train,
        "learn from a file of past events (and their labelled outcomes); write a model checkpoint",
    )
    p.add_argument("file", type=Path)
    p.add_argument("--checkpoint", type=Path, required=True)
    p.add_argument(
        "--truth",
        type=Path,
        help="labelled outcomes (account_id,label,as_of,delinquent_at): fit on each account's "
        "features at its as_of (rows without as_of: its scorings, labelled by delinquent_at); "
        "the fitted model becomes the fallback",
    )
    p.add_argument("--passes", type=int, default=5, help="passes over the examples")
    p.add_argument("--seed", type=int, default=1, help="seed of the order and the held-back set")
    p.add_argument(
        "--hold-back", type=float, default=0.2, help="share of the truth's accounts not fitted"
    )
    p.add_argument(
        "--stream-outcomes",
        action="store_true",
        help="also fit the outcomes the stream resolves itself",
    )
    p.add_argument(
        "--alert-volume",
        action="store_true",
        help="replay the history again with the trained models and say which MONITOR_ALERT_OPEN "
        "raises as many alerts as the cold start did on it (--match-cold volume)",
    )
    p.add_argument(
        "--match-cold",
        choices=["volume", "precision"],
        help="replay the history again with the trained models and say which MONITOR_ALERT_OPEN "
        "matches the cold start on it: volume, as many alerts; precision, the lowest threshold "
        "at which their alerts are at least as often right (so the most recall at that precision)",
    )
    p.add_argument(
        "--trees",
        action="store_true",
        help="also fit boosted trees on the same examples as the challenger, promoted by the "
        "champion's rule (needs scikit-learn)",
    )

    p = add("convert", cmd_convert, "convert a public data set to the event contract")
    p.add_argument("source", choices=["taiwan"])
    p.add_argument("csv", type=Path)
    p.add_argument("--events", type=Path, required=True)
    p.add_argument("--truth", type=Path, required=True)
    p.add_argument(
        "--id-mod",
        metavar="M:R",
        help="keep only the clients whose ID %% M == R (a split by client, e.g. 4:1)",
    )

    p = add("demo", cmd_demo, "local broker, simulated portfolio with a shock, live alerts")
    sim_args(p, 2000, 180, "macro-shock")
    p.add_argument(
        "--keep-running",
        action="store_true",
        help="leave the worker, this run's topics and the broker running after the summary "
        "(Ctrl-C stops the worker; the summary says how to stop the broker)",
    )
    p.add_argument(
        "--checkpoint",
        type=Path,
        help="start the worker from these models (from monitor train; the file is not changed)",
    )

    p = add("receiver", cmd_receiver, "a webhook receiver that logs each request as JSON")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)

    p = add("bench", cmd_bench, "throughput and latency on the real broker, against references")
    p.add_argument("--events", type=int, default=1_000_000, help="events pre-loaded")
    p.add_argument("--accounts", type=int, default=100_000)
    p.add_argument("--workers", default="1", help="worker counts to run, e.g. 1,2")
    p.add_argument("--live-seconds", type=float, default=60.0, help="length of the latency phase")
    p.add_argument("--report", type=Path, help="write the JSON report here")
    p.add_argument("--keep-topics", action="store_true", help="leave the bench topics behind")

    p = add("schema", cmd_schema, "print the JSON Schema of a topic contract")
    p.add_argument("name", nargs="?")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``monitor`` console script."""
    from monitor.devtools.localkafka import LocalKafkaError
    from monitor.kafka.io import BrokerUnreachable, TopicMismatch

    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except (UsageError, SettingsError, BrokerUnreachable, LocalKafkaError, TopicMismatch) as exc:
        print(f"monitor: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
