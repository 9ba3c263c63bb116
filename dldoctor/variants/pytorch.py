"""Which PyTorch release and wheel variant fits a target machine.

The policy, in order:
1. A pinned release is the only one looked at; otherwise every release the
   knowledge base has, newest first.
2. NVIDIA: the newest release with a CUDA build that this driver runs (fully,
   or under minor-version compatibility) and that has kernels for every GPU
   (SASS of the same major, or PTX the driver can JIT, which minor-version
   compatibility does not cover). Within a release, a build the driver fully
   supports before one that needs minor-version compatibility, then the newest CUDA.
3. AMD: the same across the ROCm builds and their gfx lists.
4. Only when no release has such a build, the CPU build, with the reason.
5. Next to the choice: what a driver upgrade would unlock, when it would.
"""

from __future__ import annotations

from dataclasses import dataclass

from dldoctor.knowledge.cuda import min_driver
from dldoctor.knowledge.pytorch import TorchVariant, kernel_for, torch_release_variants, torch_releases, torch_wheel_archs
from dldoctor.knowledge.rocm import rocm_gfx_targets
from dldoctor.knowledge.versions import parse_capability, sm_name
from dldoctor.variants.choice import Choice, index_tag, release_key, setup_variant
from dldoctor.variants.target import Target


def _sm(cc: str) -> str:
    parsed = parse_capability(cc)
    return sm_name(parsed) if parsed else cc


def releases() -> list[str]:
    """Every PyTorch release the knowledge base has variants for, newest first."""
    return sorted(torch_releases(), key=release_key, reverse=True)


@dataclass(frozen=True)
class _Fit:
    """One CUDA or ROCm build judged for a target: how the driver runs it, or why it cannot work."""

    variant: TorchVariant
    tier: str | None  # "full" / "minor" for CUDA builds that run; None otherwise
    why_not: str | None
    via_ptx: tuple[str, ...] = ()


def _driver_need(target: Target, cuda: str) -> str:
    """"needs a driver >= X": the lowest driver that runs CUDA `cuda` builds at all (minor-version compatibility)."""
    floor = min_driver(cuda, "minor", target.driver_os) or min_driver(cuda, "full", target.driver_os)
    return f"needs a driver >= {floor}" if floor else f"needs a {target.driver_os} driver newer than dldoctor knows"


def _fit_cuda(target: Target, release: str, variant: TorchVariant) -> _Fit:
    cuda = variant.version or ""
    tier = target.tier(cuda)
    problems: list[str] = []
    via_ptx: list[str] = []
    archs = torch_wheel_archs(variant.name, release, target.arch)
    if archs is None and target.capabilities:
        problems.append("its compiled GPU architectures are not known, so its kernels cannot be checked")
    elif archs is not None and target.capabilities:
        missing = []
        for cc in target.capabilities:
            # Minor-version compatibility does not cover PTX built by a newer toolkit than the driver's.
            how = kernel_for(cc, archs, allow_ptx=tier != "minor")
            if how is None:
                missing.append(_sm(cc))
            elif how == "ptx":
                via_ptx.append(_sm(cc))
        if missing:
            problems.append(f"has no kernels for {', '.join(missing)} ({archs.describe()})")
    if tier is None:
        problems.append(_driver_need(target, cuda))
    return _Fit(variant, tier if not problems else None, "; ".join(problems) or None, tuple(via_ptx))


def _fit_rocm(target: Target, variant: TorchVariant) -> _Fit:
    targets = rocm_gfx_targets(variant.version or "")
    if targets is None:
        return _Fit(variant, None, "its gfx targets are not known")
    missing = [g for g in target.gfx if g not in targets]
    if missing:
        return _Fit(variant, None, f"has no kernels for {', '.join(missing)} ({', '.join(targets)})")
    return _Fit(variant, None, None)


def _fits(target: Target, release: str, include_experimental: bool) -> list[_Fit]:
    """Every GPU build of `release` for the target's vendor, judged, best first."""
    kind = "cuda" if target.nvidia_usable else "rocm"
    builds = [v for v in torch_release_variants(release, include_experimental) if v.kind == kind]
    if kind == "cuda":
        fits = [_fit_cuda(target, release, v) for v in builds]
        order = {"full": 0, "minor": 1}
        return sorted(fits, key=lambda f: (f.why_not is not None, order.get(f.tier or "", 2),
                                           [-n for n in release_key(f.variant.version or "0")]))
    fits = [_fit_rocm(target, v) for v in builds]
    return sorted(fits, key=lambda f: (f.why_not is not None, [-n for n in release_key(f.variant.version or "0")]))


def _tier_text(target: Target, fit: _Fit) -> str:
    cuda = fit.variant.version or ""
    if fit.tier == "full":
        return f"{target.describe_driver()} fully supports CUDA {cuda}"
    floor = min_driver(cuda, "minor", target.driver_os)
    full = min_driver(cuda, "full", target.driver_os)
    return (f"{target.describe_driver()} runs CUDA {cuda} under minor-version compatibility "
            f"(CUDA {cuda.split('.')[0]}.x needs >= {floor}; full support needs >= {full})")


def _why_chosen(target: Target, release: str, fit: _Fit) -> str:
    if fit.variant.kind == "rocm":
        note = "" if fit.variant.verified else " (this release's ROCm build is unverified)"
        return f"its gfx list has {', '.join(target.gfx)}{note}"
    text = _tier_text(target, fit)
    if target.capabilities:
        text += f", with kernels for {', '.join(_sm(c) for c in target.capabilities)}"
        if fit.via_ptx:
            text += f" ({', '.join(fit.via_ptx)} through PTX JIT)"
    else:
        text += "; the GPUs' compute capabilities are unknown, so their kernels were not checked"
    return text


