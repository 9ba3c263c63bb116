"""`dldoctor triage`: real pasted outputs from public issues must get the verdict an expert gives.

Each fixture in tests/triage/ is program output copied from the issue named on
its first line (personal names and paths replaced). The expected cause was
derived from the report and the compatibility reference, not from dldoctor's
output: a wrong verdict is a bug in dldoctor.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from dldoctor.errors import ExitCode, InputError
from dldoctor.triage import TRIAGE_SCHEMA, decode, triage
from dldoctor.triage.gpu_models import capability
from dldoctor.triage.parse import parse
from dldoctor.triage.render import render_markdown, render_text

HERE = Path(__file__).resolve().parent / "triage"

#: fixture -> (status, the one cause or None, why an expert says so)
EXPECTED: dict[str, tuple[str, str | None, str]] = {
    "fooocus-1313-rtx3050-driver470-too-old": (
        "error", "driver.too-old-for-framework",
        "PyTorch says the driver's CUDA (11040 = 11.4, driver 470.86) is older than its build's"),
    "ogkm-47-nvml-mismatch-570": (
        "error", "driver.library-mismatch", "NVML 570.124 user space over another kernel module"),
    "shine-cluster-30-nvml-mismatch-slurm": (
        "error", "driver.library-mismatch", "unattended-upgrade replaced the user-space driver under a loaded module"),
    "yuan2-65-driver-cuda110-too-old": (
        "error", "driver.too-old-for-framework", "the driver supports CUDA 11.0 only; the container's PyTorch is newer"),
    "pytorch-149845-rtx5090d-no-kernel-image": (
        "error", "frameworks.capability-not-compiled", "no kernel image: the build lacks the GPU's architecture"),
    "kokoro-306-rtx5060ti-sm120-docker": (
        "error", "frameworks.capability-not-compiled", "sm_120 not in sm_50..sm_90: a cu12.8+ build is needed"),
    "applio-1006-rtx5090-windows-sm120": (
        "error", "frameworks.capability-not-compiled", "sm_120 not in the build's list"),
    "wpfs-3-a100-sm80-torch1101": (
        "error", "frameworks.capability-not-compiled", "a CUDA 10.2 build (sm_37..sm_70) on an A100 (sm_80)"),
    "slicer-58-rtx5070-laptop-sm120-compute37": (
        "error", "frameworks.capability-not-compiled", "compute_37 PTX cannot JIT to sm_120"),
    "ragflow-4466-nvjitlink-cuda121-ld-library-path": (
        "error", "cuda.ld-library-path-shadows", "ldd shows libnvJitLink from /usr/local/cuda-12.1 on LD_LIBRARY_PATH"),
    "onediff-1061-nvjitlink-4x3090ti-collect-env": (
        "error", "cuda.ld-library-path-shadows", "an older system libnvJitLink loads before torch's pip one"),
    "colab-2626-cudnn-805-vs-810": (
        "error", "cuda.cudnn-too-old", "cuDNN 8.0.5 loaded, 8.1.0 needed"),
    "deeplab2-66-cudnn-804-vs-810": (
        "error", "cuda.cudnn-too-old", "cuDNN 8.0.4 loaded, 8.1.0 needed"),
    "tf-60854-libcudnn8-not-found-tf28": (
        "error", "frameworks.tensorflow-missing-cuda-libs", "TF 2.8 cannot dlopen libcudnn.so.8"),
    "pytorch-164346-hip-invalid-device-function-rocm70": (
        "error", "amd.gfx-not-in-build", "the ROCm 7.0 nightly has no kernels for the GPU (gfx1151)"),
    "nvidia-docker-1711-container-cli-libnvidia-ml-host-530": (
        "error", "containers.docker-no-nvidia-runtime",
        "nvidia-smi works on the host; the container toolkit cannot load libnvidia-ml"),
    "libnvidia-container-231-rocky-no-libnvidia-ml": (
        "error", "driver.not-installed", "no libnvidia-ml.so.1 on the host: no driver installed"),
    "pytorch-51858-windows-gtx1050ti-torch201-cu117-ok": (
        "ok", None, "2.0.1+cu117 has sm_61, driver 535.98 runs CUDA 11.7; CUDA available: True"),
    "pytorch-74733-centos7-no-nvidia-driver-torch170-cu110": (
        "error", "driver.not-installed", "PyTorch found no NVIDIA driver"),
    "pytorch-40682-windows-2x-titan-rtx-torch150-cu101": (
        "ok", None, "1.5.0+cu101 has sm_75; driver 442.92 runs CUDA 10.1; CUDA available: Yes"),
    "wsl-11589-rtx3060-laptop-smi-545-driver-546": (
        "ok", None, "nvidia-smi alone, no error message: nothing to conclude but the facts"),
    "wsl-9254-torch1100-cu111-collect-env": (
        "ok", None, "a truncated collect_env with no GPU and no error: nothing is known to be wrong"),
    "pytorch-122924-windows-rtx4080-laptop-torch222-cpu": (
        "error", "frameworks.cpu-build-on-gpu-machine", "pip's torch 2.2.2 on Windows is the CPU build"),
    "pytorch-150168-ubuntu-ryzen-torch260-cpu-no-gpu": (
        "ok", None, "a CPU build on a machine with no NVIDIA GPU: what was asked for"),
    "bladebit-431-driver515-insufficient": (
        "error", "driver.too-old-for-framework", "the program's CUDA runtime is newer than driver 515's CUDA 11.7"),
    "nvgpu-15-titan-xp-driver450-smi": (
        "ok", None, "a healthy nvidia-smi table (TITAN Xp, driver 450.57), no error"),
    "remode-9-driver340-cuda7-insufficient": (
        "error", "driver.too-old-for-framework", "driver 340.93 cannot run the CUDA 7.0 runtime"),
    "pytorch-44106-rocm37-source-build-device-66a1": (
        "ok", None, "a ROCm source build that reports CUDA (HIP) available"),
    "vllm-35404-h100-driver580-nvcc131-new-format": (
        "warning", "cuda.toolkit-newer-than-driver", "nvcc 13.1 is newer than driver 580.105.08's CUDA 13.0"),
    "vllm-13497-rtx4090-driver535-torch251-cu121": (
        "ok", None, "2.5.1+cu121 has sm_89; driver 535.183.01 fully supports CUDA 12.1"),
    "vllm-11959-8x-h100-driver550-torch251-cu124": (
        "ok", None, "2.5.1+cu124 has sm_90; driver 550.127.05 fully supports CUDA 12.4"),
    "vllm-18272-a100-driver575-torch270-cu128": (
        "ok", None, "2.7.0+cu128 has sm_80; driver 575.51.03 supports CUDA 12.9, nvcc 12.9 included"),
    "vllm-17516-8x-h800-driver535-torch260-cu124": (
        "ok", None, "cu124 runs on 535 (CUDA 12.2) under minor-version compatibility; nvcc 12.1 is older"),
    "tf-49862-tf250-gtx1070-driver460-libcudart110": (
        "error", "frameworks.tensorflow-missing-cuda-libs", "TF 2.5 pip needs the CUDA 11 libraries installed"),
    "deepchem-2467-docker-v100-libcudart110": (
        "error", "frameworks.tensorflow-missing-cuda-libs", "TF 2.4 needs CUDA 11.0's libcudart; the image has 10.1"),
    "jax-12213-colab-t4-driver460-print-environment-info": (
        "ok", None, "JAX lists a GpuDevice; driver 460.32.03 on a T4: healthy"),
    "rocm-docker-89-rx6900xt-no-binary-for-gpu": (
        "error", "amd.gfx-not-in-build", "the ROCm 5.1.1 image's PyTorch has no code object for gfx1030"),
    "pytorch-145670-rx5700xt-gfx1010-torch27-rocm63": (
        "error", "amd.gfx-not-in-build", "gfx1010 is in no ROCm 6.3 wheel's target list"),
    "pytorch-45028-a100-sm80-driver450-torch-cu102": (
        "error", "frameworks.capability-not-compiled", "a build for sm_37..sm_70 on an A100 (sm_80)"),
    "sd-webui-docker-474-tesla-p4-no-nvidia-runtime": (
        "error", "containers.docker-no-nvidia-runtime", "nvidia-smi works on the host; Docker has no nvidia runtime"),
    "retinanet-278-rtx3090-driver455-no-nvidia-runtime": (
        "error", "containers.docker-no-nvidia-runtime", "nvidia-smi works on the host; Docker has no nvidia runtime"),
}

#: Open bugs: fixtures dldoctor still gets wrong, each with why. strict: the day one is fixed, its mark must go.
KNOWN_BUGS = {
    "pytorch-40682-windows-2x-titan-rtx-torch150-cu101": (
        "dldoctor's knowledge has no arch list for PyTorch 1.5 cu101 builds, so it warns "
        "frameworks.cannot-verify-build though the report says CUDA is available"),
}

FIXTURES = sorted(HERE.glob("*.txt"))


def _params() -> list[object]:
    return [pytest.param(p, marks=pytest.mark.xfail(strict=True, reason=KNOWN_BUGS[p.stem]))
            if p.stem in KNOWN_BUGS else p for p in FIXTURES]


def test_every_fixture_has_a_source_and_a_verdict() -> None:
    assert len(FIXTURES) >= 15
    for path in FIXTURES:
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith("source: https://github.com/"), path.name
        assert path.stem in EXPECTED, f"{path.name} has no expected verdict"


@pytest.mark.parametrize("path", _params(), ids=lambda p: p.stem)
def test_verdict(path: Path) -> None:
    status, cause, why = EXPECTED[path.stem]
    result = triage(path.read_text(encoding="utf-8"))
    got = result.cause.id if result.cause else None
    said = ", ".join(f"{f.id} ({f.severity.value})" for f in result.report.findings)
    assert (result.status, got) == (status, cause), f"{path.stem}: expected {status} {cause} ({why}); said {said}"


# --- parsers -----------------------------------------------------------------------------------------

COLLECT_ENV = """\
<details>
<summary>The output of <code>python collect_env.py</code></summary>

