"""Read pasted text line by line into facts, each with the line it came from.

Deterministic and regex based: nothing from the text is run or evaluated. A line
that no parser knows is simply not used; `Parsed.skipped` counts what was not
understood so the report can say so.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Fact:
    """One thing the text states: `key` = `value`, read by `parser` from line `line` (1-based)."""

    key: str
    value: Any
    line: int
    text: str
    parser: str

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "value": self.value, "line": self.line, "text": self.text, "parser": self.parser}


@dataclass
class Parsed:
    facts: list[Fact] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)  # the kinds of output recognised, in order of appearance
    lines: int = 0
    used_lines: set[int] = field(default_factory=set)

    def add(self, key: str, value: Any, line: int, text: str, parser: str) -> None:
        self.facts.append(Fact(key, value, line, text.strip()[:300], parser))
        self.used_lines.add(line)
        if parser not in self.kinds:
            self.kinds.append(parser)

    def first(self, key: str) -> Fact | None:
        return next((f for f in self.facts if f.key == key), None)

    def all(self, key: str) -> list[Fact]:
        return [f for f in self.facts if f.key == key]


_TAG = re.compile(r"</?(?:details|summary|pre|code|br|p|b|i|sub|sup|div|span)\b[^>]*>", re.IGNORECASE)
_QUOTE = re.compile(r"^\s*(?:>\s?)+")


def unwrap(text: str) -> Iterator[tuple[int, str]]:
    """The text's lines without markdown wrapping (fences, <details>, quotes), numbered from 1."""
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.replace("\t", "    ") if "\t" in raw else raw
        head = line.lstrip()
        if not head:
            continue
        if head.startswith(("```", "~~~")):
            continue
        if "<" in line:
            line = _TAG.sub("", line)
        if "&" in line:
            line = html.unescape(line)
        if head.startswith(">"):
            line = _QUOTE.sub("", line)
        line = line.rstrip()
        if line.strip():
            yield number, line


def _none(value: str) -> str | None:
    value = value.strip()
    if not value or value.lower() in ("none", "n/a", "could not collect", "no cuda", "no"):
        return None
    return value


# --- the line parsers ---------------------------------------------------------------------------------
# Each entry: a substring that must be in the line (a cheap filter), the pattern, and what it yields.

Handler = Callable[["re.Match[str]", Parsed, int, str], None]


def _set(key: str, parser: str, group: int = 1, clean: Callable[[str], Any] | None = None) -> Handler:
    def handle(match: re.Match[str], parsed: Parsed, line: int, text: str) -> None:
        value: Any = match.group(group).strip()
        if clean is not None:
            value = clean(value)
        if value is not None and value != "":
            parsed.add(key, value, line, text, parser)
    return handle


def _version(value: str) -> str | None:
    match = re.match(r"\d+(?:\.\d+)*", value.strip())
    return match.group(0) if match else None


def _smi_header(match: re.Match[str], parsed: Parsed, line: int, text: str) -> None:
    smi, driver, cuda = match.group(1), match.group(2), match.group(3)
    parsed.add("smi_version", smi, line, text, "nvidia-smi")
    parsed.add("driver_version", driver, line, text, "nvidia-smi")
    if cuda and _version(cuda):
        parsed.add("cuda_driver_version", _version(cuda), line, text, "nvidia-smi")


def _smi_gpu(match: re.Match[str], parsed: Parsed, line: int, text: str) -> None:
    name = match.group(2).strip().removesuffix("...").strip()
    parsed.add("smi_gpu", {"index": int(match.group(1)), "name": name}, line, text, "nvidia-smi")


def _smi_memory(match: re.Match[str], parsed: Parsed, line: int, text: str) -> None:
    parsed.add("smi_memory_mib", int(match.group(1)), line, text, "nvidia-smi")


def _gpu_line(match: re.Match[str], parsed: Parsed, line: int, text: str) -> None:
    name = match.group(2).strip()
    name = re.sub(r"\s*\(UUID:.*$", "", name)
    if name and _none(name):
        parsed.add("collect_env_gpu", {"index": int(match.group(1)), "name": name}, line, text, "collect_env")