def _summary(fits: list[_Fit]) -> str:
    return "; ".join(f"{f.variant.name} {f.why_not}" for f in fits if f.why_not)


def _upgrade(target: Target, chosen: Choice, newest: str, include_experimental: bool) -> str | None:
    """What a driver upgrade would unlock: the lowest driver with which the newest release runs here."""
    if not target.nvidia_usable or target.driver is None or (chosen.release == newest and chosen.tier == "full"):
        return None
    floors: set[str] = set()
    for v in torch_release_variants(newest, include_experimental):
        if v.kind == "cuda" and v.version:
            floors.update(f for tier in ("minor", "full") if (f := min_driver(v.version, tier, target.driver_os)))
    here = release_key(target.driver)
    for floor in sorted((f for f in floors if release_key(f) > here), key=release_key):
        better = choose(target.with_driver(floor), release=newest, include_experimental=include_experimental,
                        upgrade_hint=False)
        if better.kind == "cuda" and (better.release, better.tier) != (chosen.release, chosen.tier):
            return f"with driver >= {floor}: PyTorch {newest} {better.tag}"
    return None


def choose(target: Target, release: str | None = None, *, include_experimental: bool = False,
           upgrade_hint: bool = True) -> Choice:
    """The PyTorch release and build for `target` (only `release` when it is pinned), and why."""
    known = releases()
    if release is not None and not torch_release_variants(release, True):
        known_text = f"{known[-1]} to {known[0]}" if known else "none"
        return Choice("pytorch", release, "cpu", f"PyTorch {release} is not in the knowledge base "
                      f"(it knows {known_text}); cannot pick a GPU build")
    candidates = [release] if release is not None else known
    if not candidates:
        return Choice("pytorch", "", "cpu", "the knowledge base knows no PyTorch release")
    if not target.nvidia_usable and not target.amd_usable:
        return Choice("pytorch", candidates[0], "cpu", f"PyTorch {candidates[0]} cpu: {target.no_gpu_reason}")
    passed: list[tuple[str, str]] = []
    for rel in candidates:
        fits = _fits(target, rel, include_experimental)
        best = fits[0] if fits and fits[0].why_not is None else None
        if best is None:
            if fits:
                passed.append((f"PyTorch {rel}", _summary(fits)))
            else:
                passed.append((f"PyTorch {rel}", f"publishes no {'CUDA' if target.nvidia_usable else 'ROCm'} build"))
            continue
        newer_same = [(f"PyTorch {rel} {f.variant.name}", f.why_not) for f in fits[1:] if f.why_not]
        variant = setup_variant(best.variant.name)
        reason = f"PyTorch {rel} {best.variant.name}: {_why_chosen(target, rel, best)}"
        if passed:
            reason += f"; newer releases have no build that fits (PyTorch {passed[0][0].split()[-1]}: {passed[0][1]})"
        choice = Choice("pytorch", rel, variant, reason, best.tier, tuple(passed + newer_same))
        hint = _upgrade(target, choice, known[0], include_experimental) if upgrade_hint and known else None
        if hint:
            choice = Choice("pytorch", rel, variant, f"{reason}; {hint}", best.tier, choice.passed_over, hint)
        return choice
    head = passed[0][1] if passed else "no GPU build"
    newest = candidates[0]
    if release is not None:
        others = [] if not upgrade_hint else _working_releases(target, include_experimental)
        alt = f"; releases that would run here: {', '.join(others)}" if others else ""
        return Choice("pytorch", newest, "cpu", f"PyTorch {newest} has no GPU build that fits: {head}{alt}",
                      passed_over=tuple(passed), alternatives=tuple(others))
    span = f"{candidates[-1]} to {candidates[0]}" if len(candidates) > 1 else candidates[0]
    return Choice("pytorch", newest, "cpu",
                  f"PyTorch {newest} cpu: no PyTorch release ({span}) has a GPU build that fits "
                  f"{'these GPUs' if target.nvidia_usable else ', '.join(target.gfx)} (PyTorch {newest}: {head})",
                  passed_over=tuple(passed))


def _working_releases(target: Target, include_experimental: bool) -> list[str]:
    out = []
    for rel in releases():
        fits = _fits(target, rel, include_experimental)
        if fits and fits[0].why_not is None:
            out.append(f"{rel} ({fits[0].variant.name})")
        if len(out) == 4:
            break
    return out


def refusal(target: Target, release: str, variant: str) -> str | None:
    """Why `variant` ("cuda12.8", "rocm7.2") of PyTorch `release` cannot work on `target`, or None when it can."""
    if variant == "cpu":
        return None
    tag = index_tag(variant)
    build = next((v for v in torch_release_variants(release, True) if v.name == tag), None)
    if build is None:
        return f"PyTorch {release} publishes no {tag} build"
    if build.kind == "rocm":
        if not target.gfx:
            return "the target machine has no AMD GPU with ROCm"
        fit = _fit_rocm(target, build)
        return f"the {tag} build {fit.why_not}" if fit.why_not else None
    if not target.nvidia_usable:
        return f"{target.no_gpu_reason}"
    fit = _fit_cuda(target, release, build)
    return f"the {tag} build of PyTorch {release} {fit.why_not} ({target.describe_driver()})" if fit.why_not else None