```text
PyTorch version: 2.1.0+cu118
Is debug build: False
CUDA used to build PyTorch: 11.8
ROCM used to build PyTorch: N/A

OS: Ubuntu 22.04.3 LTS (x86_64)
Python version: 3.10.12 (main, Jun 11 2023, 05:26:28) [GCC 11.4.0] (64-bit runtime)
Python platform: Linux-5.15.0-86-generic-x86_64-with-glibc2.35
Is CUDA available: True
CUDA runtime version: 12.2.140
GPU models and configuration: GPU 0: NVIDIA GeForce RTX 3090
Nvidia driver version: 535.104.05
cuDNN version: Probably one of the following:
/usr/lib/x86_64-linux-gnu/libcudnn.so.8.9.2
/usr/lib/x86_64-linux-gnu/libcudnn_ops_infer.so.8.9.2

Versions of relevant libraries:
[pip3] torch==2.1.0+cu118
[pip3] nvidia-cudnn-cu11==8.7.0.84
[conda] pytorch                   2.1.0           py3.11_cuda12.1_cudnn8.9.2_0    pytorch
```
</details>
"""


def _facts(text: str) -> dict[str, object]:
    parsed = parse(text)
    return {f.key: f.value for f in reversed(parsed.facts)}


def test_collect_env_inside_details_and_fence() -> None:
    facts = _facts(COLLECT_ENV)
    assert facts["torch_version"] == "2.1.0+cu118"
    assert facts["torch_cuda"] == "11.8"
    assert facts["torch_rocm"] == "none"
    assert facts["python"] == "3.10.12"
    assert facts["cuda_available"] == "True"
    assert facts["cuda_runtime"] == "12.2.140"
    assert facts["collect_env_gpu"] == {"index": 0, "name": "NVIDIA GeForce RTX 3090"}
    assert facts["driver_version"] == "535.104.05"
    assert facts["cudnn"] == {"version": "8.9.2", "path": "/usr/lib/x86_64-linux-gnu/libcudnn.so.8.9.2"}
    names = {f.value["name"] for f in parse(COLLECT_ENV).all("package")}
    assert {"torch", "nvidia-cudnn-cu11", "pytorch"} <= names


def test_collect_env_facts_carry_their_line() -> None:
    parsed = parse(COLLECT_ENV)
    fact = parsed.first("driver_version")
    assert fact is not None and fact.line == 16 and "535.104.05" in fact.text


def test_collect_env_becomes_a_partial_snapshot() -> None:
    result = triage(COLLECT_ENV)
    snap = result.snapshot
    assert snap["schema"] == "dldoctor.snapshot/1" and snap["source"] == "report"
    assert snap["nvidia"]["driver_version"] == "535.104.05"
    # collect_env does not print the driver's CUDA: NVIDIA's driver table gives it, and says so
    assert snap["nvidia"]["cuda_driver_version"] == "12.2"
    assert any(p["key"] == "cuda_driver_version" and p["parser"] == "NVIDIA driver table" for p in snap["provenance"])
    assert snap["nvidia"]["gpus"][0]["compute_capability"] == "8.6"
    torch = snap["frameworks"]["installed"][0]
    assert (torch["name"], torch["variant"], torch["cuda_version"]) == ("pytorch", "cuda", "11.8")
    assert snap["host"]["distro"]["id"] == "ubuntu" and snap["host"]["kernel"] == "5.15.0-86-generic"
    assert snap["cuda_toolkits"]["toolkits"][0]["version"] == "12.2.140"
    assert snap["provenance"] and all("line" in p for p in snap["provenance"])


NVIDIA_SMI = """\
+---------------------------------------------------------------------------------------+
| NVIDIA-SMI 535.104.05             Driver Version: 535.104.05   CUDA Version: 12.2     |
|-----------------------------------------+----------------------+----------------------+
| GPU  Name                 Persistence-M | Bus-Id        Disp.A | Volatile Uncorr. ECC |
|=========================================+======================+======================|
|   0  NVIDIA A100-SXM4-80GB          On  | 00000000:07:00.0 Off |                    0 |
| N/A   33C    P0              61W / 400W |      4MiB / 81920MiB |      0%      Default |
|   1  NVIDIA A100-SXM4-80GB          On  | 00000000:0B:00.0 Off |                    0 |
| N/A   31C    P0              60W / 400W |      4MiB / 81920MiB |      0%      Default |
+-----------------------------------------+----------------------+----------------------+
"""


def test_nvidia_smi_table() -> None:
    parsed = parse(NVIDIA_SMI)
    assert parsed.first("driver_version").value == "535.104.05"  # type: ignore[union-attr]
    assert parsed.first("cuda_driver_version").value == "12.2"  # type: ignore[union-attr]
    assert [f.value["name"] for f in parsed.all("smi_gpu")] == ["NVIDIA A100-SXM4-80GB"] * 2
    snap = triage(NVIDIA_SMI).snapshot
    assert [g["compute_capability"] for g in snap["nvidia"]["gpus"]] == ["8.0", "8.0"]
    assert snap["nvidia"]["gpus"][0]["memory_total_mib"] == 81920
    assert snap["host"]["wsl"] is False


def test_wsl_nvidia_smi_two_driver_versions() -> None:
    text = (HERE / "wsl-11589-rtx3060-laptop-smi-545-driver-546.txt").read_text(encoding="utf-8")
    snap = triage(text).snapshot
    assert snap["host"]["wsl"] is True
    assert snap["nvidia"]["driver_version"] == "546.80"  # the Windows driver, not nvidia-smi's 545.46
    assert snap["nvidia"]["gpus"][0]["name"] == "NVIDIA GeForce RTX 3060"


def test_nvcc_pip_and_proc_version() -> None:
    text = """\
