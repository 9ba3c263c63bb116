"""The command line: parse, call the core, render, exit. Nothing else prints.

Every fatal error is a `DldoctorError` carrying its exit code; `main` turns it
into one line on stderr. Usage errors from typer/click get the same treatment,
so no command ever ends in a traceback.
"""

# No `from __future__ import annotations` here: typer would eval every string annotation of every
# command on each run (~20 ms); real annotation objects cost nothing to read.

import os
import re
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from dldoctor import __version__
from dldoctor.errors import DldoctorError, ExitCode, InputError, UsageError

app = typer.Typer(
    name="dldoctor",
    help="Diagnose and set up deep-learning machines: drivers, CUDA/ROCm, frameworks.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


class _State:
    verbose = 0
    quiet = False
    color = "auto"


STATE = _State()


def _console(stderr: bool = False) -> Any:
    from rich.console import Console

    # --color never, or (auto) NO_COLOR (no-color.org), turns off every escape code, bold included; NO_COLOR
    # wins over FORCE_COLOR. --color always colours a pipe too.
    plain = STATE.color == "never" or (STATE.color == "auto" and bool(os.environ.get("NO_COLOR")))
    force = True if STATE.color == "always" else None
    return Console(stderr=stderr, highlight=False, soft_wrap=True, color_system=None if plain else "auto",
                   no_color=plain, force_terminal=force)


def _wrapped(console: Any, lines: list[str]) -> list[Any]:
    """Lines broken at words with a hanging indent to the terminal's width (or COLUMNS); a pipe gets them
    whole, one fact per line for grep."""
    if not (console.is_terminal or os.environ.get("COLUMNS")):
        return lines
    from dldoctor.render import wrap_lines

    return wrap_lines(lines, console.width)


def _say(message: str) -> None:
    """A progress or summary line for people; silenced by --quiet."""
    if not STATE.quiet:
        _console(stderr=True).print(message)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"dldoctor {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version_callback, is_eager=True, help="Print the version and exit.")
    ] = False,
    verbose: Annotated[int, typer.Option("--verbose", "-v", count=True, metavar="", show_default=False,
                                         help="More detail: -v the details, -vv every probe's facts.")] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only problems, results and errors.")] = False,
    color: Annotated[str, typer.Option("--color", metavar="auto|always|never",
                                       help="Colour the output: auto (a terminal, unless NO_COLOR is set), "
                                            "always or never.")] = "auto",
    knowledge_dir: Annotated[
        Optional[Path],  # noqa: UP045  (typer needs Optional at runtime on 3.10)
        typer.Option("--knowledge-dir", envvar="DLDOCTOR_KNOWLEDGE_DIR",
                     help="Read compatibility tables from this folder first (newer data without a new release)."),
    ] = None,
) -> None:
    if color not in ("auto", "always", "never"):
        raise UsageError(f"--color {color!r}: choose auto, always or never")
    STATE.verbose = verbose
    STATE.quiet = quiet
    STATE.color = color
    if knowledge_dir is not None:
        if not knowledge_dir.is_dir():
            raise InputError(f"--knowledge-dir {knowledge_dir} is not a folder")
        from dldoctor import knowledge

        knowledge.set_override_dir(knowledge_dir)


#: `--python 3.11`, `3`, `python3.11`, `cpython3.11`, `cpython@3.11`: a version, as uv reads one.
_PYTHON_VERSION = re.compile(r"^(?:c?python@?)?(3(?:\.\d{1,3})?)(?:\.\d{1,3})?$", re.IGNORECASE)


def python_option(python: str | None, *, want: str = "interpreter") -> str | None:
    """The one reading of `--python` for every command: a path to an interpreter or a version (3.11), as uv
    takes either. `want="interpreter"` gives an absolute interpreter path (a version is looked up on PATH as
    python3.11); `want="version"` gives X.Y (a path is asked for its version)."""
    if python is None:
        return None
    if not python.strip():
        raise UsageError("--python needs an interpreter path or a version such as 3.11 (an empty one was given)")
    match = _PYTHON_VERSION.match(python) if "/" not in python else None
    if match:
        version = match.group(1)
        if want == "version":
            return version
        import shutil

        found = shutil.which(f"python{version}")
        if found is None:
            raise InputError(f"--python {python}: no python{version} on PATH (give the interpreter's path)")
        return os.path.abspath(found)
    path = Path(python)
    try:
        exists = path.exists()
    except OSError as exc:  # a 100 kB argument: ENAMETOOLONG
        raise InputError(f"--python {python[:200]}: {exc.strerror or exc}") from None
    if not exists:
        raise InputError(f"--python {python}: no such file (give an interpreter's path or a version such as 3.11)")
    if path.is_dir() or not os.access(path, os.X_OK):
        raise InputError(f"--python {python} is not an executable interpreter")
    executable = str(path.absolute())
    if want == "version":
        from dldoctor.probes.python_target import inspect_python

        target = inspect_python(_machine(30.0), executable)
        if target.error or not target.version:
            raise InputError(f"--python {python} is not a usable interpreter: {target.error or 'no version'}")
        return ".".join(target.version.split(".")[:2])
    return executable


