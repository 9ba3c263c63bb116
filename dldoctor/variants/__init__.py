"""The one answer to "which release and build of a framework fits this machine".

`check`'s recommendations, `setup`'s plan, the Docker base image and its
`NVIDIA_REQUIRE_CUDA` all come from `choose`; a variant asked for by name is
judged by `refusal`. The target is built once from a snapshot's facts
(`target_from_facts`), or for another machine from `--cuda`.
"""

from __future__ import annotations

from collections.abc import Callable

from dldoctor.variants import jax, pytorch, tensorflow
from dldoctor.variants.choice import Choice, index_tag, setup_variant
from dldoctor.variants.target import Target, target_from_facts

__all__ = ["FRAMEWORKS", "Choice", "Target", "choose", "index_tag", "newest", "pinned", "refusal", "setup_variant",
           "target_from_facts"]

_CHOOSERS: dict[str, Callable[[Target, str | None], Choice]] = {
    "pytorch": pytorch.choose, "tensorflow": tensorflow.choose, "jax": jax.choose}
#: The frameworks with a chooser: the `main` ones of frameworks.json (tests/test_vocabulary.py holds them equal).
FRAMEWORKS = tuple(_CHOOSERS)
_REFUSALS: dict[str, Callable[[Target, str, str], str | None]] = {
    "pytorch": pytorch.refusal, "tensorflow": tensorflow.refusal, "jax": jax.refusal}


def choose(target: Target, framework: str, release: str | None = None) -> Choice:
    """The release and build of `framework` ("pytorch", "tensorflow", "jax") for `target`;
    only `release` ("2.5") is considered when it is given."""
    return _CHOOSERS[framework](target, release)


def refusal(target: Target, framework: str, release: str, variant: str) -> str | None:
    """Why `variant` ("cuda12.8", "rocm7.2", "cpu") of `framework` `release` cannot work on `target`; None when it can."""
    return _REFUSALS[framework](target, release, variant)


def newest(framework: str) -> str | None:
    """The newest release of `framework` the knowledge base knows ("2.14"); None when it knows none (JAX)."""
    from dldoctor.knowledge.frameworks import framework_info

    info = framework_info(framework)
    return info.latest if info is not None else None


def pinned(choice: Choice) -> str | None:
    """The release an install of `choice` must pin: its own, unless it is the newest dldoctor knows."""
    return choice.release if choice.release and choice.release != newest(choice.framework) else None