def _gpu_inline(match: re.Match[str], parsed: Parsed, line: int, text: str) -> None:
    value = match.group(1).strip()
    inner = re.match(r"GPU\s+(\d+):\s*(.+)", value)
    if inner:
        _gpu_line(inner, parsed, line, text)
    elif _none(value) and not value.lower().startswith("could not"):
        parsed.add("collect_env_gpu", {"index": 0, "name": value}, line, text, "collect_env")


def _cudnn(match: re.Match[str], parsed: Parsed, line: int, text: str) -> None:
    value = match.group(1).strip()
    found = re.search(r"(\S*libcudnn(?:64_)?\.so\.(\d+(?:\.\d+){0,2}))", value)
    if found:
        parsed.add("cudnn", {"version": found.group(2), "path": found.group(1)}, line, text, "collect_env")
    elif re.fullmatch(r"\d+(?:\.\d+){0,2}", value):
        parsed.add("cudnn", {"version": value, "path": None}, line, text, "collect_env")
    elif re.fullmatch(r"\d{4,5}", value.replace(" ", "")):  # collect_env 1.x printed 8902 / 7605
        n = int(value)
        parsed.add("cudnn", {"version": f"{n // 1000}.{n // 100 % 10}.{n % 100}", "path": None}, line, text,
                   "collect_env")


def _cudnn_path(match: re.Match[str], parsed: Parsed, line: int, text: str) -> None:
    if re.search(r"libcudnn(?:_\w+)?\.so", text) and "libcudnn.so" not in text:
        return  # libcudnn_ops_infer.so.8.x: the main library's line carries the same version
    parsed.add("cudnn", {"version": match.group(2), "path": match.group(1)}, line, text, "collect_env")


_PACKAGES = (r"torch|pytorch|tensorflow|tensorflow-gpu|tensorflow-cpu|tensorflow-intel|tf-nightly|jax|jaxlib|"
             r"jax-cuda1[1-3]-plugin|jax-cuda1[1-3]-pjrt|onnxruntime-gpu|nvidia-[a-z0-9-]+|cudatoolkit|"
             r"cuda-version|cudnn|pytorch-cuda|triton|vllm|xformers|flash-attn|flash_attn")


def _package(parser: str) -> Handler:
    def handle(match: re.Match[str], parsed: Parsed, line: int, text: str) -> None:
        name = match.group("name").lower().replace("_", "-")
        version = match.group("version")
        build = match.groupdict().get("build")
        parsed.add("package", {"name": name, "version": version, "build": build, "via": parser}, line, text, parser)
    return handle


def _env_var(match: re.Match[str], parsed: Parsed, line: int, text: str) -> None:
    parsed.add("env", {"name": match.group(1), "value": match.group(2).strip()}, line, text, "environment")


def _arch_list(match: re.Match[str], parsed: Parsed, line: int, text: str) -> None:
    arches = re.findall(r"sm_\d+a?|compute_\d+", match.group(1))
    if arches:
        parsed.add("arch_list", arches, line, text, "torch warning")


def _not_compatible(match: re.Match[str], parsed: Parsed, line: int, text: str) -> None:
    name = match.group(1).strip().strip("\"'`*>:").strip()
    name = re.sub(r"^(?:UserWarning|Warning|warnings\.warn\()\W*", "", name)
    sm = match.group(2)
    cc = f"{int(sm[:-1])}.{sm[-1]}" if len(sm) >= 2 else None
    parsed.add("warned_gpu", {"name": name, "cc": cc}, line, text, "torch warning")


def _driver_too_old(match: re.Match[str], parsed: Parsed, line: int, text: str) -> None:
    n = int(match.group(1))
    parsed.add("cuda_driver_version", f"{n // 1000}.{n % 1000 // 10}", line, text, "torch warning")


def _os(match: re.Match[str], parsed: Parsed, line: int, text: str) -> None:
    value = match.group(1).strip()
    if _none(value):
        parsed.add("os", value, line, text, "collect_env")


def _rocm_gfx(match: re.Match[str], parsed: Parsed, line: int, text: str) -> None:
    parsed.add("gfx", match.group(1), line, text, "rocminfo")


_V = r"(\d+(?:\.\d+)+)"