def _machine(timeout: float) -> Any:
    from dldoctor.machine import Machine

    if not (0 < timeout <= MAX_TIMEOUT_S):  # also refuses nan
        raise UsageError(f"--timeout {timeout}: give a number of seconds above 0 and at most {MAX_TIMEOUT_S:g}")
    return Machine.this_one(timeout_s=timeout)


#: The longest --timeout accepted (a day): inf, 1e309 and nan are usage errors, not a crash.
MAX_TIMEOUT_S = 86400.0
TimeoutOpt = Annotated[float, typer.Option("--timeout", help="Seconds each external command may take.")]
PythonOpt = Annotated[
    Optional[str],  # noqa: UP045  (typer needs Optional at runtime on 3.10)
    typer.Option("--python", help="Inspect this interpreter (a path, or a version such as 3.11 found on PATH) "
                                  "instead of the active one."),
]


def _snapshot(python: str | None, deep: bool, redact: bool, timeout: float) -> dict[str, Any]:
    from dldoctor.probes.python_target import inspect_python
    from dldoctor.snapshot import take_snapshot

    machine = _machine(timeout)
    python = python_option(python)
    if python is not None:
        target = inspect_python(machine, python)
        if target.error:
            raise InputError(f"--python {python} is not a usable interpreter: {target.error}")
    return take_snapshot(machine, python=python, deep=deep, redact=redact)


@app.command()
def snapshot(
    output: Annotated[
        Optional[Path],  # noqa: UP045  (typer needs Optional at runtime on 3.10)
        typer.Option("--output", "-o", help="Write the JSON to this file instead of standard output."),
    ] = None,
    python: PythonOpt = None,
    deep: Annotated[bool, typer.Option("--deep", help="Also import each framework in a child process.")] = False,
    redact: Annotated[bool, typer.Option("--redact", help="Remove host/user names, serials, UUIDs and the IP "
                                                          "addresses in error text.")] = False,
    timeout: TimeoutOpt = 5.0,
) -> None:
    """Print the facts of this machine as one JSON document (schema dldoctor.snapshot/1)."""
    from dldoctor.output import to_json, write_output

    doc = _snapshot(python, deep, redact, timeout)
    text = to_json(doc)
    if output is None or str(output) == "-":
        sys.stdout.write(text)
    else:
        write_output(output, text)
        _say(f"snapshot written to {output}")
    for failure in doc["probe_failures"]:
        if STATE.verbose:
            _console(stderr=True).print(f"probe {failure['probe']}: {failure['error']}", markup=False)


def _warm_rules() -> None:
    from dldoctor.check import known_ids
    from dldoctor.rules import recommend  # noqa: F401  (imported to load it early)

    known_ids()


ListOpt = Annotated[
    Optional[list[str]],  # noqa: UP045  (typer needs Optional at runtime on 3.10)
    typer.Option(help="Finding ids or areas (repeat or comma-separate)."),
]


