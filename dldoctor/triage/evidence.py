"""Error messages that name their cause: each pattern maps a pasted line to a finding id.

The ids are dldoctor's own (`dldoctor explain --list`), so a cause read from a
message and a cause concluded from facts meet in one report.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from dldoctor.triage.parse import unwrap


@dataclass(frozen=True)
class Evidence:
    """A line of the text that states a cause."""

    cause: str  # a finding id
    line: int
    text: str
    meaning: str

    def to_json(self) -> dict[str, Any]:
        return {"cause": self.cause, "line": self.line, "text": self.text, "meaning": self.meaning}


@dataclass(frozen=True)
class _Pattern:
    needle: str  # a lower-case substring that must be in the line
    pattern: re.Pattern[str]
    cause: str
    meaning: str
    #: (word, cause): when the text says word (lower case), that cause applies instead; the first word found wins
    contexts: tuple[tuple[str, str], ...] = ()


def _p(needle: str, regex: str, cause: str, meaning: str, *contexts: tuple[str, str]) -> _Pattern:
    return _Pattern(needle, re.compile(regex, re.IGNORECASE), cause, meaning, contexts)


PATTERNS: tuple[_Pattern, ...] = (
    _p("no kernel image is available", r"no kernel image is available for execution on the device",
       "frameworks.capability-not-compiled", "the build has no kernels for this GPU's architecture"),
    _p("is not compatible with the current pytorch", r"sm_\d+\w? is not compatible with the current PyTorch",
       "frameworks.capability-not-compiled", "PyTorch itself says the GPU's architecture is not in its build"),
    _p("driver version is insufficient", r"CUDA driver version is insufficient for CUDA runtime version",
       "driver.too-old-for-framework", "the driver's CUDA is older than the CUDA the program was built with"),
    _p("nvidia driver on your system is too old", r"The NVIDIA driver on your system is too old",
       "driver.too-old-for-framework", "PyTorch says the driver is too old for its CUDA"),
    _p("nvidia-container-cli", r"nvidia-container-cli: .*(?:driver/library version mismatch|version mismatch)",
       "driver.library-mismatch", "the container runtime hit the host's NVML/kernel-module mismatch"),
    _p("version mismatch", r"(?:Failed to initialize NVML: Driver/library version mismatch|"
       r"NVML/RM version mismatch|API mismatch: the NVIDIA kernel module)",
       "driver.library-mismatch", "the loaded kernel module and the user-space driver are different versions"),
    _p("nvidia-container-cli", r"nvidia-container-cli: initialization error: load library failed: libnvidia-ml",
       "driver.not-installed", "the NVIDIA container runtime found no NVIDIA driver (libnvidia-ml.so.1) on the host"),
    _p("nvidia-container-cli", r"nvidia-container-cli: initialization error.*(?:driver not loaded)",
       "driver.not-loaded", "the host's nvidia kernel module is not loaded"),
    _p("nvidia-container-cli", r"nvidia-container-cli: initialization error",
       "driver.nvml-error", "the NVIDIA container runtime could not initialise NVML on the host"),
    _p("could not select device driver", r"could not select device driver\b.*with capabilities: \[\[gpu\]\]",
       "containers.docker-no-nvidia-runtime", "Docker has no NVIDIA runtime to hand the GPU to the container"),
    _p("couldn't communicate with the nvidia driver", r"NVIDIA-SMI has failed because it couldn't communicate",
       "driver.not-loaded", "nvidia-smi cannot reach the kernel module"),
    _p("found no nvidia driver", r"Found no NVIDIA driver on your system", "driver.not-installed",
       "PyTorch found no NVIDIA driver"),
    _p("libcuda.so", r"libcuda\.so(?:\.1)?: cannot open shared object file", "driver.not-installed",
       "the driver's libcuda is not on the loader's path", ("microsoft-standard-wsl", "host.wsl-gpu-not-exposed"),
       ("wsl2", "host.wsl-gpu-not-exposed"), ("docker", "containers.no-gpus-passed-through")),
    _p("libnvidia-ml.so", r"libnvidia-ml\.so(?:\.1)?: cannot open shared object file", "driver.not-installed",
       "the driver's NVML library is not on the loader's path", ("docker", "containers.no-gpus-passed-through")),
    _p("could not load dynamic library", r"Could not load dynamic library '(libcudnn|libcudart|libcublas|libcufft|"
       r"libcurand|libcusolver|libcusparse|libnvinfer)[^']*'",
       "frameworks.tensorflow-missing-cuda-libs", "TensorFlow cannot find the CUDA libraries it was built against"),
    _p("cannot dlopen some gpu libraries", r"Cannot dlopen some GPU libraries",
       "frameworks.tensorflow-missing-cuda-libs", "TensorFlow cannot find the CUDA libraries it was built against"),
    _p("cudnn library", r"Loaded runtime CuDNN library: \S+ but source was compiled with: \S+",
       "cuda.cudnn-too-old", "the cuDNN that loaded is older than the one the framework was compiled with"),
    _p("__nvjitlink", r"undefined symbol: __nvJitLink\w*", "cuda.ld-library-path-shadows",
       "an older libnvJitLink (from a CUDA toolkit on LD_LIBRARY_PATH) is loaded instead of the pip one"),
    _p("undefined symbol", r"libcudnn\w*\.so\.\d+: undefined symbol", "cuda.ld-library-path-shadows",
       "two cuDNN copies are mixed: a system one on the loader's path shadows the framework's"),
    _p("invalid device function", r"HIP error: invalid device function", "amd.gfx-not-in-build",
       "the ROCm build has no kernels for this GPU's gfx target"),
    _p("cannot open shared object file", r"(?:libcudnn|libcudart|libcublas|libcusolver)\S*\.so\S*: cannot open "
       r"shared object file", "frameworks.tensorflow-missing-cuda-libs",
       "the framework cannot find the CUDA libraries it was built against"),
    _p("hiperrornobinaryforgpu", r"hipErrorNoBinaryForGpu", "amd.gfx-not-in-build",
       "the ROCm build has no code object for this GPU's gfx target"),
    _p("torch not compiled with cuda enabled", r"Torch not compiled with CUDA enabled",
       "frameworks.cpu-build-on-gpu-machine", "a CPU-only PyTorch is installed"),
    _p("cuda_visible_devices", r"CUDA_VISIBLE_DEVICES.*(?:no CUDA-capable device|invalid device ordinal)",
       "cuda.visible-devices-invalid", "CUDA_VISIBLE_DEVICES names GPUs that do not exist"),
)

def find_evidence(text: str, lines: list[tuple[int, str]] | None = None) -> list[Evidence]:
    """Every line that states a cause, one cause per line (`lines`: the text's `unwrap`, when already made)."""
    lower_text = text.lower()
    found: list[Evidence] = []
    seen: set[int] = set()
    for number, line in lines if lines is not None else unwrap(text):
        lower = line.lower()
        for item in PATTERNS:
            if item.needle not in lower or not item.pattern.search(line):
                continue
            cause = next((c for word, c in item.contexts if word in lower_text), item.cause)
            if number not in seen:
                seen.add(number)
                found.append(Evidence(cause, number, line.strip()[:300], item.meaning))
    return found
