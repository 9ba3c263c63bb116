"""Which optional NVML functions each driver generation's libnvidia-ml.so.1 exports.

Every function fake_nvml.c defines without an `#ifdef HAVE_<name>` is in every
generation here (nvmlInitWithFlags, nvmlDeviceGetCount_v2,
nvmlDeviceGetHandleByIndex_v2, nvmlDeviceGetPciInfo_v3, the unversioned
queries, ...): they all predate R450. The table below is the rest, the
functions dldoctor's probe and nvidia-ml-py 13 care about.

A generation stands for the later releases of its branch: 535 is 535.98 and
after (535.183.01 is the long-term release most clusters run), 450 is
450.80.02 (the AWS p3 image of the scenarios).

The comment on each entry says where its fact comes from: "sure" means read
in a public source while writing this, "assumed" means not confirmed, with
the reason it was taken.
"""

from __future__ import annotations

GENERATIONS = (450, 470, 525, 535, 550, 570, 580)


def _since(first: int) -> frozenset[int]:
    return frozenset(g for g in GENERATIONS if g >= first)


#: symbol -> the generations whose library exports it.
OPTIONAL_SYMBOLS: dict[str, frozenset[int]] = {
    # MIG came with the A100 and driver R450 (CUDA 11.0). Sure.
    "nvmlDeviceGetMigMode": _since(450),
    # Assumed: added with R460 (CUDA 11.2). The row remapper is an Ampere feature;
    # NVML's API reference lists it without a version, so 460 is taken from this project's brief.
    "nvmlDeviceGetRemappedRows": _since(460),
    # Assumed: R450 lacks it (as the old-driver-missing-nvml-functions scenario has always said);
    # 470 has it. Not confirmed against a 450 nvml.h.
    "nvmlSystemGetCudaDriverVersion_v2": _since(460),
    # Sure that 430/440 lack it (gpuopenanalytics/pynvml#43, NVIDIA/k8s-device-plugin#331), that
    # 470.57.02 has it (wookayin/gpustat#102) and that 450.36.06 raised FunctionNotFound for the
    # process query (wookayin/gpustat#138); 460 as the first branch with it is assumed.
    "nvmlDeviceGetComputeRunningProcesses_v2": _since(460),
    # Sure: added in 510.39.01 (gpustat's nvml.py: "Lack of ...Processes_v3 APIs happens for OLD
    # drivers < 510.39.01"), removed again in 535.98 and back by 550 (nvitop PR #89, from the
    # nvml.h history in NVIDIA/nvidia-settings; nvitop's libnvml.py looks for it on 550+).
    # So 470 and 535.98+ lack it: nvidia-ml-py 13's unversioned nvmlDeviceGetComputeRunningProcesses
    # calls _v3 and raises NVMLLibraryMismatchError there.
    "nvmlDeviceGetComputeRunningProcesses_v3": frozenset({525, 550, 570, 580}),
    # Sure: drivers before 515 lack it (gpustat's nvml.py: "nvmlDeviceGetMemoryInfo_v2 ... for
    # driver >= 515", gpustat#141).
    "nvmlDeviceGetMemoryInfo_v2": _since(515),
    # Sure: R535 (CUDA 12.2) renamed clocks "throttle" reasons to "event" reasons and added this
    # function; the throttle one stays, deprecated, through 580 (nvidia-ml-py 13 still wraps it,
    # "will be removed in CUDA 14.0").
    "nvmlDeviceGetCurrentClocksEventReasons": _since(535),
}


def generation_for(driver_version: str | None) -> int:
    """The newest generation not newer than the driver's branch: "470.82.01" -> 470, "575.64" -> 570.

    No version (an NVML that fails at init never says it) gets the newest generation.
    """
    if not driver_version:
        return GENERATIONS[-1]
    branch = int(driver_version.split(".")[0])
    older = [g for g in GENERATIONS if g <= branch]
    return older[-1] if older else GENERATIONS[0]


def exported(generation: int) -> list[str]:
    """The optional symbols `generation` exports, sorted."""
    if generation not in GENERATIONS:
        raise ValueError(f"no symbol set for driver generation {generation}; known: {GENERATIONS}")
    return sorted(name for name, gens in OPTIONAL_SYMBOLS.items() if generation in gens)
