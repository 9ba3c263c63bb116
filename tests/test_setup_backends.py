"""Which backend can work here: one function (`usable_backend`) for `setup`'s default and `check`'s advice.

Real probes against real local servers: an HTTP server that answers, a port
nobody listens on, a server that accepts and never answers; local channel
and wheel folders; pip's configuration read by pip itself.
"""

from __future__ import annotations

import http.server
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dldoctor.rules.recommend import setup_command
from dldoctor.runner import Runner
from dldoctor.setup.choose import BackendChoice, configured_sources, probe, usable_backend
from dldoctor.setup.conda.solve import channel_error
from dldoctor.variants import Choice
from tests.channels import pytorch_channel

ROOT = Path(__file__).resolve().parents[1]
CLOSED = "http://127.0.0.1:9"  # the discard port: nothing listens there


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # the base class's name
        pass


@pytest.fixture(autouse=True)
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Each test its own probe memory (in-process and on disk)."""
    (tmp_path / "cache").mkdir()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    probe.cache_clear()
    yield tmp_path / "cache"
    probe.cache_clear()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real HTTP server over a folder with a PEP 503-looking `whl/cpu/` and a conda `noarch/repodata.json`."""
    root = tmp_path_factory.mktemp("served")
    (root / "whl" / "cpu").mkdir(parents=True)
    (root / "whl" / "cpu" / "index.html").write_text("<a href='torch/'>torch</a>\n")
    (root / "forge" / "noarch").mkdir(parents=True)
    (root / "forge" / "noarch" / "repodata.json").write_text("{}")
    handler = lambda *a, **kw: _Quiet(*a, directory=str(root), **kw)  # noqa: E731
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()


