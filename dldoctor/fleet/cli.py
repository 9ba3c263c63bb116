"""`dldoctor fleet check|smoke`: the typer sub-app (parse, call the core, render, exit)."""

# No `from __future__ import annotations`: typer reads the annotations (see dldoctor/cli.py).

import sys
from typing import Annotated, Any, Optional

import typer

from dldoctor.errors import ExitCode, UsageError

fleet_app = typer.Typer(
    help="Check and smoke-test every node of a cluster through Slurm or Ray.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
OptStr = Optional[str]  # noqa: UP045  (typer needs Optional at runtime on 3.10)
EXTRA = {"allow_extra_args": True, "ignore_unknown_options": False}

SlurmOpt = Annotated[bool, typer.Option("--slurm", help="Reach the nodes through srun (SRUN_ARGS after --).")]
RayOpt = Annotated[bool, typer.Option("--ray", help="Reach the nodes as Ray tasks (needs dldoctor[ray]).")]
AddressOpt = Annotated[OptStr, typer.Option("--address", help="The Ray cluster (default: RAY_ADDRESS or auto).")]
PartitionOpt = Annotated[OptStr, typer.Option("--partition", "-p", help="Slurm partition.")]
NodelistOpt = Annotated[OptStr, typer.Option("--nodelist", "-w", help="Slurm node list (node[1-8]).")]
AccountOpt = Annotated[OptStr, typer.Option("--account", "-A", help="Slurm account.")]
TimeOpt = Annotated[OptStr, typer.Option("--time", "-t", help="Slurm time limit of the job step.")]
NodePythonOpt = Annotated[OptStr, typer.Option(
    "--node-python", help="The interpreter that has dldoctor on the nodes (default: this one, on a shared filesystem).")]
PythonOpt = Annotated[OptStr, typer.Option("--python", help="The framework interpreter to inspect / test on the nodes.")]
NodeTimeoutOpt = Annotated[float, typer.Option("--node-timeout", help="Seconds each node may take.")]
TimeoutOpt = Annotated[float, typer.Option("--timeout", help="Seconds the whole run may take.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON (schema dldoctor.fleet/1).")]


def _transport(ctx: typer.Context, slurm: bool, ray: bool, address: OptStr, partition: OptStr, nodelist: OptStr,
               account: OptStr, time_limit: OptStr) -> Any:
    if slurm == ray:
        raise UsageError("give one of --slurm or --ray")
    if ray:
        if ctx.args or partition or nodelist or account or time_limit:
            raise UsageError("--partition, --nodelist, --account, --time and SRUN_ARGS are for --slurm")
        from dldoctor.fleet.transport.ray import RayTransport, import_ray

        import_ray()  # the one-line error naming dldoctor[ray] before anything else
        return RayTransport(address)
    if address:
        raise UsageError("--address is for --ray")
    from dldoctor.fleet.transport.slurm import SlurmTransport

    return SlurmTransport(partition=partition, nodelist=nodelist, account=account, time_limit=time_limit,
                          extra=tuple(ctx.args))


def _progress() -> Any:
    from dldoctor.cli import STATE, _console

    if STATE.quiet:
        return None
    console = _console(stderr=True)

    def show(done: int, total: int, node: str) -> None:
        console.print(f"fleet: {done} of {total} nodes answered ({node})", markup=False, highlight=False)

    return show


def _finish(result: dict[str, Any], json_out: bool) -> int:
    from dldoctor.cli import _console

    if json_out:
        from dldoctor.output import to_json

        sys.stdout.write(to_json(result))
    else:
        from dldoctor.fleet.render import render_fleet

        console = _console()
        for part in render_fleet(result):
            console.print(part)
    return int(ExitCode.FINDINGS if result["status"] == "error" else ExitCode.OK)


def _options(node_python: OptStr, python: OptStr, node_timeout: float, timeout: float) -> Any:
    from dldoctor.fleet.check import FleetOptions

    return FleetOptions(node_python=node_python, python=python, node_timeout_s=node_timeout,
                        timeout_s=timeout).validate()


@fleet_app.command("check", context_settings=EXTRA)
def check(
    ctx: typer.Context,
    slurm: SlurmOpt = False, ray: RayOpt = False, address: AddressOpt = None,
    partition: PartitionOpt = None, nodelist: NodelistOpt = None, account: AccountOpt = None, time_limit: TimeOpt = None,
    node_python: NodePythonOpt = None, python: PythonOpt = None,
    node_timeout: NodeTimeoutOpt = 60.0, timeout: TimeoutOpt = 300.0,
    json_out: JsonOpt = False,
    drain: Annotated[bool, typer.Option("--drain-commands", help="Print the scontrol lines that drain the broken "
                                                                 "nodes (printed, never run).")] = False,
) -> int:
    """Snapshot every node, diagnose each as `check` does, and compare them: the odd ones out and why."""
    from dldoctor.fleet.check import drain_commands, run_fleet_check

    options = _options(node_python, python, node_timeout, timeout)
    transport = _transport(ctx, slurm, ray, address, partition, nodelist, account, time_limit)
    if drain and transport.engine != "slurm":
        raise UsageError("--drain-commands: draining is Slurm's (scontrol); use it with --slurm")
    result = run_fleet_check(transport, options, _progress())
    if drain:
        for line in drain_commands(result):
            sys.stdout.write(line + "\n")
        return int(ExitCode.FINDINGS if result["status"] == "error" else ExitCode.OK)
    return _finish(result, json_out)


@fleet_app.command("smoke", context_settings=EXTRA)
def smoke(
    ctx: typer.Context,
    slurm: SlurmOpt = False, ray: RayOpt = False, address: AddressOpt = None,
    partition: PartitionOpt = None, nodelist: NodelistOpt = None, account: AccountOpt = None, time_limit: TimeOpt = None,
    node_python: NodePythonOpt = None, python: PythonOpt = None,
    node_timeout: NodeTimeoutOpt = 300.0, timeout: TimeoutOpt = 600.0,
    interconnect: Annotated[OptStr, typer.Option("--interconnect", help="What links the nodes (ib-ndr, roce-200g, "
                                                                          "ethernet-25g ...), to compare busbw with.")] = None,
    nics: Annotated[int, typer.Option("--nics", help="NICs (rails) per node for --interconnect.")] = 1,
    json_out: JsonOpt = False,
) -> int:
    """`dldoctor smoke` on every node, then an all-reduce across them (algbw/busbw per size, slowest link)."""
    from dldoctor.fleet.smoke import interconnect as lookup
    from dldoctor.fleet.smoke import run_fleet_smoke

    options = _options(node_python, python, node_timeout, timeout)
    if interconnect:
        lookup(interconnect)  # a wrong name is a usage error before any node is asked
    transport = _transport(ctx, slurm, ray, address, partition, nodelist, account, time_limit)
    result = run_fleet_smoke(transport, options, interconnect_name=interconnect, nics=nics, progress=_progress())
    return _finish(result, json_out)