@app.command()
def check(
    json_out: Annotated[bool, typer.Option("--json", help="Print the report as JSON (schema dldoctor.report/1).")] = False,
    snapshot_file: Annotated[
        Optional[Path],  # noqa: UP045  (typer needs Optional at runtime on 3.10)
        typer.Option("--snapshot", help="Diagnose a snapshot taken elsewhere instead of this machine."),
    ] = None,
    framework: Annotated[
        Optional[str],  # noqa: UP045  (typer needs Optional at runtime on 3.10)
        typer.Option("--framework", help="Focus on one framework: pytorch, tensorflow or jax."),
    ] = None,
    only: ListOpt = None,
    ignore: ListOpt = None,
    strict: Annotated[bool, typer.Option("--strict", help="Fail (exit 1) on warnings too.")] = False,
    python: PythonOpt = None,
    deep: Annotated[bool, typer.Option("--deep", help="Also import each framework in a child process.")] = False,
    redact: Annotated[bool, typer.Option("--redact", help="Remove host/user names, serials, UUIDs and IP "
                                                          "addresses from the report (--json embeds the snapshot).")] = False,
    timeout: TimeoutOpt = 5.0,
) -> int:
    """Diagnose this machine: what is wrong, why, and the commands that fix it."""
    import threading

    # Load the rules and the knowledge base while the probes wait on the machine.
    warm = threading.Thread(target=_warm_rules, daemon=True)
    warm.start()
    from dldoctor.check import diagnose

    if snapshot_file is not None:
        from dldoctor.snapshot import load_snapshot

        if python is not None or deep:
            raise InputError("--python and --deep inspect this machine; they cannot be used with --snapshot")
        doc = load_snapshot(snapshot_file)
        if redact:
            from dldoctor.snapshot import redact_snapshot

            doc = redact_snapshot(doc)
    else:
        doc = _snapshot(python, deep, redact, timeout)
    report = diagnose(doc, framework=framework, only=only, ignore=ignore)
    if json_out:
        from dldoctor.output import to_json

        sys.stdout.write(to_json(report.to_json()))
    else:
        from dldoctor.render import failures_note, render_check

        console = _console()
        lines = render_check(report, STATE.verbose, STATE.quiet)
        for line in _wrapped(console, lines):
            console.print(line)
        note = failures_note(doc)
        if note and not STATE.verbose and not STATE.quiet:
            console.print(note)
        elif STATE.verbose:
            for failure in doc.get("probe_failures", []):
                console.print(f"[dim]probe {failure.get('probe')}: {failure.get('error')}[/]", markup=True)
    failed = report.status == "error" or (strict and report.status == "warning")
    return int(ExitCode.FINDINGS if failed else ExitCode.OK)


@app.command()
def explain(
    finding_id: Annotated[
        Optional[str],  # noqa: UP045  (typer needs Optional at runtime on 3.10)
        typer.Argument(help="A finding id, e.g. driver.library-mismatch."),
    ] = None,
    list_ids: Annotated[bool, typer.Option("--list", help="List every finding id.")] = False,
) -> None:
    """Explain a finding: what it means, why it happens, how to fix it."""
    from dldoctor.check import explain as explain_text
    from dldoctor.check import known_ids
    from dldoctor.rules import EXPLANATIONS

    if list_ids or finding_id is None:
        for fid in known_ids():
            typer.echo(f"{fid}  {EXPLANATIONS[fid].title}")
        return
    typer.echo(explain_text(finding_id), nl=False)