PARSERS: list[tuple[str, re.Pattern[str], Handler]] = [
    # collect_env
    ("PyTorch version", re.compile(r"^\s*PyTorch version\s*:\s*(\S+)"), _set("torch_version", "collect_env")),
    ("Is debug build", re.compile(r"^\s*Is debug build\s*:\s*(\S+)"), _set("torch_debug", "collect_env")),
    ("used to build PyTorch", re.compile(r"^\s*CUDA used to build PyTorch\s*:\s*(.+)$"),
     _set("torch_cuda", "collect_env", clean=lambda v: _none(v) or "none")),
    ("used to build PyTorch", re.compile(r"^\s*ROCM used to build PyTorch\s*:\s*(.+)$"),
     _set("torch_rocm", "collect_env", clean=lambda v: _none(v) or "none")),
    ("OS", re.compile(r"^\s*OS\s*:\s*(.+)$"), _os),
    ("Python version", re.compile(r"^\s*Python version\s*:\s*(\d+\.\d+(?:\.\d+)?)"), _set("python", "collect_env")),
    ("Python platform", re.compile(r"^\s*Python platform\s*:\s*(\S+)"), _set("platform", "collect_env")),
    ("Is CUDA available", re.compile(r"^\s*Is CUDA available\s*:\s*(\S+)"), _set("cuda_available", "collect_env")),
    ("CUDA runtime version", re.compile(r"^\s*CUDA runtime version\s*:\s*(.+)$"),
     _set("cuda_runtime", "collect_env", clean=lambda v: _version(v) if _none(v) else None)),
    ("GPU models and configuration", re.compile(r"^\s*GPU models and configuration\s*:\s*(.*)$"), _gpu_inline),
    ("GPU ", re.compile(r"^\s*GPU\s+(\d+):\s*(.+?)\s*$"), _gpu_line),
    ("Nvidia driver version", re.compile(r"^\s*Nvidia driver version\s*:\s*(\d[\d.]*)"),
     _set("driver_version", "collect_env")),
    ("cuDNN version", re.compile(r"^\s*cuDNN version\s*:\s*(.+)$"), _cudnn),
    ("libcudnn", re.compile(r"^\s*(/\S*libcudnn\S*\.so\.(\d+(?:\.\d+){1,2}))\s*$"), _cudnn_path),
    ("HIP runtime version", re.compile(r"^\s*HIP runtime version\s*:\s*(.+)$"),
     _set("hip_runtime", "collect_env", clean=lambda v: _version(v) if _none(v) else None)),
    ("[pip", re.compile(rf"^\s*\[pip\d?\]\s*(?P<name>{_PACKAGES})==(?P<version>\S+)", re.IGNORECASE),
     _package("collect_env pip")),
    ("[conda]", re.compile(rf"^\s*\[conda\]\s*(?P<name>{_PACKAGES})\s+(?P<version>\d\S*)\s+(?P<build>\S+)",
                           re.IGNORECASE), _package("collect_env conda")),
    ("vLLM Version", re.compile(r"^\s*vLLM Version\s*:\s*(\S+)"), _set("vllm_version", "collect_env")),
    # nvidia-smi table and -q
    ("Driver Version", re.compile(r"NVIDIA-SMI\s+(\d[\d.]*\d)\W+Driver Version:\s*(\d[\d.]*\d)(?:\W+CUDA Version:\s*(\S+))?"),
     _smi_header),
    ("Driver Version", re.compile(r"^\s*Driver Version\s*:\s*(\d[\d.]*)"), _set("driver_version", "nvidia-smi -q")),
    ("CUDA Version", re.compile(r"^\s*CUDA Version\s*:\s*(\d+\.\d+)"), _set("cuda_driver_version", "nvidia-smi -q")),
    ("Product Name", re.compile(r"^\s*Product Name\s*:\s*(.+)$"), _set("smi_q_gpu", "nvidia-smi -q")),
    ("|", re.compile(r"^\|\s*(\d+)\s+(.+?)\s+(?:On|Off|WDDM|TCC)\s*\|\s*[0-9A-Fa-f]{4,8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.\d"),
     _smi_gpu),
    ("MiB", re.compile(r"^\|.*?\|\s*\d+MiB\s*/\s*(\d+)MiB\s*\|"), _smi_memory),
    ("NVML library version", re.compile(r"NVML library version:\s*(\d[\d.]*)"),
     _set("nvml_library_version", "nvidia-smi")),
    # nvcc --version
    ("compilation tools", re.compile(r"Cuda compilation tools, release [\d.]+, V(\d+\.\d+(?:\.\d+)?)"),
     _set("nvcc_version", "nvcc")),
    # /proc/driver/nvidia/version
    ("NVRM version", re.compile(r"NVRM version:.*?Kernel Module(?: for \S+)?\s+(\d+\.\d+(?:\.\d+)?)"),
     _set("kernel_module", "/proc/driver/nvidia/version")),
    # rocminfo / rocm-smi
    ("gfx", re.compile(r"^\s*Name:\s+(gfx[0-9a-f]+)\s*$"), _rocm_gfx),
    # jax.print_environment_info()
    ("jax", re.compile(r"^\s*(?P<name>jax|jaxlib):\s+(?P<version>\d[\w.+]*)\s*$"), _package("jax.print_environment_info")),
    # tf.sysconfig.get_build_info()
    ("'cuda_version'", re.compile(r"'cuda_version',\s*'([\d.]+)'"), _set("tf_cuda", "tf build info")),
    ("'cudnn_version'", re.compile(r"'cudnn_version',\s*'([\d.]+)'"), _set("tf_cudnn", "tf build info")),
    # rocminfo
    ("Marketing Name", re.compile(r"^\s*Marketing Name:\s+((?:AMD )?(?:Radeon|Instinct)\b.*?)\s*$"),
     _set("amd_gpu", "rocminfo")),
    # lspci | grep -i nvidia
    ("NVIDIA Corporation", re.compile(r"(?:VGA compatible controller|3D controller): NVIDIA Corporation "
                                      r"\S+ \[([^\]]+)\]"), _set("lspci_gpu", "lspci")),
    # messages that state facts
    ("is not compatible with the current PyTorch",
     re.compile(r"(\S.*?) with CUDA capability sm_(\d+)\w? is not compatible with the current PyTorch"), _not_compatible),
    ("supports CUDA capabilities", re.compile(r"supports CUDA capabilities\s+(.+?)\.?\s*$"), _arch_list),
    ("too old (found version", re.compile(r"too old \(found version (\d{4,5})\)"), _driver_too_old),
    ("=", re.compile(r"^\s*(?:export\s+)?(LD_LIBRARY_PATH|CUDA_VISIBLE_DEVICES|PYTHONPATH|CUDA_HOME|"
                     r"HSA_OVERRIDE_GFX_VERSION|CONDA_OVERRIDE_CUDA)=(.*)$"), _env_var),
]

