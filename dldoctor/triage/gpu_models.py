"""GPU model name -> CUDA compute capability, for the cards bug reports name most.

Source: NVIDIA, "CUDA GPUs - Compute Capability", https://developer.nvidia.com/cuda-gpus
(and the per-generation tables of the CUDA C Programming Guide). Verified 2026-12-02.
Kept as a Python data module, not JSON, so that it ships with the package without a
package-data entry. Keys are lower-case fragments of the marketing name; the longest
fragment found in a name wins ("rtx 4090" before "rtx 40").
"""

from __future__ import annotations

import re

SOURCE = "https://developer.nvidia.com/cuda-gpus"
VERIFIED = "2026-12-02"

#: name fragment -> compute capability
CAPABILITY: dict[str, str] = {
    # Blackwell
    "b200": "10.0", "b100": "10.0", "gb200": "10.0", "b300": "10.3", "gb300": "10.3",
    "rtx 5090": "12.0", "rtx 5080": "12.0", "rtx 5070": "12.0", "rtx 5060": "12.0", "rtx 5050": "12.0",
    "rtx pro 6000 blackwell": "12.0", "rtx pro 5000 blackwell": "12.0", "rtx pro 4000 blackwell": "12.0",
    "dgx spark": "12.1", "gb10": "12.1",
    # Hopper
    "h100": "9.0", "h200": "9.0", "h800": "9.0", "gh200": "9.0", "h20": "9.0",
    # Ada
    "rtx 4090": "8.9", "rtx 4080": "8.9", "rtx 4070": "8.9", "rtx 4060": "8.9", "rtx 4050": "8.9",
    "l40": "8.9", "l40s": "8.9", "l4": "8.9", "rtx 6000 ada": "8.9", "rtx 5000 ada": "8.9", "rtx 4000 ada": "8.9",
    "rtx 2000 ada": "8.9",
    # Ampere
    "a100": "8.0", "a800": "8.0", "a30": "8.0",
    "rtx 3090": "8.6", "rtx 3080": "8.6", "rtx 3070": "8.6", "rtx 3060": "8.6", "rtx 3050": "8.6",
    "rtx a6000": "8.6", "rtx a5000": "8.6", "rtx a4500": "8.6", "rtx a4000": "8.6", "rtx a2000": "8.6",
    "a40": "8.6", "a10g": "8.6", "a10": "8.6", "a16": "8.6", "a2": "8.6",
    "jetson orin": "8.7", "orin": "8.7",
    # Turing
    "t4": "7.5", "rtx 2080": "7.5", "rtx 2070": "7.5", "rtx 2060": "7.5", "titan rtx": "7.5",
    "gtx 1660": "7.5", "gtx 1650": "7.5", "quadro rtx": "7.5", "rtx 8000": "7.5", "rtx 6000": "7.5",
    "rtx 5000": "7.5", "rtx 4000": "7.5", "mx550": "7.5", "mx450": "7.5",
    # Volta
    "v100": "7.0", "titan v": "7.0", "jetson agx xavier": "7.2", "xavier": "7.2",
    # Pascal
    "p100": "6.0", "p40": "6.1", "p4": "6.1", "gtx 1080": "6.1", "gtx 1070": "6.1", "gtx 1060": "6.1",
    "gtx 1050": "6.1", "titan x pascal": "6.1", "titan xp": "6.1", "mx150": "6.1", "mx250": "6.1",
    "mx350": "6.1", "quadro p": "6.1", "jetson tx2": "6.2",
    # Maxwell
    "m60": "5.2", "m40": "5.2", "gtx 980": "5.2", "gtx 970": "5.2", "gtx 960": "5.2", "gtx 950": "5.2",
    "titan x": "5.2", "gtx 980m": "5.2", "gtx 970m": "5.2", "gtx 960m": "5.0", "gtx 950m": "5.0",
    "gtx 750": "5.0", "gtx 750 ti": "5.0", "m10": "5.0", "mx130": "5.0", "mx110": "5.0", "jetson nano": "5.3",
    # Kepler
    "k80": "3.7", "k40": "3.5", "k20": "3.5", "gtx 780": "3.5", "gtx titan": "3.5", "gt 710": "3.5",
    "gt 730": "3.5", "gtx 680": "3.0", "gtx 670": "3.0", "gtx 660": "3.0", "k520": "3.0",
}

_FRAGMENTS = sorted(CAPABILITY, key=len, reverse=True)


def _normal(name: str) -> str:
    text = name.lower().replace("-", " ").replace("_", " ")
    text = re.sub(r"(rtx|gtx|gt|mx)(\d)", r"\1 \2", text)  # "RTX3090" -> "rtx 3090"
    return " " + re.sub(r"\s+", " ", text).strip() + " "


def capability(name: str | None) -> str | None:
    """The compute capability of a GPU model name, or None when the table does not know it."""
    if not name:
        return None
    text = _normal(name)
    for fragment in _FRAGMENTS:
        # whole words only: "a10" must not match "a100", "l4" not "l40"
        if re.search(rf"(?<![a-z0-9]){re.escape(fragment)}(?![0-9])", text):
            return CAPABILITY[fragment]
    return None


#: compute capability -> the first CUDA release that compiles for it (CUDA Toolkit release notes)
FIRST_CUDA: dict[str, str] = {
    "12.1": "12.9", "12.0": "12.8", "10.3": "12.9", "10.0": "12.8", "9.0": "11.8", "8.9": "11.8", "8.7": "11.4",
    "8.6": "11.1", "8.0": "11.0", "7.5": "10.0", "7.2": "10.0", "7.0": "9.0",
}


def first_cuda(cc: str | None) -> str | None:
    """The oldest CUDA whose builds can carry kernels for compute capability `cc` (None: any, or unknown)."""
    return FIRST_CUDA.get(cc or "")
