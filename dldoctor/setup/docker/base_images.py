"""The runtime base images the docker backend knows (knowledge table `base_images`), by variant."""

from __future__ import annotations

from typing import Any

from dldoctor.knowledge.versions import release_key


def base_rows(variant: str, require_cuda: str | None = None) -> list[dict[str, Any]]:
    """The runtime base images for `variant`. CUDA: the framework's wheels bring their own CUDA libraries,
    so the base only has to be of the same CUDA major and ask no more of the host than the plan's
    `require_cuda`: the newest such base wins (cu128 runs on the 12.6 base)."""
    from dldoctor.knowledge.tables import table

    kind = "cuda" if variant.startswith("cuda") else "rocm" if variant.startswith("rocm") else "cpu"
    rows = [r for r in table("base_images").rows if r.get("kind") == kind]
    if kind != "cuda":
        accelerator = variant.removeprefix("rocm") if kind == "rocm" else None
        return [r for r in rows if r.get("accelerator") == accelerator]
    ceiling = release_key(require_cuda or variant.removeprefix("cuda"))
    fitting = [r for r in rows if release_key(str(r.get("accelerator")))[:1] == ceiling[:1]
               and release_key(str(r.get("accelerator"))) <= ceiling]
    best = max((release_key(str(r.get("accelerator"))) for r in fitting), default=None)
    return [r for r in fitting if release_key(str(r.get("accelerator"))) == best]


def base_image_pythons(variant: str, require_cuda: str | None = None) -> list[str]:
    """The Python versions the known runtime base images of `variant` offer, oldest first."""
    return sorted({p for r in base_rows(variant, require_cuda) for p in r.get("pythons", ())}, key=release_key)
