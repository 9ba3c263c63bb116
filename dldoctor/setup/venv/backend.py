"""The venv backend: the right wheels for this GPU, locked with hashes, in a virtual environment.

plan -> `requirements.in` -> `requirements.lock` (every package pinned with
its sha256, resolved for the target Python and platform without installing)
-> a new virtual environment that replaces the old one only when complete ->
the smoke test run by the new interpreter.

Resolving and installing use uv when it is there (faster) and pip otherwise.
Neither sees pip's or uv's own configuration: the sources are the ones the
plan names and the lock records, so the lock alone says where every file came
from and `pip install --require-hashes --no-deps -r requirements.lock`
reproduces the environment anywhere.

The new environment is built beside the old one (`<prefix>.new-XXXX`), its
scripts' hard-coded paths are rewritten to the final path, and only then is
it swapped in with two renames; the old environment stays usable through the
whole install, and a failure or Ctrl-C removes the half-made one and leaves
the old one untouched.
"""

from __future__ import annotations

import importlib.util
import json
import os
import platform as platform_mod
import re
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dldoctor.errors import InputError, OutputError, TargetError, TimeoutExpired, UnavailableError, UsageError
from dldoctor.knowledge import vocabulary
from dldoctor.output import is_stamped, sha256_file, stamped, write_atomic, write_owned
from dldoctor.runner import CommandResult, LineCallback, Runner
from dldoctor.setup.pipeline import InstallResult, LockResult, SpecResult
from dldoctor.setup.progress import Progress
from dldoctor.setup.installed import from_venv
from dldoctor.setup import pip_errors
from dldoctor.setup.plan import Plan, missing_lock, stale_lock
from dldoctor.setup.platforms import TargetPlatform, target_platform, this_platform
from dldoctor.setup.progress import report_count
from dldoctor.setup.staging import clean_leftovers, prefix_lock, staging_path, swap_into
from dldoctor.setup.venv.wheels import (
    LOCK_NAME,
    SPEC_NAME,
    LockedPackage,
    check_torch_variant,
    input_hash,
    parse_pip_report,
    parse_requirements_lock,
    plan_sources,
    read_lock_header,
    render_lock,
    render_spec,
    requirement_lines,
)

INSTALLER_ENV = "DLDOCTOR_VENV_INSTALLER"  # "uv", "pip" or "auto"
#: Written into a finished environment: the sha256 of the lock it holds.
MARKER = ".dldoctor-lock"

# Settings of pip and uv that would add sources the lock does not name (or drop hashes).
_SOURCE_ENV = (
    "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_NO_INDEX", "PIP_CONSTRAINT", "PIP_REQUIREMENT",
    "PIP_TARGET", "PIP_PREFIX", "PIP_USER", "PIP_REQUIRE_VIRTUALENV",
    "UV_INDEX_URL", "UV_EXTRA_INDEX_URL", "UV_INDEX", "UV_DEFAULT_INDEX", "UV_FIND_LINKS", "UV_NO_INDEX",
    "UV_CONSTRAINT", "UV_OVERRIDE", "UV_PYTHON", "UV_SYSTEM_PYTHON", "UV_INDEX_STRATEGY", "VIRTUAL_ENV",
)


