"""The command line: `pulsarload` and the two standalone apps `pulsar-producer` / `pulsar-consumer`.

Parsing only: every default lives in config.py, every action in the layer that owns it. Errors the
user can act on (`UserError`, bad flags) are printed as one line with a non-zero exit and no traceback.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Sequence
from typing import Any

import click

from pulsarload import __version__, config
from pulsarload.bench import subcommands as bench_commands
from pulsarload.cli_flags import GroupedCommand, setting_options
from pulsarload.errors import UserError


def _local_broker_settings(port: int | None, web_port: int | None) -> config.LocalBrokerSettings:
    overrides = {}
    if port is not None:
        overrides["broker_port"] = port
    if web_port is not None:
        overrides["web_port"] = web_port
    return config.LocalBrokerSettings(**overrides)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="pulsarload")
def cli() -> None:
    """Throughput and latency testing for Apache Pulsar, on free-threaded CPython."""


# --------------------------------------------------------------------------- broker


_port_opt = click.option(
    "--port", type=click.IntRange(1, 65535), default=None, help="Binary protocol port [6650]."
)
_web_port_opt = click.option(
    "--web-port", type=click.IntRange(1, 65535), default=None, help="Admin/HTTP port [8080]."
)


_cluster_opt = click.option(
    "--cluster", is_flag=True, help="The local multi-broker cluster, not the standalone."
)


def _local_cluster(
    brokers: int | None, proxy: bool | None, port: int | None, web_port: int | None
) -> Any:
    """The local cluster of these flags; what they leave out comes from the recorded layout
    (a running cluster) or the defaults."""
    from pulsarload.broker.cluster import LocalCluster, recorded_settings

    settings = recorded_settings(config.LocalClusterSettings())
    overrides: dict[str, Any] = {}
    if brokers is not None:
        overrides["brokers"] = brokers
    if proxy is not None:
        overrides["proxy"] = proxy
    if port is not None:
        overrides["base_port"] = port
    if web_port is not None:
        overrides["web_base_port"] = web_port
    return LocalCluster(dataclasses.replace(settings, **overrides))


def _echo_cluster(status: Any) -> None:
    for part in status.parts:
        state = "ready" if part.ready else ("running, not ready" if part.pid else "not running")
        pid = f"pid {part.pid}" if part.pid else "-"
        ports = "/".join(map(str, part.ports))
        click.echo(f"  {part.name:<10} {state:<19} {pid:<11} ports {ports:<10} {part.log_path}")
    click.echo(f"service URL {status.service_url}  (brokers: {status.broker_service_url})")
    click.echo(f"admin {status.admin_url}")


@cli.group()
def broker() -> None:
    """Run a local Apache Pulsar: the standalone (one JVM), or with --brokers N a cluster
    (ZooKeeper, a bookie, N brokers and a proxy, each its own JVM)."""


@broker.command("start")
@_port_opt
@_web_port_opt
@click.option(
    "--brokers",
    type=click.IntRange(1, config.MAX_CLUSTER_BROKERS),
    default=None,
    help=f"Start a local cluster of N brokers instead of the standalone "
    f"[{config.DEFAULT_CLUSTER_BROKERS}]; --port/--web-port are then the first of its ports "
    f"[{config.DEFAULT_CLUSTER_PORT}/{config.DEFAULT_CLUSTER_WEB_PORT}].",
)
@click.option(
    "--proxy/--no-proxy", default=None, help="The cluster's proxy in front of its brokers [on]."
)
@_cluster_opt
def broker_start(
    port: int | None, web_port: int | None, brokers: int | None, proxy: bool | None,
    cluster: bool,
) -> None:  # fmt: skip
    """Start the local broker (or cluster) and return once it is ready."""
    if cluster or brokers is not None or proxy is not None:
        lc = _local_cluster(brokers, proxy, port, web_port)
        click.echo(f"starting the local cluster in {lc.home} ...")
        status = lc.start()
        click.echo("cluster ready:")
        _echo_cluster(status)
        return
    from pulsarload.broker.disk import bound_local_namespace
    from pulsarload.broker.standalone import StandaloneBroker

    status = StandaloneBroker(_local_broker_settings(port, web_port)).start()
    click.echo(f"broker ready (pid {status.pid}): {status.service_url}  admin {status.admin_url}")
    try:
        for line in bound_local_namespace(status.admin_url):
            click.echo(line)
    except OSError as err:  # the broker runs; a refused policy is worth a line, not a failure
        click.echo(f"warning: {err}", err=True)


@broker.command("stop")
@_port_opt
@_web_port_opt
@_cluster_opt
def broker_stop(port: int | None, web_port: int | None, cluster: bool) -> None:
    """Stop the local broker (or every part of the cluster) by the pids this tool recorded."""
    if cluster:
        stopped = _local_cluster(None, None, port, web_port).stop()
        click.echo(f"stopped {', '.join(stopped)}" if stopped else "cluster was not running")
        return
    from pulsarload.broker.standalone import StandaloneBroker

    stopped = StandaloneBroker(_local_broker_settings(port, web_port)).stop()
    click.echo("broker stopped" if stopped else "broker was not running")


@broker.command("status")
@_port_opt
@_web_port_opt
@_cluster_opt
def broker_status(port: int | None, web_port: int | None, cluster: bool) -> None:
    """Say whether the local broker (or each part of the cluster) is running and ready
    (exit 1 when not running)."""
    if cluster:
        status = _local_cluster(None, None, port, web_port).status()
        click.echo(
            "cluster ready:" if status.ready
            else "cluster partly running:" if status.running else "cluster not running:"
        )  # fmt: skip
        _echo_cluster(status)
        if not status.running:
            sys.exit(1)
        return
    from pulsarload.broker.standalone import StandaloneBroker

    status = StandaloneBroker(_local_broker_settings(port, web_port)).status()
    if status.ready:
        click.echo(f"ready (pid {status.pid}): {status.service_url}  admin {status.admin_url}")
    elif status.running:
        click.echo(f"running, not ready yet (pid {status.pid})")
    else:
        click.echo("not running")
        sys.exit(1)


@broker.command("logs")
@click.option("-n", "--lines", type=click.IntRange(1, 100_000), default=50, show_default=True)
@_port_opt
@_web_port_opt
@_cluster_opt
@click.option("--part", default=None, help="With --cluster: one part (e.g. broker-2, proxy).")
def broker_logs(
    lines: int, port: int | None, web_port: int | None, cluster: bool, part: str | None
) -> None:
    """Print the last lines of the local broker's log (or of every part of the cluster)."""
    if cluster or part:
        click.echo(_local_cluster(None, None, port, web_port).logs(lines, part), nl=False)
        return
    from pulsarload.broker.standalone import StandaloneBroker

    sb = StandaloneBroker(_local_broker_settings(port, web_port))
    click.echo(f"# {sb.log_path()}")
    click.echo(sb.tail_log(lines))