@app.command()
def knowledge(
    json_out: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Show the compatibility tables this dldoctor knows, their sources and their age."""
    from dldoctor.knowledge.catalog import summary

    rows = summary()
    if json_out:
        from dldoctor.output import to_json

        sys.stdout.write(to_json({"schema": "dldoctor.knowledge/1", "tables": rows}))
        return
    from dldoctor.knowledge.render import render_knowledge

    console = _console()
    console.print(render_knowledge(rows, console.width))


OptStr = Optional[str]  # noqa: UP045  (typer needs Optional at runtime on 3.10)


def _print_smoke(result: dict[str, Any], json_out: bool) -> None:
    if json_out:
        from dldoctor.output import to_json

        sys.stdout.write(to_json(result))
    else:
        from dldoctor.smoke.render import render_smoke

        _console().print(render_smoke(result))


@app.command()
def smoke(
    framework: Annotated[str, typer.Option(help="pytorch (torch), tensorflow (tf), jax or auto.")] = "auto",
    python: Annotated[OptStr, typer.Option("--python", help="Run in this interpreter (a path, or a version "
                                                           "such as 3.11 found on PATH).")] = None,
    prefix: Annotated[OptStr, typer.Option("--prefix", help="Run in this conda environment.")] = None,
    image: Annotated[OptStr, typer.Option("--image", help="Run in a container of this Docker image.")] = None,
    device: Annotated[
        Optional[int],  # noqa: UP045  (typer needs Optional at runtime on 3.10)
        typer.Option("--device", help="Test only this GPU index."),
    ] = None,
    quick: Annotated[bool, typer.Option("--quick", help="Smaller sizes, fewer repeats (a few seconds).")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the result as JSON (schema dldoctor.smoke/1).")] = False,
    allow_cpu: Annotated[bool, typer.Option("--allow-cpu", help="Pass on a machine with no accelerator.")] = False,
    timeout: Annotated[
        Optional[float],  # noqa: UP045  (typer needs Optional at runtime on 3.10)
        typer.Option("--timeout", help="Seconds the whole run may take."),
    ] = None,
) -> int:
    """Prove the framework computes correctly and fast on the accelerator."""
    from dldoctor.setup.progress import LiveProgress
    from dldoctor.smoke.command import smoke_command

    python = python_option(python)
    live = LiveProgress(_console(stderr=True), quiet=STATE.quiet)
    try:
        result, code = smoke_command(framework, python, prefix, image, device, quick, json_out, allow_cpu, timeout,
                                     progress=live)
    finally:
        live.close()
    _print_smoke(result, json_out)
    if code == ExitCode.NO_ACCELERATOR:
        from dldoctor.errors import NoAcceleratorError
        from dldoctor.smoke.run import no_accelerator_message

        raise NoAcceleratorError(no_accelerator_message(result))  # the one-line reason, after the result
    return code


def _render_plan(plan: Any) -> None:
    console = _console()
    release = plan.version or (f"{plan.release} (newest)" if plan.release else "(newest)")
    console.print(f"[bold]Plan[/]: {plan.framework} {release} {plan.variant}, Python {plan.python}, "
                  f"backend {plan.backend}")
    for choice, why in plan.reasons:
        console.print(f"  {choice}: [dim]{why}[/]", markup=True)
    console.print(f"  files: {plan.out_dir}   environment: {plan.prefix}")


def _lock_mode(locked: bool, frozen: bool) -> str:
    if locked and frozen:
        raise UsageError("--locked checks the lock against the plan, --frozen skips that check: choose one")
    return "locked" if locked else "frozen" if frozen else "auto"


@app.command()
def setup(
    framework: Annotated[str, typer.Argument(help="pytorch, tensorflow or jax, optionally ==VERSION (pytorch==2.5).")],
    backend: Annotated[OptStr, typer.Option(
        help="conda, venv or docker (default: conda when its channel answers, else venv when an index does).")] = None,
    variant: Annotated[str, typer.Option(help="auto, cpu, cudaX.Y (cuda12.6) or rocmX.Y.")] = "auto",
    python_version: Annotated[OptStr, typer.Option("--python", help="Python for the environment: a version (3.11) "
                                                                   "or an interpreter whose version to use.")] = None,
    platform: Annotated[
        Optional[list[str]],  # noqa: UP045  (typer needs Optional at runtime on 3.10)
        typer.Option("--platform", help="Platforms to lock (linux-64, linux-aarch64, osx-arm64); repeatable."),
    ] = None,
    channel: Annotated[OptStr, typer.Option(help="Conda channel (name, URL or local path) instead of conda-forge.")] = None,
    index_url: Annotated[OptStr, typer.Option("--index-url", help="Package index for the venv/docker backends.")] = None,
    extra_index_url: Annotated[
        Optional[list[str]],  # noqa: UP045  (typer needs Optional at runtime on 3.10)
        typer.Option("--extra-index-url", help="Another package index; repeatable."),
    ] = None,
    find_links: Annotated[
        Optional[list[str]],  # noqa: UP045  (typer needs Optional at runtime on 3.10)
        typer.Option("--find-links", help="A folder or page of wheels; repeatable."),
    ] = None,
    prefix: Annotated[
        Optional[Path],  # noqa: UP045  (typer needs Optional at runtime on 3.10)
        typer.Option(help="Where the environment goes (default under your data folder)."),
    ] = None,
    out: Annotated[Path, typer.Option("--output", "-o", help="Where the spec and lock files go.")] = Path("."),
    snapshot_file: Annotated[
        Optional[Path],  # noqa: UP045  (typer needs Optional at runtime on 3.10)
        typer.Option("--snapshot", help="Build for the machine of this snapshot."),
    ] = None,
    cuda: Annotated[OptStr, typer.Option("--cuda", help="Build for a driver that supports this CUDA (12.6).")] = None,
    force: Annotated[bool, typer.Option(help="Build a variant even when it cannot work on the target.")] = False,
    update: Annotated[bool, typer.Option(help="Re-solve the lock even when the spec is unchanged.")] = False,
    locked: Annotated[bool, typer.Option("--locked", help="CI: fail (exit 2) when the lock is stale; never re-solve.")] = False,
    frozen: Annotated[bool, typer.Option("--frozen", help="CI: install the existing lock exactly; no solve.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan and stop.")] = False,
    lock_only: Annotated[bool, typer.Option("--lock-only", help="Write the spec and the lock; install nothing.")] = False,
    no_verify: Annotated[bool, typer.Option("--no-verify", help="Skip the smoke test at the end.")] = False,
    tag: Annotated[OptStr, typer.Option(help="docker: the image tag.")] = None,
    base_image: Annotated[OptStr, typer.Option("--base-image", help="docker: the base image of both stages.")] = None,
    docker_platform: Annotated[OptStr, typer.Option("--docker-platform", help="docker: linux/amd64, linux/arm64.")] = None,
    dockerfile_only: Annotated[bool, typer.Option("--dockerfile-only", help="docker: write the Dockerfile only.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the result as JSON (schema dldoctor.setup/1).")] = False,
    timeout: TimeoutOpt = 5.0,
) -> int:
    """Build a locked environment that fits this machine and prove it with the smoke test."""
    from dldoctor.setup.choose import plan_with_usable_backend
    from dldoctor.setup.pipeline import get_backend, run_setup
    from dldoctor.setup.plan import SetupRequest
    from dldoctor.snapshot.facts import Facts

    if snapshot_file is not None:
        from dldoctor.snapshot import load_snapshot

        doc = load_snapshot(snapshot_file)
    else:
        doc = _snapshot(None, False, False, timeout)
    options = {"tag": tag, "base_image": base_image, "docker_platform": docker_platform,
               "dockerfile_only": dockerfile_only}
    request = SetupRequest(
        framework=framework, backend=backend or "auto", variant=variant, python=python_option(python_version, want="version"),
        platforms=tuple(platform or ()), channel=channel, index_url=index_url,
        extra_index_urls=tuple(extra_index_url or ()), find_links=tuple(find_links or ()), prefix=prefix,
        out_dir=out, cuda=cuda, force=force, update=update, lock_mode=_lock_mode(locked, frozen),
        options={k: v for k, v in options.items() if v not in (None, False)},
    )
    plan = plan_with_usable_backend(Facts(doc), request)
    if not json_out:
        _render_plan(plan)
    if dry_run:
        if json_out:
            from dldoctor.output import to_json

            sys.stdout.write(to_json({"schema": "dldoctor.setup/1", "plan": plan.to_json()}))
        return int(ExitCode.OK)
    from dldoctor.setup.progress import LiveProgress

    live = LiveProgress(_console(stderr=True), quiet=STATE.quiet)
    try:
        result = run_setup(plan, get_backend(plan.backend), live, lock_only=lock_only,
                           verify=not (no_verify or dockerfile_only))
    finally:
        live.close()
    if json_out:
        from dldoctor.output import to_json

        sys.stdout.write(to_json(result.to_json()))
    elif result.install is not None:
        _console().print(result.ready_line(), markup=False)
        _console().print(f"  {result.install.activate}", markup=False)
    return int(result.exit_code())


_GLOBAL_FLAGS = ("-v", "--verbose", "-q", "--quiet")
#: Spellings kept working but not shown: `--out` is `-o/--output`, as in every other command.
_HIDDEN_ALIASES = {"--out": "--output"}


def _global_flags_first(argv: list[str]) -> list[str]:
    """Accept -v/-q/--color after the command too (`dldoctor check -v`), as people type them; spell hidden
    aliases the one way."""
    head: list[str] = []
    tail: list[str] = []
    args = iter(enumerate(argv))
    for i, arg in args:
        if arg == "--":
            tail.extend(argv[i:])
            break
        name, eq, value = arg.partition("=")
        if name in _HIDDEN_ALIASES:
            arg = _HIDDEN_ALIASES[name] + eq + value
        if arg == "--color" and i + 1 < len(argv):
            head.extend((arg, next(args)[1]))
            continue
        is_flag = arg in _GLOBAL_FLAGS or arg.startswith("--color=") or (
            arg.startswith("-v") and set(arg[1:]) == {"v"})
        (head if is_flag else tail).append(arg)
    return head + tail


@app.command()
def triage(
    source: Annotated[str, typer.Argument(help="A file with the pasted report, or - for standard input.")] = "-",
    json_out: Annotated[bool, typer.Option("--json", help="Print as JSON (schema dldoctor.triage/1).")] = False,
    fmt: Annotated[str, typer.Option("--format", help="text or markdown (a reply ready to paste).")] = "text",
    framework: Annotated[
        Optional[str],  # noqa: UP045  (typer needs Optional at runtime on 3.10)
        typer.Option("--framework", help="Focus on one framework: pytorch, tensorflow or jax."),
    ] = None,
) -> int:
    """Diagnose a machine from pasted text: collect_env, nvidia-smi, pip list, error messages."""
    from dldoctor.errors import UsageError
    from dldoctor.triage import read_text
    from dldoctor.triage import triage as run_triage
    from dldoctor.triage.render import render

    if fmt not in ("text", "markdown"):
        raise UsageError(f"--format: {fmt!r} is not text or markdown")
    stdin = sys.stdin.buffer.read(10 * 1024 * 1024 + 1) if source == "-" else None
    result = run_triage(read_text(source, stdin), framework=framework)
    if json_out:
        from dldoctor.output import to_json

        sys.stdout.write(to_json(result.to_json()))
    else:
        sys.stdout.write(render(result, fmt))
    return int(ExitCode.FINDINGS if result.status == "error" else ExitCode.OK)


@app.command()
def report(
    snapshot_file: Annotated[
        Optional[Path],  # noqa: UP045  (typer needs Optional at runtime on 3.10)
        typer.Option("--snapshot", help="Report a snapshot taken elsewhere instead of this machine."),
    ] = None,
    python: PythonOpt = None,
    timeout: TimeoutOpt = 5.0,
) -> None:
    """Print a markdown block for a new bug report: the facts that matter, the verdict, the redacted snapshot."""
    from dldoctor.check import diagnose
    from dldoctor.triage.report_block import render_report_block

    if snapshot_file is not None:
        from dldoctor.snapshot import load_snapshot, redact_snapshot

        doc = redact_snapshot(load_snapshot(snapshot_file))
    else:
        doc = _snapshot(python, False, True, timeout)
    sys.stdout.write(render_report_block(doc, diagnose(doc)))


from dldoctor.fleet.cli import fleet_app  # noqa: E402  (typer only; the engines are imported per command)

app.add_typer(fleet_app, name="fleet")


def main() -> None:
    """The console-script entry point."""
    try:
        from typer._click import exceptions as click  # typer >= 0.26 carries its own click
    except ImportError:  # older typer uses the click package
        from click import exceptions as click  # type: ignore[no-redef]

    try:
        rv = app(args=_global_flags_first(sys.argv[1:]), prog_name="dldoctor", standalone_mode=False)
    except typer.Abort:
        sys.stderr.write("dldoctor: interrupted\n")
        sys.exit(ExitCode.INTERRUPTED)
    except click.UsageError as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":
            sys.exit(ExitCode.OK)  # the help has been shown
        hint = f" (see 'dldoctor {exc.ctx.command_path.partition(' ')[2]} --help')".replace("  ", " ") if exc.ctx else ""
        sys.stderr.write(f"dldoctor: error: {exc.format_message()}{hint}\n")
        sys.exit(ExitCode.USAGE)
    except click.ClickException as exc:
        sys.stderr.write(f"dldoctor: error: {exc.format_message()}\n")
        sys.exit(ExitCode.USAGE)
    except DldoctorError as exc:
        sys.stderr.write(f"dldoctor: error: {exc.message}\n")
        if "rattler" in sys.modules:
            # A failed conda solve can leave rattler's runtime fetching in its own threads; finalizing the
            # interpreter under them aborts (exit 134) instead of exiting with the error's code.
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(int(exc.exit_code))
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.stderr.write("dldoctor: interrupted\n")
        sys.exit(ExitCode.INTERRUPTED)
    except BrokenPipeError:
        sys.exit(ExitCode.OK)
    except Exception as exc:  # the last line of defence: one line, not a traceback
        if STATE.verbose or os.environ.get("DLDOCTOR_DEBUG"):
            raise
        sys.stderr.write(
            f"dldoctor: internal error: {type(exc).__name__}: {exc} (run with -v for the traceback; please report it)\n"
        )
        sys.exit(ExitCode.INTERNAL)
    sys.exit(rv if isinstance(rv, int) else ExitCode.OK)