class VenvBackend:
    """pip/uv wheels in a virtual environment (`dldoctor setup --backend venv`)."""

    name = "venv"

    def __init__(self, runner: Runner | None = None, installer: str | None = None, torch_index: str | None = None,
                 lock_timeout_s: float = 900.0, install_timeout_s: float = 3600.0) -> None:
        self.runner = runner or Runner()
        self.installer = (installer or os.environ.get(INSTALLER_ENV) or "auto").lower()
        if self.installer not in ("auto", "uv", "pip"):
            raise UsageError(f"${INSTALLER_ENV}={self.installer!r}: use uv, pip or auto")
        self.torch_index = torch_index
        self.lock_timeout_s = lock_timeout_s
        self.install_timeout_s = install_timeout_s

    # ---- spec ---------------------------------------------------------------------------------------------

    def write_spec(self, plan: Plan, progress: Progress) -> SpecResult:
        """requirements.in: the requirement and the sources, readable, written whole."""
        path = plan.out_dir / SPEC_NAME
        if plan.lock_mode != "auto":
            return SpecResult(files=(path,))  # --locked / --frozen: the lock decides, nothing is written
        text = stamped(render_spec(plan, requirement_lines(plan), plan_sources(plan, self.torch_index)))
        # Never over a file edited by hand (its stamp no longer matches) nor through a link.
        write_owned(path, text, ours=is_stamped, make_parents=True)
        progress(f"spec: {path}")
        gpus = [f"sm_{c.replace('.', '')}" for c in plan.capabilities] + list(plan.gfx_targets)
        if plan.kind == "cpu" and gpus:
            # Never fall back to the CPU build quietly on a machine with a GPU: say which GPU and why.
            why = next((w for c, w in plan.reasons if c == "cpu"), "the CPU build was chosen")
            progress(f"warning: the target has a GPU ({', '.join(dict.fromkeys(gpus))}) but this environment will be "
                     f"the CPU build: {why}")
        return SpecResult(files=(path,))

    # ---- lock ---------------------------------------------------------------------------------------------

    def lock(self, plan: Plan, spec: SpecResult, progress: Progress) -> LockResult:
        """Resolve for the target Python and platform, every package pinned with its sha256.

        An unchanged input (same requirement, sources, variant, Python and
        platform) reuses the lock unless `plan.update`.
        """
        requirements = requirement_lines(plan)
        sources = plan_sources(plan, self.torch_index)
        target = target_platform(plan)
        wanted = input_hash(plan, requirements, sources, target)
        path = plan.out_dir / LOCK_NAME
        if plan.lock_mode == "frozen":
            if not path.is_file():
                raise missing_lock(path)
            text = path.read_text(encoding="utf-8")
            packages = parse_requirements_lock(text)
            progress(f"lock: {path} as it is ({len(packages)} packages, --frozen)")
            return LockResult(path=path, input_hash=read_lock_header(text).get("input-hash", ""), reused=True,
                              packages=len(packages), details={"frozen": True, "platform": target.name})
        if plan.lock_mode == "locked":
            text = path.read_text(encoding="utf-8") if path.is_file() else ""
            if not text:
                raise stale_lock(path, "there is no lock yet")
            if read_lock_header(text).get("input-hash") != wanted:
                raise stale_lock(path, "the plan's requirements, sources, Python or platform changed since it was "
                                       "solved")
        if path.is_file() and not plan.update:
            text = path.read_text(encoding="utf-8")
            header = read_lock_header(text)
            if header.get("input-hash") == wanted:
                packages = parse_requirements_lock(text)
                progress(f"lock: {path} is current ({len(packages)} packages); --update re-solves it")
                return LockResult(path=path, input_hash=wanted, reused=True, packages=len(packages),
                                  details={"resolver": header.get("resolved-by"), "platform": target.name})
        tool = self._tool()
        progress(f"solve: resolving {' '.join(requirements)} for Python {plan.python} on {target.uv} with {tool[0]} "
                 f"({sources.describe()})")
        with tempfile.TemporaryDirectory(prefix="dldoctor-lock-") as work:
            req_in = Path(work) / SPEC_NAME
            req_in.write_text("\n".join([*sources.lines(), *requirements]) + "\n", encoding="utf-8")
            if tool[0] == "uv":
                packages = self._lock_uv(tool[1], plan, req_in, target, Path(work))
            else:
                packages = self._lock_pip(plan, req_in, target, Path(work))
        missing = [p.name for p in packages if not p.hashes]
        if missing:
            raise TargetError(f"the resolver gave no sha256 for {', '.join(missing)}: cannot lock it with hashes")
        warning = check_torch_variant(plan, packages, target)
        if warning:
            progress(f"warning: {warning} (kept: --force)")
        header = {
            "framework": f"{plan.framework} {plan.release or 'newest'}, variant {plan.variant}",
            "python": plan.python, "platform": f"{target.name} ({target.uv})", "input-hash": wanted,
            "resolved-by": tool[2], "packages": str(len(packages)),
        }
        sizes = [p.size for p in packages]
        if sizes and all(s is not None for s in sizes):
            header["download-bytes"] = str(sum(s or 0 for s in sizes))
        header["install"] = f"pip install --require-hashes --no-deps -r {LOCK_NAME}"
        write_atomic(path, render_lock(header, sources, packages), make_parents=True)
        progress(f"lock: {path} ({len(packages)} packages, all with sha256)")
        return LockResult(path=path, input_hash=wanted, reused=False, packages=len(packages),
                          details={"resolver": tool[2], "platform": target.name})

    def _lock_uv(self, uv: list[str], plan: Plan, req_in: Path, target: TargetPlatform, work: Path) -> list[LockedPackage]:
        out = work / "uv.lock.txt"
        # --python names a base interpreter (the target is --python-version): it spares uv a PATH search
        # that costs seconds behind pyenv shims.
        argv = [*uv, "pip", "compile", str(req_in), "-o", str(out), "--generate-hashes", "--no-header", "--quiet",
                "--no-config", "--python", sys.executable, "--python-version", plan.python, "--python-platform", target.uv,
                "--only-binary", ":all:", "--index-strategy", "unsafe-best-match"]
        done = self._run(argv, self.lock_timeout_s, "locking")
        if not done.ok or not out.is_file():
            raise _lock_error(plan, target, done)
        return parse_requirements_lock(out.read_text(encoding="utf-8"))

    def _lock_pip(self, plan: Plan, req_in: Path, target: TargetPlatform, work: Path) -> list[LockedPackage]:
        report = work / "report.json"
        abi = "cp" + plan.python.replace(".", "")
        # --target only satisfies pip's rule for --platform/--python-version; --dry-run writes nothing there.
        argv = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet", "--no-input",
                "--disable-pip-version-check", "--retries", "2", "--target", str(work / "never"),
                "--report", str(report), "--only-binary=:all:", "--python-version", plan.python,
                *[arg for tag in target.pip for arg in ("--platform", tag)],
                "--implementation", "cp", "--abi", abi, "-r", str(req_in)]
        done = self._run(argv, self.lock_timeout_s, "locking")
        if not done.ok or not report.is_file():
            raise _lock_error(plan, target, done)
        try:
            doc = json.loads(report.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise TargetError(f"pip wrote an unreadable install report: {exc}") from exc
        return parse_pip_report(doc)

    # ---- install ------------------------------------------------------------------------------------------

    def install(self, plan: Plan, lock: LockResult, progress: Progress) -> InstallResult:
        """A new venv from the lock, swapped in for the old one only when complete."""
        prefix = plan.prefix.expanduser().absolute()
        activate = f"source {prefix}/bin/activate"
        python_in = str(prefix / "bin" / "python")
        try:
            lock_text = lock.path.read_text(encoding="utf-8")
        except OSError as exc:
            raise InputError(f"cannot read the lock {lock.path}: {exc.strerror or exc}") from exc
        lock_digest = sha256_file(lock.path)
        header = read_lock_header(lock_text)
        _check_platform_matches(header.get("platform", ""))
        # The conda backend's lock, leftover cleaning and two-rename swap: one setup per prefix at a time, and a
        # kill at any point leaves the old environment (put back if the kill fell between the two renames).
        with prefix_lock(prefix):
            clean_leftovers(prefix, progress)
            _clean_legacy_staging(prefix, progress)
            if (prefix / MARKER).is_file() and (prefix / MARKER).read_text().strip() == lock_digest \
                    and os.access(python_in, os.X_OK):
                progress(f"install: {prefix} already holds this lock")
                return InstallResult(location=str(prefix), python=python_in, changed=False, activate=activate,
                                     details={"installer": None, "framework": _found(prefix, plan)})
            if prefix.exists() and not (prefix / "pyvenv.cfg").is_file() and any(prefix.iterdir()):
                raise OutputError(f"{prefix} exists and is not a virtual environment: refusing to replace it "
                                  "(choose another --prefix)")
            base_python = self._base_python(plan.python)
            _check_free_space(prefix.parent, header.get("download-bytes"))
            tool = self._tool()
            staging = staging_path(prefix)
            try:
                progress(f"install: creating a Python {plan.python} venv at {staging}")
                self._make_venv(base_python, staging, prefix.name, need_pip=tool[0] == "pip")
                progress(f"install: {lock.packages} packages with {tool[0]} (hashes required)")
                self._install_lock(tool, staging, lock.path, _InstallWatcher(progress, lock.packages))
                _relocate_scripts(staging, prefix)
                (staging / MARKER).write_text(lock_digest + "\n")
                swap_into(staging, prefix)
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
        progress(f"install: {prefix} is ready")
        return InstallResult(location=str(prefix), python=python_in, changed=True, activate=activate,
                             details={"installer": tool[2], "framework": _found(prefix, plan)})

    def _make_venv(self, base_python: str, staging: Path, prompt: str, need_pip: bool) -> None:
        # --prompt: the shell prompt names the final folder, not the staging one.
        argv = [base_python, "-m", "venv", "--prompt", prompt, str(staging)]
        done = self.runner.run(argv, timeout_s=300)
        if not done.ok and not need_pip:
            # Debian's python without ensurepip: uv installs without pip inside the venv.
            shutil.rmtree(staging, ignore_errors=True)
            done = self.runner.run([*argv[:-1], "--without-pip", str(staging)], timeout_s=300)
        if not done.ok:
            raise TargetError(f"cannot create a virtual environment with {base_python}: {done.describe_failure()}")

    def _install_lock(self, tool: tuple[str, list[str], str], staging: Path, lock_path: Path,
                      watcher: _InstallWatcher | None = None) -> None:
        venv_python = str(staging / "bin" / "python")
        if tool[0] == "uv":
            argv = [*tool[1], "pip", "install", "--python", venv_python, "--require-hashes", "--no-deps", "--no-config",
                    "--only-binary", ":all:", "--index-strategy", "unsafe-best-match", "-r", str(lock_path)]
        else:
            argv = [venv_python, "-m", "pip", "install", "--require-hashes", "--no-deps", "--only-binary=:all:",
                    "--no-input", "--disable-pip-version-check", "--progress-bar", "off", "-r", str(lock_path)]
        done = self._run(argv, self.install_timeout_s, "installing", on_line=watcher)
        if done.ok:
            return
        text = pip_errors.output_of(done)
        if pip_errors.is_hash_mismatch(text):
            raise TargetError(f"hash mismatch: a downloaded file does not match {lock_path} ({pip_errors.hash_line(done)}); "
                              "refused, nothing installed (`--update` re-locks if the index changed on purpose)")
        if pip_errors.is_network_failure(text):
            raise UnavailableError(f"cannot download the locked packages: {done.describe_failure()}")
        raise TargetError(f"installing {lock_path} failed: {done.describe_failure()}")

    def _base_python(self, version: str) -> str:
        """An interpreter of the plan's Python version to base the venv on."""
        if f"{sys.version_info.major}.{sys.version_info.minor}" == version:
            return sys.executable
        found = self.runner.which(f"python{version}")
        if found:
            return found
        uv = self._uv()
        if uv:
            done = self.runner.run([*uv, "python", "find", "--no-config", version], timeout_s=30)
            if done.ok and done.stdout.strip():
                return done.stdout.strip().splitlines()[-1]
        raise TargetError(f"no Python {version} interpreter here: install one (`uv python install {version}`) "
                          "or choose another --python")

    # ---- verify -------------------------------------------------------------------------------------------

    def verify(self, plan: Plan, installed: InstallResult, progress: Progress) -> dict[str, Any]:
        """The smoke test, run by the new environment's interpreter."""
        from dldoctor.smoke.command import smoke_command

        framework = vocabulary.names(plan.framework).import_name or plan.framework
        progress(f"verify: dldoctor smoke --framework {framework} --python {installed.python} --quick")
        result, _code = smoke_command(framework, python=installed.python, quick=True, allow_cpu=plan.kind == "cpu",
                                      progress=progress)
        return result

    # ---- tools --------------------------------------------------------------------------------------------

    def _uv(self) -> list[str] | None:
        found = self.runner.which("uv")
        if found:
            return [found]
        if importlib.util.find_spec("uv") is not None:
            return [sys.executable, "-m", "uv"]
        return None

    def _tool(self) -> tuple[str, list[str], str]:
        """("uv" or "pip", the argv prefix, "name version") for resolving and installing."""
        if self.installer in ("auto", "uv"):
            uv = self._uv()
            if uv:
                done = self.runner.run([*uv, "--version"], timeout_s=30)
                if done.ok:
                    return "uv", uv, done.stdout.strip() or "uv"
            if self.installer == "uv":
                raise UnavailableError("uv is not installed (pip install uv), or choose the pip installer")
        done = self.runner.run([sys.executable, "-m", "pip", "--version"], timeout_s=60)
        if not done.ok:
            raise UnavailableError(f"neither uv nor pip is usable here: {done.describe_failure()}")
        return "pip", [sys.executable, "-m", "pip"], " ".join(done.stdout.split()[:2])

    def _run(self, argv: Sequence[str], timeout_s: float, what: str,
             on_line: LineCallback | None = None) -> CommandResult:
        env = {k: v for k, v in self.runner.env.items() if k not in _SOURCE_ENV}
        env["PIP_CONFIG_FILE"] = os.devnull  # pip reads no config file: the lock names every source
        done = Runner(env=env).run(argv, timeout_s=timeout_s, on_line=on_line)
        if done.timed_out:
            raise TimeoutExpired(f"{what} ran past {timeout_s:.0f}s: {' '.join(argv[:4])} ...")
        return done


class _InstallWatcher:
    """uv's or pip's output, line by line, as download and install counts (what they report without a terminal:
    uv its "Prepared N packages" / "Installed N packages" / " + name==version" lines, pip "Collecting",
    "Processing", "Downloading X (12.3 MB)" and "Installing collected packages")."""

    _SUMMARY = re.compile(r"^(Prepared|Installed|Resolved|Audited) (\d+) packages? in (\S+)")
    _PIP_FETCH = re.compile(r"^(?:Collecting|Processing) (\S+)")
    _PIP_SIZE = re.compile(r"^\s*Downloading (\S+) \(([^)]+)\)")

    def __init__(self, progress: Progress, total: int) -> None:
        self.progress, self.total = progress, total
        self.fetched = 0
        self.installed = 0

    def __call__(self, _stream: str, line: str) -> None:
        text = line.rstrip()
        summary = self._SUMMARY.match(text)
        if summary:
            verb, n, took = summary.groups()
            step = "download" if verb == "Prepared" else "install"
            if verb in ("Prepared", "Installed"):
                report_count(self.progress, step, int(n), self.total, f"{verb.lower()} {n} packages in {took}")
            return
        if text.startswith(" + "):
            self.installed += 1
            report_count(self.progress, "install", self.installed, self.total, text[3:].strip())
            return
        fetch = self._PIP_FETCH.match(text)
        if fetch:
            self.fetched += 1
            report_count(self.progress, "download", self.fetched, self.total, Path(fetch.group(1)).name[:80])
            return
        size = self._PIP_SIZE.match(text)
        if size:
            report_count(self.progress, "download", self.fetched, self.total, f"{size.group(1)} ({size.group(2)})")
            return
        if text.startswith("Installing collected packages:"):
            names = text.partition(":")[2].strip()
            report_count(self.progress, "install", 0, self.total, names[:80])


def _found(prefix: Path, plan: Plan) -> dict[str, str | None] | None:
    found = from_venv(prefix, plan.framework)
    return found.to_json() if found else None


def _lock_error(plan: Plan, target: TargetPlatform, done: CommandResult) -> Exception:
    """One line saying why the lock failed: no network, no matching wheel, or the resolver's reason."""
    text = done.stderr + "\n" + done.stdout
    if done.start_error:
        return UnavailableError(f"cannot run the resolver: {done.describe_failure()}")
    if pip_errors.is_network_failure(text):
        return UnavailableError(f"cannot reach the package sources ({pip_errors.network_reason(text)}): check the "
                                "network, or give --index-url/--find-links for a mirror or a local wheel folder")
    reason = pip_errors.resolver_reason(text)
    return TargetError(f"no {plan.framework} {plan.release or ''} {plan.variant} wheels for Python {plan.python} on "
                       f"{target.uv}: {reason}; ask for another release (pytorch==X.Y), --python or --variant, "
                       "or give --index-url/--find-links for a mirror or a wheel folder that has it".replace("  ", " "))


def _check_platform_matches(locked: str) -> None:
    name = locked.split(" ", 1)[0]
    if name and name != this_platform():
        raise TargetError(f"the lock is for {name}; this machine is {this_platform()}: install it there "
                          "(or use --lock-only here)")


def _check_free_space(folder: Path, download_bytes: str | None) -> None:
    """Refuse early when the known download size (unpacked, about 3x) cannot fit."""
    if not download_bytes or not download_bytes.isdigit():
        return
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    need = 3 * int(download_bytes)
    if free < need:
        raise OutputError(f"{probe} has {free / 2**30:.1f} GiB free; the environment needs about {need / 2**30:.1f} GiB")


def _relocate_scripts(staging: Path, prefix: Path) -> None:
    """Point the scripts that hard-code the staging path (shebangs, activate*) at the final path."""
    old, new = str(staging), str(prefix)
    for script in (staging / "bin").iterdir():
        if not script.is_file() or script.is_symlink():
            continue
        try:
            with script.open("rb") as fh:
                head = fh.read(2)
            if head != b"#!" and not script.name.startswith("activate"):
                continue
            text = script.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue  # a binary: nothing to rewrite
        if old in text:
            mode = script.stat().st_mode
            script.write_text(text.replace(old, new), encoding="utf-8")
            os.chmod(script, mode)


def _clean_legacy_staging(prefix: Path, progress: Progress) -> None:
    """Remove what venv installs before the shared lock left when killed: `<prefix>.new-XXXXXXXX` folders
    (and an `<prefix>.old-XXXXXXXX`, put back when the prefix itself is gone)."""
    parent = prefix.parent
    if not parent.is_dir():
        return
    pattern = re.compile(rf"{re.escape(prefix.name)}\.(new|old)-[0-9a-f]{{8}}")
    for leftover in sorted(parent.iterdir()):
        match = pattern.fullmatch(leftover.name)
        if not match or not (leftover / "pyvenv.cfg").is_file():
            continue
        if match.group(1) == "old" and not prefix.exists():
            leftover.rename(prefix)
            progress(f"install: restored {prefix} (an earlier install was interrupted)")
            continue
        progress(f"install: removing {leftover.name} (left by an interrupted install)")
        shutil.rmtree(leftover, ignore_errors=True)


