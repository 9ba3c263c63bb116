"""Issue 12: hostile input, root and odd targets. Nothing overwritten, nothing leaked, nothing unbounded.

Root-only tests run in CI (which is root); those that touch device nodes make
their own in a private mount namespace or under tmp_path, never in the real /dev.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from dldoctor.errors import ExitCode, OutputError
from dldoctor.output import is_stamped, stamped, write_atomic, write_output

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

ROOT = os.geteuid() == 0
root_only = pytest.mark.skipif(not ROOT, reason="needs root (CI is root)")


def dld(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "dldoctor", *args], capture_output=True, text=True,
                          timeout=timeout, env=full_env, check=False)


def one_line_error(proc: subprocess.CompletedProcess[str], code: int) -> str:
    assert proc.returncode == code, (proc.returncode, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dldoctor: error:"), proc.stderr
    return lines[0]


# ---- 1. writes: devices, FIFOs and `-` are written to, never replaced; temporaries never follow links ----


def _read_fifo(path: Path, into: list[bytes]) -> threading.Thread:
    def reader() -> None:
        with open(path, "rb") as fh:
            into.append(fh.read())

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    return thread


def test_write_output_to_a_fifo_writes_into_it(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    thread = _read_fifo(fifo, got)
    write_output(fifo, '{"a": 1}\n')
    thread.join(10)
    assert got == [b'{"a": 1}\n']
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe"]


def test_write_output_to_a_fifo_without_reader_does_not_hang(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dldoctor import output

    monkeypatch.setattr(output, "FIFO_WAIT_S", 0.3)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(OutputError, match="no reader"):
        write_output(fifo, "x")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_snapshot_to_dev_stdout_and_dash_writes_to_standard_output(tmp_path: Path) -> None:
    for target in ("-", "/dev/stdout"):
        proc = dld("snapshot", "-o", target, "--timeout", "2")
        assert proc.returncode == 0, proc.stderr
        assert '"schema": "dldoctor.snapshot/1"' in proc.stdout, target
    assert os.path.islink("/dev/stdout") or not os.path.isfile("/dev/stdout")
    assert not Path("-").exists()


def test_snapshot_into_a_fifo(tmp_path: Path) -> None:
    fifo = tmp_path / "snap.fifo"
    os.mkfifo(fifo)
    got: list[bytes] = []
    thread = _read_fifo(fifo, got)
    proc = dld("snapshot", "-o", str(fifo), "--timeout", "2")
    thread.join(30)
    assert proc.returncode == 0, proc.stderr
    assert got and b"dldoctor.snapshot/1" in got[0]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_write_output_through_a_link_to_a_regular_file_keeps_the_link(tmp_path: Path) -> None:
    real = tmp_path / "real.json"
    real.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    write_output(link, "new\n")
    assert link.is_symlink() and real.read_text() == "new\n"


def test_write_atomic_keeps_the_mode_and_refuses_links(tmp_path: Path) -> None:
    target = tmp_path / "f.txt"
    target.write_text("old")
    target.chmod(0o644)
    write_atomic(target, "new")
    assert target.read_text() == "new" and stat.S_IMODE(target.stat().st_mode) == 0o644
    victim = tmp_path / "victim"
    victim.write_text("precious")
    link = tmp_path / "link"
    link.symlink_to(victim)
    with pytest.raises(OutputError, match="symbolic link"):
        write_atomic(link, "evil")
    assert victim.read_text() == "precious" and link.is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.txt", "link", "victim"]


@root_only
def test_snapshot_to_a_character_device_as_root_writes_to_it(tmp_path: Path) -> None:
    """`-o /dev/null` as root: in a private mount namespace, a fresh tmpfs /dev holding only a null node."""
    if shutil.which("unshare") is None:
        pytest.skip("unshare is not installed")
    script = (
        "set -e; mount -t tmpfs none /dev; mknod -m 666 /dev/null c 1 3; "
        f"{sys.executable} -m dldoctor snapshot -o /dev/null --timeout 2; "
        "test -c /dev/null && stat -c %a /dev/null"
    )
    proc = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                          capture_output=True, text=True, timeout=120, check=False)
    if proc.returncode != 0 and "unshare" in proc.stderr and "Operation not permitted" in proc.stderr:
        pytest.skip(f"no mount namespace here: {proc.stderr.strip()}")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("666")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_stamp_tells_an_edit_from_dldoctors_own() -> None:
    text = stamped("# header\ntorch==2.7.1\n")
    assert is_stamped(text)
    assert not is_stamped(text.replace("2.7.1", "2.7.2"))
    assert not is_stamped("# header\ntorch==2.7.1\n")


def _venv_plan(tmp_path: Path):  # type: ignore[no-untyped-def]
    from tests.test_setup_venv import plan_for

    return plan_for("gtx1080ti-sm61-torch-cu130", tmp_path, "pytorch==2.7.1")


def test_requirements_in_edited_by_hand_is_refused_with_the_way_out(tmp_path: Path) -> None:
    from dldoctor.setup.venv.backend import VenvBackend

    plan = _venv_plan(tmp_path)
    backend = VenvBackend()
    spec = backend.write_spec(plan, lambda _m: None)
    path = spec.files[0]
    assert is_stamped(path.read_text())
    backend.write_spec(plan, lambda _m: None)  # unchanged: fine
    path.write_text(path.read_text().replace("torch==2.7.1", "torch==2.7.1\nevil-package"))
    with pytest.raises(OutputError, match="edited since: move it, or pass --out DIR"):
        backend.write_spec(plan, lambda _m: None)
    assert "evil-package" in path.read_text()


def test_setup_files_never_follow_a_planted_link(tmp_path: Path) -> None:
    from dldoctor.setup.docker.backend import write_dockerfile
    from dldoctor.setup.venv.backend import VenvBackend

    plan = _venv_plan(tmp_path)
    out = plan.out_dir
    out.mkdir(parents=True)
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    # The old fixed temporary names, and the final names, all planted as links to the victim.
    for name in ("Dockerfile.tmp", ".environment.yml.tmp", "requirements.in"):
        (out / name).symlink_to(victim)
    with pytest.raises(OutputError, match="symbolic link"):
        VenvBackend().write_spec(plan, lambda _m: None)
    (out / "Dockerfile").symlink_to(victim)
    with pytest.raises(OutputError, match="symbolic link"):
        write_dockerfile(out / "Dockerfile", "# Rendered by dldoctor\nFROM x\n")
    (out / "Dockerfile").unlink()
    write_dockerfile(out / "Dockerfile", "# Rendered by dldoctor\nFROM x\n")
    assert (out / "Dockerfile").read_text().startswith("# Rendered by dldoctor")
    assert victim.read_text() == "precious\n"
    assert not [p.name for p in out.iterdir() if p.name.startswith(".Dockerfile.")]


def test_conda_spec_never_follows_a_planted_link(tmp_path: Path) -> None:
    pytest.importorskip("rattler")
    from dldoctor.setup.conda.backend import CondaBackend
    from dldoctor.setup.plan import SetupRequest, make_plan
    from tests.test_setup_venv import facts_of

    request = SetupRequest(framework="pytorch", backend="conda", variant="cpu", prefix=tmp_path / "env",
                           out_dir=tmp_path / "out")
    plan = make_plan(facts_of("cpu-only-laptop", tmp_path), request)
    plan.out_dir.mkdir(parents=True)
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    (plan.out_dir / ".environment.yml.tmp").symlink_to(victim)
    spec = CondaBackend().write_spec(plan, lambda _m: None)
    assert spec.files[0].is_file() and not spec.files[0].is_symlink()
    assert victim.read_text() == "precious\n"
    (plan.out_dir / "environment.yml").unlink()
    (plan.out_dir / "environment.yml").symlink_to(victim)
    with pytest.raises(OutputError, match="symbolic link"):
        CondaBackend().write_spec(plan, lambda _m: None)
    assert victim.read_text() == "precious\n"


@pytest.mark.parametrize("value", ["inf", "1e309", "nan", "-1", "0", "-inf"])
def test_timeout_out_of_range_is_a_usage_error(value: str) -> None:
    one_line_error(dld("snapshot", f"--timeout={value}"), ExitCode.USAGE)


# ---- 2. secrets: URL credentials never recorded; --redact also removes IP addresses from error text --------

CREDENTIAL_ENV = {
    "PIP_INDEX_URL": "https://alice:s3cr3t-pw@pypi.corp.example/simple",
    "PIP_EXTRA_INDEX_URL": "https://__token__:tok-XYZZY@download.pytorch.org/whl/cu126",
    "UV_INDEX_URL": "https://only-a-token-QWERTY@uv.example/simple",
}
SECRETS = ("alice", "s3cr3t-pw", "tok-XYZZY", "only-a-token-QWERTY")


@pytest.mark.parametrize("args", [("snapshot",), ("snapshot", "--redact"), ("check", "--json"),
                                  ("check", "--json", "--redact")])
def test_url_credentials_are_never_recorded(args: tuple[str, ...]) -> None:
    proc = dld(*args, "--timeout", "2", env=CREDENTIAL_ENV)
    assert proc.returncode in (0, 1), proc.stderr
    for secret in SECRETS:
        assert secret not in proc.stdout and secret not in proc.stderr, (args, secret)
    assert "https://<credentials>@pypi.corp.example/simple" in proc.stdout
    assert "uv.example/simple" in proc.stdout


def test_redact_removes_ip_addresses_from_error_text() -> None:
    from dldoctor.snapshot import redact_snapshot

    doc = {
        "schema": "dldoctor.snapshot/1", "host": {"hostname": "box", "user": "bob"},
        "docker": {"error": "Cannot connect to tcp://10.1.2.3:2375 or [2001:db8::7]:2376",
                   "server": {"version": "27.1.1"}},
        "probe_failures": [{"probe": "docker", "error": "dial tcp 192.168.7.40:443: i/o timeout"}],
        "frameworks": {"cudnn": "9.1.0.70"},
    }
    out = json.dumps(redact_snapshot(doc))
    for ip in ("10.1.2.3", "2001:db8::7", "192.168.7.40"):
        assert ip not in out
    assert "<ip>:2375" in out and "9.1.0.70" in out and "27.1.1" in out


def test_check_redact_on_a_snapshot_file(tmp_path: Path) -> None:
    snap = dld("snapshot", "--timeout", "2")
    doc = json.loads(snap.stdout)
    hostname = doc["host"].get("hostname")
    path = tmp_path / "s.json"
    path.write_text(snap.stdout)
    proc = dld("check", "--json", "--redact", "--snapshot", str(path))
    assert proc.returncode in (0, 1), proc.stderr
    report = json.loads(proc.stdout)
    assert report["snapshot"]["redacted"] is True
    if hostname and len(hostname) >= 3:
        assert hostname not in proc.stdout


# ---- 3. bounds: command output, snapshot files, numbers, nesting, escapes, parsed counts, one deadline ----


def _script(folder: Path, name: str, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)
    return path


def test_a_command_that_prints_forever_costs_a_bounded_amount_of_memory(tmp_path: Path) -> None:
    from dldoctor.runner import Runner

    flood = _script(tmp_path, "flood", "yes 0123456789abcdef")
    runner = Runner(max_output_bytes=1 << 20)
    result = runner.run([str(flood)], timeout_s=1.5)
    assert result.timed_out
    assert len(result.stdout) < (1 << 20) + 200
    assert "output truncated after 1048576 bytes" in result.stdout
    big = _script(tmp_path, "big", "yes x | tr -d '\\n' | head -c 3000000; echo; echo done >&2")
    result = runner.run([str(big)], timeout_s=20)
    assert result.ok and result.stderr == "done\n"
    assert result.stdout.startswith("x" * 1000) and "more dropped" in result.stdout


def test_runner_deadline_cuts_every_timeout(tmp_path: Path) -> None:
    import time

    from dldoctor.runner import Runner

    hang = _script(tmp_path, "hang", "exec sleep 60")
    runner = Runner(default_timeout_s=30)
    runner.deadline = time.monotonic() + 1.0
    started = time.monotonic()
    first, second = runner.run([str(hang)]), runner.run([str(hang)])
    assert first.timed_out and second.timed_out
    assert time.monotonic() - started < 5


def test_every_tool_hanging_costs_one_timeout_not_three(tmp_path: Path) -> None:
    import time

    from dldoctor.runner import Runner
    from dldoctor.snapshot import take_snapshot
    from tests.simulate import load_machine

    machine = load_machine("hanging-nvidia-smi", tmp_path, timeout_s=2.0)
    bin_dir = Path(machine.runner.env["PATH"])
    for tool in ("nvidia-smi", "docker", "conda", "pip", "uv", "rocm-smi", "nvcc", "ldconfig"):
        _script(bin_dir, tool, "exec sleep 60")
    assert isinstance(machine.runner, Runner)
    started = time.monotonic()
    take_snapshot(machine)
    assert time.monotonic() - started < 2.0 + 3.0


def _snap_file(tmp_path: Path, doc: object) -> Path:
    path = tmp_path / "snap.json"
    path.write_text(json.dumps(doc) if not isinstance(doc, str) else doc)
    return path


def _full_snapshot() -> dict[str, object]:
    from dldoctor.snapshot import SECTIONS

    return {"schema": "dldoctor.snapshot/1", **{name: None for name in SECTIONS}, "probe_failures": []}


def test_snapshot_of_dev_zero_a_fifo_and_a_huge_file_are_refused(tmp_path: Path) -> None:
    from dldoctor.snapshot import take as snap

    msg = one_line_error(dld("check", "--snapshot", "/dev/zero", timeout=60), ExitCode.INPUT)
    assert "MiB" in msg
    huge = tmp_path / "huge.json"
    with huge.open("wb") as fh:
        fh.truncate(100 * 1024 * 1024)
    assert "MiB" in one_line_error(dld("check", "--snapshot", str(huge)), ExitCode.INPUT)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    old = snap.PIPE_TIMEOUT_S
    snap.PIPE_TIMEOUT_S = 1.0
    try:
        with pytest.raises(Exception, match="within 1s"):  # no writer ever: refused, no hang
            snap.load_snapshot(fifo)
        # A FIFO with a writer that never finishes: refused after the pipe timeout.
        def writer() -> None:
            with open(fifo, "wb") as fh:
                fh.write(b'{"schema": ')
                fh.flush()
                import time

                time.sleep(3)

        thread = threading.Thread(target=writer, daemon=True)
        thread.start()
        with pytest.raises(Exception, match="within 1s") as info:
            snap.load_snapshot(fifo)
        assert getattr(info.value, "exit_code", None) == ExitCode.INPUT
        thread.join(5)
    finally:
        snap.PIPE_TIMEOUT_S = old
    # A FIFO that delivers a snapshot is read.
    got: list[object] = []

    def good_writer() -> None:
        with open(fifo, "w") as fh:
            fh.write(json.dumps(_full_snapshot()))

    thread = threading.Thread(target=good_writer, daemon=True)
    thread.start()
    got.append(snap.load_snapshot(fifo))
    thread.join(5)
    assert isinstance(got[0], dict)


def test_huge_numbers_and_deep_nesting_are_input_errors(tmp_path: Path) -> None:
    doc = _full_snapshot()
    text = json.dumps(doc)[:-1] + ', "n": ' + "9" * 5000 + "}"
    one_line_error(dld("check", "--snapshot", str(_snap_file(tmp_path, text))), ExitCode.INPUT)
    deep = json.dumps(doc)[:-1] + ', "x": ' + "[" * 100000 + "]" * 100000 + "}"
    one_line_error(dld("check", "--snapshot", str(_snap_file(tmp_path, deep))), ExitCode.INPUT)
    medium = json.dumps(doc)[:-1] + ', "x": ' + "[" * 500 + "]" * 500 + "}"
    one_line_error(dld("check", "--snapshot", str(_snap_file(tmp_path, medium))), ExitCode.INPUT)


def test_a_snapshot_without_its_sections_is_an_input_error(tmp_path: Path) -> None:
    msg = one_line_error(dld("check", "--snapshot", str(_snap_file(tmp_path, {"schema": "dldoctor.snapshot/1"}))),
                         ExitCode.INPUT)
    assert "nvidia" in msg and "frameworks" in msg
    doc = _full_snapshot()
    doc["nvidia"] = [1, 2]
    assert "nvidia" in one_line_error(dld("check", "--snapshot", str(_snap_file(tmp_path, doc))), ExitCode.INPUT)
    proc = dld("check", "--snapshot", str(_snap_file(tmp_path, _full_snapshot())))
    assert proc.returncode in (0, 1) and "Traceback" not in proc.stderr


def test_terminal_escapes_in_a_snapshot_are_never_printed(tmp_path: Path) -> None:
    snap = json.loads(dld("snapshot", "--timeout", "2").stdout)
    evil = "Evil\u001b]0;pwned\u0007GPU\u001b[2J\u009b31m"
    snap["host"]["os"] = evil
    snap["probe_failures"] = [{"probe": "nvidia", "error": evil}]
    if isinstance(snap.get("nvidia"), dict):
        snap["nvidia"]["gpus"] = [{"index": 0, "name": evil}]
    path = _snap_file(tmp_path, snap)
    for args in (("check", "--snapshot", str(path)), ("-v", "check", "--snapshot", str(path))):
        proc = dld(*args, env={"FORCE_COLOR": "", "NO_COLOR": "1"})
        assert proc.returncode in (0, 1), proc.stderr
        for ch in ("\u001b", "\u0007", "\u009b"):
            assert ch not in proc.stdout and ch not in proc.stderr


def test_nvidia_smi_garbage_is_a_parse_failure_not_769_gpus(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from dldoctor.probes import Notes
    from dldoctor.probes.nvidia import _from_nvidia_smi
    from dldoctor.runner import Runner

    bin_dir = tmp_path / "bin"
    _script(bin_dir, "nvidia-smi", "i=0; while [ $i -lt 769 ]; do echo \"$i, junk, GPU-x, 00000000:01:00.0, 1, 2, "
                                   "Enabled, 8.0\"; i=$((i+1)); done")
    machine = SimpleNamespace(runner=Runner(env={"PATH": str(bin_dir)}))
    for pci in ([{"bus_id": "0000:01:00.0"}], []):
        notes = Notes()
        result: dict[str, object] = {"pci_devices": pci, "driver_version": None, "sources": {}, "gpus": []}
        _from_nvidia_smi(machine, notes, result)  # type: ignore[arg-type]
        assert result["gpus"] == []
        assert any("not understood" in f.error for f in notes.failures), notes.failures


# ---- fuzz: the snapshot reader and every rule, with huge numbers, nesting and control characters ----------

def _strategies() -> tuple[SearchStrategy[str], SearchStrategy[Any]]:
    from hypothesis import strategies as st

    evil_text = st.text(alphabet=st.sampled_from(["a", "1", ".", "\u001b", "]", "\u0007", "\u009b", "\x00", "[",
                                                  "\n", "é", "@", ":", "/"]), max_size=20)
    scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), evil_text,
                        st.integers(min_value=10**100, max_value=10**200))
    trees = st.recursive(scalars, lambda kids: st.one_of(st.lists(kids, max_size=3),
                                                         st.dictionaries(evil_text, kids, max_size=3)),
                         max_leaves=15)
    return evil_text, trees


def test_fuzz_snapshot_reader_and_rules(tmp_path: Path) -> None:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from dldoctor.check import diagnose
    from dldoctor.errors import InputError
    from dldoctor.render import render_check
    from dldoctor.snapshot import SECTIONS, load_snapshot

    evil_text, trees = _strategies()
    path = tmp_path / "fuzz.json"

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(sections=st.dictionaries(st.sampled_from(SECTIONS), trees, max_size=len(SECTIONS)),
           extra=st.sampled_from(["", '"n": ' + "7" * 5000 + ",", '"d": ' + "[" * 3000 + "]" * 3000 + ",",
                                  '"s": "\\u001b]0;x\\u0007",']),
           all_sections=st.booleans())
    def check(sections: dict[str, object], extra: str, all_sections: bool) -> None:
        doc: dict[str, object] = {name: None for name in SECTIONS} if all_sections else {}
        doc.update(sections)
        body = json.dumps({"schema": "dldoctor.snapshot/1", **doc, "probe_failures": []})
        path.write_text("{" + extra + body[1:])
        try:
            loaded = load_snapshot(path)
        except InputError:
            return
        report = diagnose(loaded)
        for line in render_check(report, 2):
            assert not any(ch in line for ch in ("\u001b", "\u0007", "\u009b", "\x00")), line

    check()


# ---- kills and concurrency, venv backend: the conda backend's flock, leftover cleaning and restore -----------


def _venv_setup(tmp_path: Path, fake: object):  # type: ignore[no-untyped-def]
    from dataclasses import replace

    from tests.test_setup_venv import HERE_PY, _backend, plan_for

    plan = replace(plan_for("gtx1080ti-sm61-torch-cu130", tmp_path, "pytorch==2.7.1", python=HERE_PY), glibc="2.35")
    return plan, _backend(tmp_path, fake, "pip")  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def fake_wheels(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from tests.test_setup_venv import FakeIndex

    return FakeIndex(tmp_path_factory.mktemp("fake-index"))


def _needs_cp311() -> None:
    from tests.test_setup_venv import HERE_PY

    if HERE_PY != "3.11":
        pytest.skip("the fake wheels are cp311")


def test_two_venv_setups_into_one_prefix_the_second_is_refused(tmp_path: Path, fake_wheels: object) -> None:
    _needs_cp311()
    from dldoctor.errors import UnavailableError
    from dldoctor.setup.pipeline import run_setup
    from dldoctor.setup.staging import prefix_lock

    plan, backend = _venv_setup(tmp_path, fake_wheels)
    with prefix_lock(plan.prefix.absolute()), pytest.raises(UnavailableError, match="another dldoctor"):
        run_setup(plan, backend, lambda _m: None, verify=False)
    assert not plan.prefix.exists()


def test_venv_leftovers_are_removed_and_a_kill_between_the_renames_is_undone(tmp_path: Path,
                                                                           fake_wheels: object) -> None:
    _needs_cp311()
    from dldoctor.setup.pipeline import run_setup
    from tests.test_setup_venv import _venv_torch

    plan, backend = _venv_setup(tmp_path, fake_wheels)
    run_setup(plan, backend, lambda _m: None, verify=False)
    prefix = plan.prefix
    # What kills leave: a staging venv (shared name and the old venv-only name), and the old environment
    # moved aside with nothing at the prefix (killed between the two renames).
    for name in (f".{prefix.name}.dldoctor-new-4242", f"{prefix.name}.new-deadbeef"):
        (prefix.parent / name).mkdir()
        (prefix.parent / name / "pyvenv.cfg").write_text("home = /usr\n")
        (prefix.parent / name / "big").write_bytes(b"\0" * 1_000_000)
    prefix.rename(prefix.parent / f".{prefix.name}.dldoctor-old-4243")
    said: list[str] = []
    run_setup(plan, backend, said.append, verify=False)
    assert any("restored" in line for line in said), said
    assert _venv_torch(prefix) == "2.7.1+cu126"
    left = sorted(p.name for p in prefix.parent.iterdir() if "new-" in p.name or "old-" in p.name)
    assert left == [], left


KILLER = """
import os
import sys
from dataclasses import replace
from pathlib import Path
from dldoctor.setup.pipeline import run_setup
from tests.test_setup_venv import HERE_PY, FakeIndex, _backend, plan_for
tmp = Path(sys.argv[1])
index = FakeIndex(tmp / f"index-{os.getpid()}")  # a new index each run: a new lock, so a real reinstall
plan = replace(plan_for("gtx1080ti-sm61-torch-cu130", tmp, sys.argv[2], python=HERE_PY), glibc="2.35")
run_setup(plan, _backend(tmp, index, "pip"), print, verify=False)
"""


def test_venv_setup_killed_at_random_points_keeps_the_old_environment(tmp_path: Path) -> None:
    _needs_cp311()
    import random
    import signal
    import time

    from tests.test_setup_venv import _venv_torch

    root = Path(__file__).resolve().parent.parent
    args = [sys.executable, "-c", KILLER, str(tmp_path)]
    first = subprocess.run([*args, "pytorch==2.7.1"], capture_output=True, text=True, timeout=300, cwd=root,
                           check=False)
    assert first.returncode == 0, first.stderr[-2000:]
    prefix = tmp_path / "env"
    assert _venv_torch(prefix) == "2.7.1+cu126"
    rng = random.Random(12)
    for _ in range(4):
        # Force a reinstall (a new lock) and kill it somewhere along the way.
        # dldoctor alone, as the OOM killer does: its pip/venv children must die with it (PR_SET_PDEATHSIG),
        # or they go on writing into the staging folder after the next run has cleaned it.
        proc = subprocess.Popen([*args, "pytorch==2.7.1"], cwd=root, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.05, 2.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if (prefix / "pyvenv.cfg").is_file():
            assert _venv_torch(prefix) == "2.7.1+cu126"  # the old environment (or the whole new one) works
        else:  # killed between the two renames: the old one waits beside it, put back by the next run
            assert list(tmp_path.glob(".env.dldoctor-old-*")), sorted(p.name for p in tmp_path.iterdir())
    done = subprocess.run([*args, "pytorch==2.7.1"], capture_output=True, text=True, timeout=300, cwd=root,
                          check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert _venv_torch(prefix) == "2.7.1+cu126"
    left = sorted(p.name for p in tmp_path.iterdir() if "new-" in p.name or "old-" in p.name)
    assert left == [], left
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("args", [("--python=",), ("--prefix=",), ("--timeout=nan",), ("--timeout=inf",),
                                  ("--timeout=1e309",), ("--timeout=-1",)])
def test_smoke_empty_target_or_odd_timeout_is_a_usage_error(args: tuple[str, ...]) -> None:
    one_line_error(dld("smoke", *args), ExitCode.USAGE)


def test_a_100kb_path_argument_is_an_error_not_a_crash(tmp_path: Path) -> None:
    long = "a" * 100_000
    one_line_error(dld("check", "--snapshot", long), ExitCode.INPUT)
    one_line_error(dld("check", "--python", long), ExitCode.INPUT)
    one_line_error(dld("snapshot", "--timeout", "2", "-o", str(tmp_path / long)), ExitCode.OUTPUT)


def test_smoke_python_that_hangs_is_refused_quickly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    from dldoctor.errors import TimeoutExpired
    from dldoctor.smoke import run as smoke_run
    from dldoctor.smoke.target import SmokeOptions, SmokeTarget

    monkeypatch.setattr(smoke_run, "INTERPRETER_ANSWER_S", 1.0)
    hang = _script(tmp_path, "hang.sh", "exec sleep 600")
    started = time.monotonic()
    with pytest.raises(TimeoutExpired, match="not a working Python interpreter"):
        smoke_run.run_smoke(SmokeTarget("python", str(hang)), SmokeOptions(quick=True, timeout_s=300))
    assert time.monotonic() - started < 20


def test_a_command_dies_with_dldoctor(tmp_path: Path) -> None:
    """A SIGKILL of dldoctor takes the command it runs along (PR_SET_PDEATHSIG), even in its own session."""
    import signal
    import time

    pid_file = tmp_path / "child.pid"
    script = (
        "import sys; from dldoctor.runner import Runner\n"
        f"Runner().run(['sh', '-c', 'echo $$ > {pid_file}; exec sleep 60'], timeout_s=60)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.monotonic() + 20
    while not (pid_file.is_file() and pid_file.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.05)
    child = int(pid_file.read_text())
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while Path(f"/proc/{child}").exists() and time.monotonic() < deadline:
        stat_text = Path(f"/proc/{child}/stat").read_text() if Path(f"/proc/{child}/stat").exists() else ""
        if ") Z " in stat_text:  # a zombie waiting for its reaper is dead
            break
        time.sleep(0.05)
    alive = Path(f"/proc/{child}/stat").exists() and ") Z " not in Path(f"/proc/{child}/stat").read_text()
    assert not alive, f"the command (pid {child}) outlived dldoctor"
