"""The command line: `pulsarload` and the two standalone apps `pulsar-producer` / `pulsar-consumer`.

Parsing only: every default lives in config.py, every action in the layer that owns it. Errors the
user can act on (`UserError`, bad flags) are printed as one line with a non-zero exit and no traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

from pulsarload import __version__, config
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


@cli.group()
def broker() -> None:
    """Run a local Apache Pulsar standalone (broker, BookKeeper, metadata store in one JVM)."""


@broker.command("start")
@_port_opt
@_web_port_opt
def broker_start(port: int | None, web_port: int | None) -> None:
    """Start the local broker and return once it is ready."""
    from pulsarload.broker.standalone import StandaloneBroker

    status = StandaloneBroker(_local_broker_settings(port, web_port)).start()
    click.echo(f"broker ready (pid {status.pid}): {status.service_url}  admin {status.admin_url}")


@broker.command("stop")
@_port_opt
@_web_port_opt
def broker_stop(port: int | None, web_port: int | None) -> None:
    """Stop the local broker this tool started (by the pid in its pid file)."""
    from pulsarload.broker.standalone import StandaloneBroker

    stopped = StandaloneBroker(_local_broker_settings(port, web_port)).stop()
    click.echo("broker stopped" if stopped else "broker was not running")


@broker.command("status")
@_port_opt
@_web_port_opt
def broker_status(port: int | None, web_port: int | None) -> None:
    """Say whether the local broker is running and ready (exit 1 when not running)."""
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
def broker_logs(lines: int, port: int | None, web_port: int | None) -> None:
    """Print the last lines of the local broker's log."""
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
    """Forward the proxy service's 6650 and 8080 to localhost (runs kubectl port-forward)."""
    from pulsarload.broker.k8s import port_forward_command, run_port_forward

    click.echo("$ " + " ".join(port_forward_command(namespace, service)))
    sys.exit(run_port_forward(namespace, service))


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


@cli.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def produce(args: tuple[str, ...]) -> None:
    """The producer controller (dashboard, or --headless)."""
    raise UserError("the producer controller is not built yet; see the load-engine issue")


@cli.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def consume(args: tuple[str, ...]) -> None:
    """The consumer controller (dashboard, or --headless)."""
    raise UserError("the consumer controller is not built yet; see the load-engine issue")


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