@pytest.fixture()
def silent_server() -> Iterator[str]:
    """Accepts connections and never answers (a black-holed mirror)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()


def _no_pip_config(tmp_path: Path, **extra: str) -> Runner:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_"))}
    return Runner(env={**env, "PIP_CONFIG_FILE": os.devnull, **extra})


def test_probe_answers_refuses_and_times_out(server: str, silent_server: str, tmp_path: Path) -> None:
    assert probe(f"{server}/forge/noarch/repodata.json").ok
    missing = probe(f"{server}/nothing/here")
    assert not missing.ok and missing.detail == "HTTP 404"
    refused = probe(f"{CLOSED}/x")
    assert not refused.ok and "refused" in refused.detail.lower()
    started = time.monotonic()
    silent = probe(f"{silent_server}/x", 0.5)
    assert not silent.ok and "timed out" in silent.detail and time.monotonic() - started < 5
    assert probe(str(tmp_path)).ok and probe(tmp_path.as_uri()).ok
    assert not probe(str(tmp_path / "absent")).ok


def test_conda_when_its_channel_answers(server: str, tmp_path: Path) -> None:
    choice = usable_backend("pytorch", "cpu", "cpu", "2.5", channel=f"{server}/forge")
    assert choice.name == "conda" and choice.usable and choice.args() == []
    local = pytorch_channel(tmp_path / "forge", subdirs=("linux-64",), versions=("2.5.1",))
    assert usable_backend("pytorch", "cpu", "cpu", "2.5", channel=str(local)).name == "conda"


def test_venv_when_no_channel_answers_but_an_index_does(server: str, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DLDOCTOR_TORCH_INDEX", f"{server}/whl")
    choice = usable_backend("pytorch", "cpu", "cpu", "2.5", channel=f"{CLOSED}/forge", runner=_no_pip_config(tmp_path))
    assert choice.name == "venv" and choice.usable and choice.args() == ["--backend", "venv"]
    assert choice.why.startswith("conda: no channel reachable (127.0.0.1: ") and "— using venv (127.0.0.1: HTTP 200)" \
        in choice.why, choice.why


def test_pips_configured_find_links_folder_makes_venv_usable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DLDOCTOR_TORCH_INDEX", f"{CLOSED}/whl")
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    (wheels / "torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl").write_bytes(b"")
    config = tmp_path / "pip.conf"
    config.write_text(f"[global]\nfind-links = {wheels}\n")
    runner = _no_pip_config(tmp_path, PIP_CONFIG_FILE=str(config))
    assert configured_sources(runner) == ((), (str(wheels),))  # read by pip itself
    choice = usable_backend("pytorch", "cpu", "cpu", "2.14", channel=f"{CLOSED}/forge", runner=runner)
    assert choice.name == "venv" and choice.find_links == (str(wheels),)
    assert choice.args() == ["--backend", "venv", "--find-links", str(wheels)]
    assert 'holds torch 2.13.0+cpu, not 2.14: ask for "pytorch==2.13.0"' in choice.why
    # a folder without the variant's build does not count (PyPI's Linux torch is a CUDA build)
    assert not usable_backend("pytorch", "cuda", "cu126", "2.13", channel=f"{CLOSED}/forge", runner=runner).usable


def test_nothing_reachable_says_both_reasons(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DLDOCTOR_TORCH_INDEX", f"{CLOSED}/whl")
    choice = usable_backend("pytorch", "cpu", "cpu", "2.5", channel=f"{CLOSED}/forge", runner=_no_pip_config(tmp_path))
    assert not choice.usable and choice.name == "conda"
    assert "conda: no channel reachable" in choice.why and "venv: no package index reachable" in choice.why


def test_rocm_never_goes_to_conda(server: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DLDOCTOR_TORCH_INDEX", f"{server}/whl")
    choice = usable_backend("pytorch", "rocm", "cpu", "2.5", channel=f"{server}/forge", runner=_no_pip_config(tmp_path))
    assert choice.name == "venv" and "ROCm builds are not published on conda channels" in choice.why


def test_check_words_the_backend_setup_would_pick() -> None:
    choice = Choice("pytorch", "2.14", "cpu", "no GPU")
    venv = BackendChoice("venv", "why", find_links=("/opt/my wheels",))
    assert setup_command(choice, venv) == "dldoctor setup pytorch --backend venv --find-links '/opt/my wheels' --variant cpu"
    assert setup_command(choice, BackendChoice("conda", "why")) == "dldoctor setup pytorch --variant cpu"


def test_channel_error_chain_becomes_one_line_with_the_next_step() -> None:
    chain = ("error sending request for url (https://conda.anaconda.org/conda-forge/linux-64/repodata_shards.msgpack.zst)"
             " Caused by: client error (Connect) Caused by: dns error Caused by: failed to lookup address information:"
             " Name or service not known")
    line = channel_error(("conda-forge",), chain)
    assert line.startswith("cannot read the conda channel conda-forge (conda.anaconda.org: failed to lookup address "
                           "information: Name or service not known): give --channel URL")
    assert "--backend venv" in line and "Caused by" not in line and "\n" not in line


def test_setup_on_an_unreachable_channel_fails_in_one_line_naming_the_next_step(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "dldoctor", "setup", "pytorch==2.5", "--backend", "conda", "--variant", "cpu",
         "--channel", f"{CLOSED}/forge", "--out", str(tmp_path / "out"), "--prefix", str(tmp_path / "env"),
         "--lock-only"], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 8, done.stderr
    errors = [ln for ln in done.stderr.splitlines() if ln.startswith("dldoctor: error:")]
    assert len(errors) == 1 and "--channel URL" in errors[0] and "--backend venv" in errors[0], done.stderr
    assert "Caused by" not in done.stderr and "Traceback" not in done.stderr
    assert "wrote" not in done.stderr  # the spec was rolled back: never said to be written
    assert not (tmp_path / "out" / "environment.yml").exists()


def _dry_run(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> dict[str, object]:
    import json

    done = subprocess.run([sys.executable, "-m", "dldoctor", "setup", "pytorch==2.5", "--variant", "cpu", "--dry-run",
                           "--json", "--out", str(tmp_path), *args], capture_output=True, text=True, timeout=120,
                          cwd=ROOT, env=env)
    assert done.returncode == 0, done.stderr
    plan: dict[str, object] = json.loads(done.stdout)["plan"]
    return plan


def test_setups_default_backend_is_the_usable_one(server: str, tmp_path: Path) -> None:
    plan = _dry_run(tmp_path, "--channel", f"{server}/forge")
    assert plan["backend"] == "conda"
    env = {**_no_pip_config(tmp_path).env, "DLDOCTOR_TORCH_INDEX": f"{server}/whl"}
    plan = _dry_run(tmp_path, "--channel", f"{CLOSED}/forge", env=env)
    assert plan["backend"] == "venv"
    reasons = {r["choice"]: r["why"] for r in plan["reasons"]}  # type: ignore[attr-defined]
    assert reasons["backend venv"].startswith("conda: no channel reachable"), reasons
    # asked for by name: no probe decides
    assert _dry_run(tmp_path, "--backend", "conda", "--channel", f"{CLOSED}/forge")["backend"] == "conda"


def test_a_remote_answer_is_remembered_for_ten_minutes(own_cache: Path) -> None:
    import json

    url = f"{CLOSED}/remembered"
    assert not probe(url).ok  # refused, and written down
    doc = json.loads((own_cache / "dldoctor" / "reach.json").read_text())
    assert doc[url]["ok"] is False and "refused" in doc[url]["detail"].lower()
    doc[url].update(ok=True, detail="HTTP 200")  # what an earlier run saw
    (own_cache / "dldoctor" / "reach.json").write_text(json.dumps(doc))
    probe.cache_clear()
    assert probe(url).ok  # reused, not asked again
    doc[url]["at"] -= 601
    (own_cache / "dldoctor" / "reach.json").write_text(json.dumps(doc))
    probe.cache_clear()
    assert not probe(url).ok  # too old: asked again


def test_no_cache_root_is_made_where_there_is_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "no-such-cache"))
    assert not probe(f"{CLOSED}/nowhere").ok
    assert not (tmp_path / "no-such-cache").exists()
