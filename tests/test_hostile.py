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

import pytest

from dldoctor.errors import ExitCode, OutputError
from dldoctor.output import is_stamped, stamped, write_atomic, write_output

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


def test_write_output_to_a_fifo_without_reader_does_not_hang(tmp_path: Path) -> None:
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
    from dldoctor.setup.venv import VenvBackend

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
    from dldoctor.setup.docker import write_dockerfile
    from dldoctor.setup.venv import VenvBackend

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
    from dldoctor.setup.conda import CondaBackend
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
