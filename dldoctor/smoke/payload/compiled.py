"""What to do about a compiled-mode failure.
"""

from __future__ import annotations


def compile_fix(text: str) -> str:
    """The likely remedy for a compile failure, from its error text."""
    low = text.lower()
    if "triton" in low:
        return "install the Triton build that matches this framework (pip install triton), or run eager"
    if "python.h" in low:
        return "install the Python development headers (e.g. apt install python3-dev)"
    if "compiler" in low or "gcc" in low or "g++" in low or "cxx" in low or "cc1" in low:
        return "install a C/C++ compiler (e.g. apt install build-essential) or point CC/CXX at one"
    if "backend" in low:
        return "check the compile backend name (torch._dynamo.list_backends())"
    if "xla" in low or "ptxas" in low or "nvvm" in low:
        return "XLA could not build the kernel: check CUDA toolkit pieces (ptxas/nvvm) match the framework build"
    return "compiled mode failed; eager results still count. Re-run with the error above and report it upstream"