@cli.command(
    "perf",
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    add_help_option=False,
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def perf(args: tuple[str, ...]) -> None:
    """Run Apache's pulsar-perf (Java) with ARGS, on the local broker's classpath."""
    from pulsarload.broker.perf import run_perf

    sys.exit(run_perf(list(args)))


# --------------------------------------------------------------------------- k8s


@cli.group()
def k8s() -> None:
    """Helpers for a Pulsar running in Kubernetes (e.g. Minikube)."""


@k8s.command("port-forward")
@click.option("--namespace", default=config.DEFAULT_K8S_NAMESPACE, show_default=True)
@click.option("--service", default=config.DEFAULT_K8S_SERVICE, show_default=True)
def k8s_port_forward(namespace: str, service: str) -> None:
    """Forward local 6650 and 8080 to the service's Pulsar ports, found by name (pulsar and
    http, or pulsarssl and https), with kubectl port-forward."""
    from pulsarload.broker.k8s import run_port_forward

    sys.exit(run_port_forward(namespace, service, echo=True))


# --------------------------------------------------------------------------- doctor


@cli.command()
@click.option("-u", "--service-url", default=None, help="Broker URL [$PULSAR_BROKER_URL].")
@click.option("--admin-url", default=None, help="Admin URL [$PULSAR_ADMIN_URL].")
def doctor(service_url: str | None, admin_url: str | None) -> None:
    """Check the interpreter, the GIL, dependencies, Java and the broker."""
    from pulsarload.doctor import run_checks

    ok = run_checks(
        service_url or config.broker_url_from_env(),
        admin_url or config.admin_url_from_env(),
        echo=click.echo,
    )
    sys.exit(0 if ok else 1)


# --------------------------------------------------------------------------- produce / consume
# Flags are built from the settings model (cli_flags.py; config.py holds the defaults): a flag
# left unset falls through to the environment, the profile, the preset, then the default.


def _settings_from_flags(cls: type, params: dict[str, Any]) -> Any:
    profile = params.pop("profile_name", None)
    preset = params.pop("preset", None)
    save_as = params.pop("save_profile", None)
    flags = {k: v for k, v in params.items() if v is not None and v != ()}
    settings = config.resolve_settings(cls, flags, profile=profile, preset=preset)
    if save_as:
        path = config.save_profile(settings, save_as)
        click.echo(f"profile saved to {path}")
        sys.exit(0)
    return settings


def _check_terminal(settings: Any) -> None:
    """The dashboard draws on stderr and reads keys from stdin: without a terminal there it
    would spray escape codes into a log and, with no duration, run until killed (a CI job).
    Headless, zero threads would idle until killed: only the dashboard adds threads live."""
    if settings.headless:
        if settings.threads == 0:
            raise UserError(
                "--threads 0 in a headless run would send and receive nothing (threads are "
                "added live only from the dashboard); use --threads 1 or more"
            )
        return
    for name in ("stdin", "stderr"):
        stream = getattr(sys, name)
        if stream is None or not stream.isatty():
            raise UserError(
                f"the dashboard needs a terminal ({name} is not one); add --headless "
                "for status lines and a summary"
            )


def _dask_missing(err: ImportError) -> UserError:
    """What --cluster says when Dask (the cluster extra) cannot be imported."""
    return UserError(
        f"--cluster needs Dask ({err.name or err} is not installed): "
        "pip install 'pulsarload[cluster]' (make setup installs it)"
    )


def _make_controller(role: str, settings: Any) -> Any:
    """One process (the load layer's controller), or shards on a Dask cluster (--cluster)."""
    if not settings.cluster:
        from pulsarload.load.controller import LoadController

        return LoadController(role, settings)
    try:
        from pulsarload.cluster.controller import ClusterController
    except ImportError as err:
        raise _dask_missing(err) from None
    return ClusterController(role, settings)


def _start_web(controller: Any, settings: Any) -> tuple[Any, list[str]]:
    """The browser dashboard beside the run (`--web`): bound before the load starts, its URL
    printed, and a generated token printed this once (it is in no log, URL or report).
    Returns the server and the lines printed (the terminal dashboard shows them again)."""
    from pulsarload.web.server import WebServer

    web = WebServer.for_settings(controller, settings)
    web.start()
    lines = [f"web dashboard: {web.url}"]
    if web.token_generated:
        lines.append(f"web dashboard token (shown once; the page asks for it): {web.policy.token}")
    for line in lines:
        click.echo(line, err=True)
    return web, lines


def _run_controller(role: str, settings: Any) -> None:
    controller = _make_controller(role, settings)
    if not settings.headless:
        try:
            from pulsarload.ui.app import run_dashboard
        except ImportError:
            raise UserError(
                "the dashboard is not available in this build; add --headless"
            ) from None
    web, lines = _start_web(controller, settings) if settings.web else (None, [])
    try:
        if settings.headless:
            from pulsarload.load.headless import run_headless

            code, _result = run_headless(controller, echo=click.echo)
        else:
            code = run_dashboard(controller, notice="\n".join(lines) or None)
    finally:
        if web is not None:
            web.stop()
    abort = getattr(controller, "abort_reason", None)
    if abort:  # --on-worker-loss abort: the run stopped cleanly, but it did not finish
        click.echo(f"run aborted: {abort}", err=True)
        code = 1
    sys.exit(code)


@cli.command(cls=GroupedCommand)
@setting_options(config.ProduceSettings)
def produce(topic: str | None, **params: Any) -> None:
    """The producer controller: a dashboard, or with --headless status lines and a summary."""
    settings = _checked_run_settings(config.ProduceSettings, topic, params)
    if settings.partitions:
        from pulsarload.client.admin import AdminClient

        AdminClient.for_settings(settings).ensure_partitioned_topic(
            settings.topic, settings.partitions
        )
    _run_controller("producer", settings)


@cli.command(cls=GroupedCommand)
@setting_options(config.ConsumeSettings)
def consume(topic: str | None, **params: Any) -> None:
    """The consumer controller: a dashboard, or with --headless status lines and a summary."""
    _run_controller("consumer", _checked_run_settings(config.ConsumeSettings, topic, params))


def _checked_run_settings(cls: type, topic: str | None, params: dict[str, Any]) -> Any:
    """A produce or consume run's settings from its flags (the positional topic wins over
    --topic), checked before any load: the terminal, then the topic's schema registry."""
    if topic:
        params["topic"] = topic
    settings = _settings_from_flags(cls, params)
    _check_terminal(settings)
    _check_schema_registry(settings)
    return settings


def _check_schema_registry(settings: config.RunSettings) -> None:
    """--schema-registry-check: one line saying whether the topic's registry takes --schema,
    and a non-zero exit before any load when it does not."""
    if not (settings.schema_registry_check and settings.schema):
        return
    from pulsarload.client.admin import AdminClient
    from pulsarload.client.schema import parse_schema_spec, registry_type_name
    from pulsarload.errors import UserError

    schema = parse_schema_spec(settings.schema)
    assert schema is not None
    info = schema.schema_info()
    kind = registry_type_name(info.schema_type())
    with AdminClient.for_settings(settings) as admin:
        current = admin.topic_schema(settings.topic)
        if current is None:
            click.echo(f"schema check: {settings.topic} has no schema yet; ours will be its first")
            return
        ok, detail = admin.schema_compatibility(
            settings.topic, kind, info.admin_definition(), info.properties()
        )
    where = f"{settings.topic} (schema version {current.get('version')}, {current.get('type')})"
    if not ok:
        raise UserError(f"schema check: {where} does not take --schema {settings.schema}: {detail}")
    click.echo(f"schema check: {where} takes --schema {settings.schema} (strategy {detail})")


# --------------------------------------------------------------------------- capacity


@cli.command(cls=GroupedCommand)
@setting_options(config.CapacitySettings)
def capacity(topic: str | None, **params: Any) -> None:
    """The highest rate meeting an SLO: a geometric ramp, then bisection, each step measured
    after a warm-up and the deciding steps repeated. In a terminal: the producer dashboard with
    the search's panel; with --headless (or without a terminal): status lines and a line per
    step. Then the answer.
    """
    if topic:
        params["topic"] = topic
    settings = _settings_from_flags(config.CapacitySettings, params)
    from pulsarload.load.capacity.step import parse_slos

    parse_slos(settings.slos, settings.with_consumer)  # bad SLO: one line before connecting
    if settings.partitions:
        from pulsarload.client.admin import AdminClient

        AdminClient.for_settings(settings).ensure_partitioned_topic(
            settings.topic, settings.partitions
        )
    runner = _capacity_runner(settings)
    terminal = all(
        getattr(sys, n) is not None and getattr(sys, n).isatty() for n in ("stdin", "stderr")
    )
    if settings.headless or not terminal:
        sys.exit(runner(settings, echo=click.echo, status_every=settings.stats_interval_s))
    from pulsarload.ui.capacity import run_capacity_dashboard

    sys.exit(run_capacity_dashboard(settings, runner, echo=click.echo))


def _capacity_runner(settings: Any) -> Any:
    """The search in one process, or with its producers on a Dask cluster (--cluster)."""
    if not settings.cluster:
        from pulsarload.load.capacity.local import run_capacity

        return run_capacity
    try:
        from pulsarload.cluster.capacity import run_cluster_capacity
    except ImportError as err:
        raise _dask_missing(err) from None
    return run_cluster_capacity


# --------------------------------------------------------------------------- settings reference


@cli.command("settings-doc")
@click.option(
    "--output", type=click.Path(dir_okay=False), default="docs/settings.md", show_default=True
)
@click.option("--check", is_flag=True, help="Exit 1 if the file differs from the model.")
def settings_doc(output: str, check: bool) -> None:
    """Write the settings reference (docs/settings.md) from the settings model."""
    from pathlib import Path

    from pulsarload import settings_doc as doc

    path = Path(output)
    if check:
        current = path.read_text() if path.exists() else ""
        if current != doc.render():
            raise UserError(f"{path} differs from the settings model; run pulsarload settings-doc")
        click.echo(f"{path} matches the settings model")
        return
    click.echo(f"wrote {doc.write(path)}")


# --------------------------------------------------------------------------- bench / compare


cli.add_command(bench_commands.bench)


@cli.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.option("--no-official", is_flag=True, help="Skip the official (C++) client.")
@click.option("--rounds", type=click.IntRange(1, 20), default=3, show_default=True,
              help="Interleaved rounds: figures are median (min-max) over them.")  # fmt: skip
@click.option("--role", type=click.Choice(["produce", "consume", "pair"]), default="produce",
              show_default=True, help="consume: drain a topic filled with -m messages; "
              "pair: producer and consumer of each contender.")  # fmt: skip
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def compare(no_official: bool, rounds: int, role: str, args: tuple[str, ...]) -> None:
    """Run one headless workload on 3.13t, 3.13t with PYTHON_GIL=1 and the GIL build, side by side.

    ARGS are `pulsarload produce` arguments, e.g. `compare TOPIC -s 1024 -t 2 -d 10`.
    """
    from pulsarload.bench.compare import split_produce_args

    # Check the produce arguments once, here, with the produce command's own parser and
    # settings: a typo is one line and exit 2, not three failed runs and an empty table.
    topic, rest, _values = split_produce_args(list(args))
    if not any(a in ("-h", "--help") for a in rest):
        argv = [*([topic] if topic else []), *rest]
        with cli.commands["produce"].make_context("pulsarload produce", argv) as ctx:
            params = dict(ctx.params)
        params.pop("save_profile", None)
        if not params.get("topic"):
            params.pop("topic", None)
        settings = _settings_from_flags(config.ProduceSettings, {**params, "headless": True})
        from pulsarload.load.results import SUMMARY_METRICS
        from pulsarload.load.thresholds import parse_threshold

        for threshold in settings.thresholds:
            parse_threshold(threshold, SUMMARY_METRICS)

    from pulsarload.bench.compare import run_compare

    sys.exit(run_compare(list(args), echo=click.echo, include_official=not no_official,
                         rounds=rounds, role=role))  # fmt: skip


# --------------------------------------------------------------------------- entry points


def _run(command: click.Command, argv: Sequence[str] | None, prog_name: str) -> None:
    """Run a click command with one-line errors instead of usage blocks and tracebacks."""
    try:
        result = command.main(args=argv, prog_name=prog_name, standalone_mode=False)
    except click.UsageError as err:
        where = err.ctx.command_path if err.ctx else prog_name
        msg = err.format_message().rstrip(".")
        click.echo(f"{prog_name}: error: {msg} (see '{where} --help')", err=True)
        sys.exit(2)
    except click.ClickException as err:
        click.echo(f"{prog_name}: error: {err.format_message()}", err=True)
        sys.exit(err.exit_code)
    except UserError as err:
        click.echo(f"{prog_name}: error: {err}", err=True)
        sys.exit(err.exit_code)
    except (click.Abort, KeyboardInterrupt):
        click.echo("interrupted", err=True)
        sys.exit(130)
    sys.exit(result if isinstance(result, int) else 0)


def main(argv: Sequence[str] | None = None) -> None:
    """`pulsarload ...`"""
    _run(cli, argv, "pulsarload")


def producer_main(argv: Sequence[str] | None = None) -> None:
    """`pulsar-producer ...`: the producer controller on its own (same as `pulsarload produce`)."""
    _run(cli.commands["produce"], argv, "pulsar-producer")


def consumer_main(argv: Sequence[str] | None = None) -> None:
    """`pulsar-consumer ...`: the consumer controller on its own (same as `pulsarload consume`)."""
    _run(cli.commands["consume"], argv, "pulsar-consumer")