nvcc: NVIDIA (R) Cuda compiler driver
Cuda compilation tools, release 12.4, V12.4.131
$ pip list | grep -E 'torch|nvidia'
torch                    2.4.0
nvidia-cudnn-cu12        9.1.0.70
$ pip freeze
jaxlib==0.4.30+cuda12.cudnn89
tensorflow==2.15.1
$ cat /proc/driver/nvidia/version
NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15  Tue Mar  5 22:23:56 UTC 2024
"""
    facts = _facts(text)
    assert facts["nvcc_version"] == "12.4.131"
    assert facts["kernel_module"] == "550.54.15"
    packages = {f.value["name"]: f.value["version"] for f in parse(text).all("package")}
    assert packages == {"torch": "2.4.0", "nvidia-cudnn-cu12": "9.1.0.70", "jaxlib": "0.4.30+cuda12.cudnn89",
                        "tensorflow": "2.15.1"}
    installed = {f["name"]: f for f in triage(text).snapshot["frameworks"]["installed"]}
    assert installed["jax"]["cuda_version"] == "12"
    assert set(installed) == {"pytorch", "tensorflow", "jax"}


def test_crlf_and_quoted_lines() -> None:
    text = "> PyTorch version: 2.5.1+cu124\r\n> Nvidia driver version: 550.90.07\r\n"
    facts = _facts(text)
    assert facts["torch_version"] == "2.5.1+cu124" and facts["driver_version"] == "550.90.07"


def test_gpu_table() -> None:
    assert capability("NVIDIA GeForce RTX 4090") == "8.9"
    assert capability("Tesla T4") == "7.5"
    assert capability("NVIDIA A10G") == "8.6"
    assert capability("NVIDIA A100-PCIE-40GB") == "8.0"
    assert capability("NVIDIA L40S") == "8.9"
    assert capability("NVIDIA GeForce RTX 5090 D") == "12.0"
    assert capability("A GPU nobody knows") is None


# --- evidence and unknowns ---------------------------------------------------------------------------

def test_a_stated_cause_wins_over_incomplete_facts() -> None:
    result = triage("RuntimeError: CUDA driver version is insufficient for CUDA runtime version\n")
    assert result.cause is not None and result.cause.id == "driver.too-old-for-framework"
    assert any("nvidia-smi" in m for m in result.missing)


def test_unknown_driver_is_unknown_not_too_old() -> None:
    result = triage("PyTorch version: 2.4.0+cu121\nGPU models and configuration: GPU 0: NVIDIA GeForce RTX 4090\n")
    ids = {f.id for f in result.report.findings}
    assert "driver.too-old-for-framework" not in ids and "driver.not-installed" not in ids
    assert "the driver version is not in the report: ask for `nvidia-smi`" in result.missing


def test_arch_list_from_the_warning_reaches_the_rules() -> None:
    text = (HERE / "kokoro-306-rtx5060ti-sm120-docker.txt").read_text(encoding="utf-8")
    result = triage(text)
    torch = result.snapshot["frameworks"]["installed"]
    assert result.snapshot["nvidia"]["gpus"][0]["compute_capability"] == "12.0"
    assert result.cause is not None and "sm_120" in json.dumps(result.cause.to_json()) or torch == []


def test_unknown_text_is_skipped_not_an_error() -> None:
    result = triage("hello\nthis is not any output dldoctor knows\n")
    assert result.status == "ok" and result.cause is None
    assert result.skipped == [(1, 2)]


# --- output ------------------------------------------------------------------------------------------

def test_text_and_markdown() -> None:
    text = (HERE / "fooocus-1313-rtx3050-driver470-too-old.txt").read_text(encoding="utf-8")
    result = triage(text)
    out = render_text(result)
    assert "driver.too-old-for-framework" in out and "found version 11040" in out
    md = render_markdown(result)
    assert md.startswith("**Likely cause:**") and "<details>" in md and "```sh" in md
    assert md.index("**Fix:**") < md.index("<details>")


def test_json_schema() -> None:
    doc = triage(COLLECT_ENV).to_json()
    assert doc["schema"] == TRIAGE_SCHEMA
    assert set(doc) >= {"status", "cause", "facts", "evidence", "missing", "skipped_lines", "report", "kinds"}
    assert doc["report"]["schema"] == "dldoctor.report/1"
    assert all({"key", "value", "line", "text", "parser"} <= set(f) for f in doc["facts"])
    json.dumps(doc)


# --- bad input ---------------------------------------------------------------------------------------

def test_decode_refuses_binary_empty_and_huge() -> None:
    for data in (b"", b"  \n\n", b"\x7fELF\x00\x00\x01", bytes(range(256)) * 10, b"x" * (10 * 1024 * 1024 + 1)):
        with pytest.raises(InputError):
            decode(data)


def _cli(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "dldoctor", "triage", *args], input=stdin, capture_output=True,
                          timeout=120, check=False)


def test_cli_exit_codes(tmp_path: Path) -> None:
    empty = _cli("-")
    assert empty.returncode == ExitCode.INPUT and empty.stderr.decode().count("\n") == 1
    binary = tmp_path / "core"
    binary.write_bytes(b"\x00\x01\x02" * 1000)
    assert _cli(str(binary)).returncode == ExitCode.INPUT
    assert _cli(str(tmp_path / "missing.txt")).returncode == ExitCode.INPUT
    fixture = HERE / "ogkm-47-nvml-mismatch-570.txt"
    bad = _cli(str(fixture))
    assert bad.returncode == ExitCode.FINDINGS and b"driver.library-mismatch" in bad.stdout
    ok = _cli("-", stdin=b"just some words\n")
    assert ok.returncode == ExitCode.OK
    as_json = _cli("--json", str(fixture))
    assert json.loads(as_json.stdout)["schema"] == TRIAGE_SCHEMA
    md = _cli("--format", "markdown", "-", stdin=fixture.read_bytes())
    assert md.stdout.startswith(b"**Likely cause:**")
    assert _cli("--format", "html", str(fixture)).returncode == ExitCode.USAGE


# --- dldoctor report -> dldoctor triage -----------------------------------------------------------------

def _realworld_cases() -> list[Path]:
    from tests.realworld.build import case_paths

    return case_paths()


@pytest.mark.parametrize("path", _realworld_cases()[:41:4], ids=lambda p: p.stem)
def test_a_report_block_triages_to_the_same_verdict(path: Path) -> None:
    """What `dldoctor report` prints for a machine, pasted into an issue, triages to check's own verdict."""
    from dldoctor.check import diagnose
    from dldoctor.triage.report_block import render_report_block
    from tests.realworld.build import build, load_case

    doc = build(load_case(path))
    direct = diagnose(doc)
    body = "### Describe the bug\n\nIt fails.\n\n" + render_report_block(doc, direct) + "\nThanks!\n"
    result = triage(body)
    assert result.snapshot["source"] == "report"
    assert {f.id for f in result.report.findings} == {f.id for f in direct.findings}
    assert result.status == direct.status and result.missing == []


def test_report_cli_on_a_snapshot_file(tmp_path: Path) -> None:
    from tests.realworld.build import build, load_case

    snap = tmp_path / "snap.json"
    case = load_case(_realworld_cases()[0])
    snap.write_text(json.dumps(build(case)), encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "dldoctor", "report", "--snapshot", str(snap)], capture_output=True,
                         timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    block = out.stdout.decode()
    assert block.startswith("**dldoctor ") and "```json" in block and "<details>" in block
    back = _cli("--json", "-", stdin=out.stdout)
    assert json.loads(back.stdout)["report"]["snapshot"]["source"] == "report"
