"""``pulsarload bench``: the suite and every focused measurement, one subcommand each.

``bench run`` is the suite (``make bench``); ``bench render`` rewrites docs/benchmarks.md from
a results file; the others are the studies in ``pulsarload.bench.studies``, the micro-benchmarks
and the wire fuzz harness, each given its own arguments unchanged (``--help`` lists them).
Imports are deferred to the command that runs, so ``pulsarload --help`` stays quick.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import click

from pulsarload.bench.model import TABLES
from pulsarload.config import MAX_CLUSTER_BROKERS

#: Subcommand -> (module with a ``main()`` reading sys.argv or argv, one line of help).
TOOLS: dict[str, tuple[str, str]] = {
    "micro": ("pulsarload.bench.micro", "CPU-bound hot paths with 1 and 2 threads."),
    "micro-metrics": ("pulsarload.bench.studies.micro_metrics",
                      "The metrics hot path: ns per record, 1 to N threads."),
    "wire-paths": ("pulsarload.bench.studies.wire_paths",
                   "Building and parsing SEND frames, messages per CPU second."),
    "native-producer": ("pulsarload.bench.studies.native_producer",
                        "The native client's producer alone, T threads."),
    "producer-cpu-per-interpreter": ("pulsarload.bench.studies.producer_cpu_per_interpreter",
                                     "CPU per message of the producer on several interpreters."),
    "rate-model": ("pulsarload.bench.studies.rate_model",
                   "The producer loop's send delay on a stepped clock."),
    "rate-precision": ("pulsarload.bench.studies.rate_precision",
                       "Send delay and publish latency at fixed rates."),
    "schema-cost": ("pulsarload.bench.studies.schema_cost",
                    "msg/s and CPU per message: a 10-field Avro record against bytes."),
    "stamp-cost": ("pulsarload.bench.studies.stamp_cost",
                   "What the intended-send-time stamp costs per message."),
    "wake-floor": ("pulsarload.bench.studies.wake_floor",
                   "How late a plain sleeping thread wakes: the send-delay floor."),
    "cluster-side-by-side": ("pulsarload.bench.studies.cluster_side_by_side",
                             "Threads against processes (--cluster local)."),
    "cluster-control-latency": ("pulsarload.bench.studies.cluster_control_latency",
                                "How long a live command takes to reach every shard."),
    "fuzz": ("pulsarload.bench.fuzz", "Mutation fuzzing of the wire layer (long runs)."),
}  # fmt: skip


@click.group()
def bench() -> None:
    """Benchmarks: the suite (`bench run`, what `make bench` runs) and focused measurements."""


@bench.command("run")
@click.option(
    "--quick", is_flag=True, help="A smoke run (a few minutes): fewer contenders, briefly."
)
@click.option("--rounds", type=click.IntRange(1, 20), default=None,
              help="Interleaved rounds of every table [3; --quick: 2].")  # fmt: skip
@click.option("--only", "tables", multiple=True, type=click.Choice(TABLES),
              help="Run only this table (repeatable); its markdown goes to the results "
              "directory, not over the docs.")  # fmt: skip
@click.option(
    "--output", type=click.Path(dir_okay=False), default="docs/benchmarks.md", show_default=True
)
@click.option(
    "--results-dir", type=click.Path(file_okay=False), default="bench/results", show_default=True
)
@click.option(
    "--cluster-brokers",
    type=click.IntRange(1, MAX_CLUSTER_BROKERS),
    default=None,
    help="Measure on the local cluster of N brokers (started if it is not up) instead of the "
    "standalone.",
)
@click.option(
    "--cluster-proxy/--cluster-direct",
    default=True,
    help="With --cluster-brokers: through the cluster's proxy [default] or straight to the "
    "brokers (a service URL with every broker).",
)
def bench_run(
    quick: bool,
    rounds: int | None,
    tables: tuple[str, ...],
    output: str,
    results_dir: str,
    cluster_brokers: int | None,
    cluster_proxy: bool,
) -> None:
    """Benchmark pulsarload against pulsar-perf and the official client on the local broker."""
    from pulsarload.bench.suite import run_bench

    sys.exit(
        run_bench(
            quick=quick,
            output=Path(output),
            results_dir=Path(results_dir),
            echo=click.echo,
            cluster_brokers=cluster_brokers or 0,
            cluster_proxy=cluster_proxy,
            rounds=rounds,
            tables=tables,
        )
    )


@bench.command("render")
@click.argument("results", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--output", type=click.Path(dir_okay=False), default="docs/benchmarks.md", show_default=True
)
def bench_render(results: str, output: str) -> None:
    """Rewrite docs/benchmarks.md from a results file (e.g. after editing bench/analysis.md)."""
    from pulsarload.bench.suite import render_file

    render_file(Path(results), Path(output))
    click.echo(f"wrote {output}")


def _tool(name: str, module: str, help_text: str) -> click.Command:
    @click.command(
        name, help=help_text, add_help_option=False,
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    )  # fmt: skip
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    def run(args: tuple[str, ...]) -> None:
        main = importlib.import_module(module).main
        # Each tool parses sys.argv with its own argparse (its --help included).
        sys.argv = [f"pulsarload bench {name}", *args]
        code = main()
        sys.exit(code if isinstance(code, int) else 0)

    return run


for _name, (_module, _help) in TOOLS.items():
    bench.add_command(_tool(_name, _module, _help))
