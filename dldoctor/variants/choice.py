"""The answer of the chooser: which release and build of a framework, why, and what was passed over."""

from __future__ import annotations

from dataclasses import dataclass

from dldoctor.knowledge import versions


def index_tag(variant: str) -> str:
    """"cuda12.8" -> "cu128" (PyTorch's index names); "rocm7.2" and "cpu" stay."""
    if variant.startswith("cuda"):
        return "cu" + variant.removeprefix("cuda").replace(".", "")
    return variant


def variant_kind(variant: str) -> str:
    """"cuda12.8" -> "cuda", "rocm7.2" -> "rocm", anything else "cpu"."""
    return "cuda" if variant.startswith("cuda") else "rocm" if variant.startswith("rocm") else "cpu"


def setup_variant(tag: str) -> str:
    """"cu128" -> "cuda12.8", "cuda13" -> "cuda13.0"; "rocm7.2" and "cpu" stay (what `setup --variant` takes)."""
    text = tag.strip().lower()
    cuda = versions.cuda_of_tag(text) if text[2:].isdigit() else None
    if cuda is not None:
        return f"cuda{cuda}"
    if text.startswith("cuda") and text[4:].isdigit():
        return f"{text}.0"
    return text


@dataclass(frozen=True)
class Choice:
    """A framework build for one target machine.

    `variant` is in setup's vocabulary ("cpu", "cuda12.8", "rocm7.2"; JAX "cuda13.0");
    `tier` how the driver runs it ("full", "minor" for minor-version compatibility, None
    when not a CUDA build); `passed_over` the newer builds not chosen and why;
    `upgrade` what a driver upgrade would unlock ("with driver >= 580.65.06: PyTorch 2.14 cu130").
    """

    framework: str
    release: str
    variant: str
    reason: str
    tier: str | None = None
    passed_over: tuple[tuple[str, str], ...] = ()
    upgrade: str | None = None
    #: Releases with a GPU build that runs here, newest first (filled when a pinned release has none).
    alternatives: tuple[str, ...] = ()

    @property
    def kind(self) -> str:
        """"cuda", "rocm" or "cpu"."""
        return variant_kind(self.variant)

    @property
    def cuda(self) -> str | None:
        return self.variant.removeprefix("cuda") if self.kind == "cuda" else None

    @property
    def tag(self) -> str:
        """The name users see: PyTorch's index name ("cu128"), JAX's extra ("cuda13"), TensorFlow's "cuda"."""
        if self.kind != "cuda":
            return self.variant
        if self.framework == "pytorch":
            return index_tag(self.variant)
        if self.framework == "jax":
            return "cuda" + (self.cuda or "").split(".")[0]
        return "cuda"

    @property
    def require_cuda(self) -> str | None:
        """The CUDA an image of this build must require of its host (NVIDIA_REQUIRE_CUDA): the build's
        own CUDA when the driver runs it fully, the major's first release (X.0) under minor-version
        compatibility, so the constraint never asks for more than the planned host's driver has."""
        cuda = self.cuda
        if cuda is None:
            return None
        if self.tier == "minor":
            return f"{cuda.split('.')[0]}.0"
        return cuda


release_key = versions.release_key
