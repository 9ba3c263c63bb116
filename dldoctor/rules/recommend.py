"""Recommendations: the build of each framework that fits this machine, and the commands that get it.

The choice itself is `dldoctor.variants.choose`, the same one `setup` plans from;
this module only words it as commands.
"""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING

from dldoctor import variants
from dldoctor.report import Recommendation
from dldoctor.rules.amd import override_for
from dldoctor.snapshot.facts import Facts
from dldoctor.variants import Choice, Target

if TYPE_CHECKING:
    from dldoctor.setup.choose import BackendChoice

TORCH_INDEX = "https://download.pytorch.org/whl"


def install_command(choice: Choice) -> str:
    """The pip command that installs `choice`."""
    if choice.framework == "pytorch":
        spec = f"'torch=={choice.release}.*'" if variants.pinned(choice) else "torch"
        return f"pip install {spec} --index-url {TORCH_INDEX}/{choice.tag}"
    if choice.framework == "tensorflow":
        name = variants.tensorflow.pip_name(choice.release, choice.kind)
        return f"pip install '{name}=={choice.release}.*'" if variants.pinned(choice) else f"pip install '{name}'"
    if choice.kind == "cuda":
        return f"pip install 'jax[{choice.tag}]'"
    return "pip install jax"


def setup_command(choice: Choice, backend: BackendChoice | None = None) -> str:
    """The `dldoctor setup` command that builds `choice` (and that `setup` accepts: a test plans each one).

    `backend` is `usable_backend`'s answer for this machine (the one `setup` itself would pick): its options
    go into the command, so following the advice works here."""
    name = f'"{choice.framework}=={choice.release}"' if variants.pinned(choice) else choice.framework
    if backend is not None and backend.usable:
        options = backend.args()
    else:
        options = ["--backend", "venv"] if choice.kind == "rocm" else []  # ROCm builds are not on conda-forge
    variant = choice.tag if choice.framework == "jax" else choice.variant
    return " ".join(["dldoctor", "setup", name, *(shlex.quote(o) for o in options), "--variant", variant])


def usable_backend_for(choice: Choice) -> BackendChoice:
    """The backend `setup` would pick here for `choice` (one function decides: `usable_backend`)."""
    from dldoctor.setup.choose import usable_backend

    return usable_backend(choice.framework, choice.kind, choice.tag, choice.release or variants.newest(choice.framework))


def _gfx_override_hint(gfx: tuple[str, ...]) -> str:
    """For a consumer AMD GPU no ROCm build covers: the unofficial HSA_OVERRIDE_GFX_VERSION way in."""
    hints = [f"HSA_OVERRIDE_GFX_VERSION={o[0]} (unofficial, {o[1]}) lets a ROCm build run {g}"
             for g in gfx if (o := override_for(g)) is not None]
    return "; " + "; ".join(hints) if hints else ""


def recommendation(target: Target, framework: str) -> Recommendation:
    """The recommended build of `framework` for `target`, as commands."""
    choice = variants.choose(target, framework)
    reason = choice.reason
    if choice.framework == "pytorch" and choice.kind == "cpu" and target.amd_usable:
        reason += _gfx_override_hint(target.gfx)
    backend = usable_backend_for(choice)
    if backend.name != "conda" or not backend.usable:
        reason += f" (setup: {backend.short})"
    return Recommendation(framework, choice.tag, reason, install_command(choice), setup_command(choice, backend),
                          choice.passed_over, choice.release or None)


def recommend(facts: Facts, focus: str | None) -> list[Recommendation]:
    """The right build of PyTorch, TensorFlow and JAX here (only `focus` when it is set)."""
    from concurrent.futures import ThreadPoolExecutor

    target = variants.target_from_facts(facts)
    wanted = [fw for fw in variants.FRAMEWORKS if focus in (None, fw)]
    # Each one probes its sources (a second or so for a TLS handshake): at the same time, not one after another.
    with ThreadPoolExecutor(max_workers=len(wanted) or 1) as pool:
        return list(pool.map(lambda fw: recommendation(target, fw), wanted))


def gpu_install(facts: Facts, framework: str) -> str | None:
    """The install command of the recommended build of `framework`, for fixes; None for the others."""
    if framework not in variants.FRAMEWORKS:
        return None
    return install_command(variants.choose(variants.target_from_facts(facts), framework))