# pip list ("torch   2.1.0+cu121") and pip freeze ("torch==2.1.0"): anchored whole lines only
_PIP_LIST = re.compile(rf"^\s*(?P<name>{_PACKAGES})\s+(?P<version>\d[\w.+!-]*)(?:\s+\S+)?\s*$", re.IGNORECASE)
_CONDA_LIST = re.compile(rf"^\s*(?P<name>{_PACKAGES})\s+(?P<version>\d[\w.+!-]*)\s+(?P<build>\S+)\s+"
                         r"(?:pytorch|nvidia|conda-forge|defaults|pypi|main|pkgs/main|anaconda)\s*$", re.IGNORECASE)
_PIP_FREEZE = re.compile(rf"^\s*(?P<name>{_PACKAGES})==(?P<version>\d[\w.+!-]*)\s*$", re.IGNORECASE)
_PIP_FIRST = re.compile(r"^\s*(?:torch|pytorch|tensorflow|tf-|jax|nvidia-|cud|triton|vllm|xformers|flash|onnx)",
                        re.IGNORECASE)


def parse(text: str, lines: list[tuple[int, str]] | None = None) -> Parsed:
    """Every fact the parsers find in `text` (`lines`: its `unwrap`, when the caller already has it)."""
    parsed = Parsed()
    for number, line in lines if lines is not None else unwrap(text):
        parsed.lines = number
        for needle, pattern, handle in PARSERS:
            if needle in line:
                match = pattern.search(line)
                if match:
                    handle(match, parsed, number, line)
        if _PIP_FIRST.match(line):
            for pattern, via in ((_PIP_FREEZE, "pip freeze"), (_CONDA_LIST, "conda list"), (_PIP_LIST, "pip list")):
                match = pattern.match(line)
                if match:
                    _package(via)(match, parsed, number, line)
                    break
    parsed.lines = max(parsed.lines, text.count("\n") + 1 if text else 0)
    return parsed
