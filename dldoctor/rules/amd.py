"""AMD GPUs and ROCm: the gfx target in the installed build, device nodes, group membership."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from dldoctor import variants
from dldoctor.report import Finding, Severity
from dldoctor.rules import explains, rule
from dldoctor.rules.compat import rocm_gfx_targets
from dldoctor.rules.fixes import add_to_groups
from dldoctor.snapshot.facts import Facts, pick, strings

explains("amd.gfx-not-in-build", "The AMD GPU's gfx target is not in the ROCm build", """
ROCm builds of PyTorch (and other frameworks) contain kernels for a fixed list
of GPU targets (gfx90a, gfx942, gfx1100 ...). A GPU whose target is not in the
list is not used: `torch.cuda.is_available()` is False or kernels fail with
"HIP error: invalid device function". Install a ROCm build that lists the
target. For consumer RDNA cards with no official build,
HSA_OVERRIDE_GFX_VERSION (10.3.0 for RDNA2, 11.0.0 for RDNA3) makes ROCm treat
the card as a supported sibling: an unofficial workaround, not supported by
AMD, that usually works for cards of the same family.
""")
explains("amd.user-not-in-groups", "The user is not in the render/video groups", """
ROCm opens /dev/kfd and /dev/dri/renderD*, which belong to the `render` (and on
older distros `video`) group. A user outside them gets "permission denied"
and frameworks see no GPU. Add the user to both groups and log in again.
""")
explains("amd.kfd-missing", "/dev/kfd is missing", """
/dev/kfd is the ROCm compute interface of the amdgpu kernel driver. Without it
no ROCm program sees a GPU: the amdgpu driver is not loaded (or is too old), or
in a container the device was not passed in (`--device=/dev/kfd
--device=/dev/dri --group-add video`).
""")

#: gfx family prefix -> the HSA_OVERRIDE_GFX_VERSION value of its best-supported sibling.
_OVERRIDES = (("gfx103", "10.3.0", "RDNA2"), ("gfx110", "11.0.0", "RDNA3"), ("gfx120", "12.0.0", "RDNA4"))


def override_for(gfx: str) -> tuple[str, str] | None:
    """(HSA_OVERRIDE_GFX_VERSION value, family) for a consumer RDNA target, else None."""
    for prefix, value, family in _OVERRIDES:
        if gfx.startswith(prefix):
            return value, family
    return None


def rocm_builds(facts: Facts) -> list[dict[str, Any]]:
    return [f for f in facts.frameworks if pick(f, "variant", kind=str) == "rocm"]


def build_targets(fw: dict[str, Any]) -> list[str] | None:
    """The gfx targets of an installed ROCm build: what it reported (--deep), else the knowledge base."""
    deep = fw.get("deep")
    arch = [a for a in strings(deep.get("arch_list")) if a.startswith("gfx")] if isinstance(deep, dict) else []
    if arch:
        return [a.split(":", 1)[0] for a in arch]
    return rocm_gfx_targets(pick(fw, "cuda_version", kind=str))  # the probe keeps "+rocm7.2" here


def uncovered_gfx(facts: Facts, fw: dict[str, Any]) -> list[str]:
    """The machine's gfx targets that ROCm build `fw` lacks (empty when unknown or all covered)."""
    targets = build_targets(fw)
    if targets is None:
        return []
    override = facts.env("HSA_OVERRIDE_GFX_VERSION")
    missing = []
    for gfx in facts.gfx_targets:
        if gfx in targets:
            continue
        if override and (o := override_for(gfx)) and o[0] == override.strip():
            continue  # the user already applies the workaround
        missing.append(gfx)
    return sorted(set(missing))


@rule
def gfx_in_build(facts: Facts) -> Iterator[Finding]:
    """A ROCm build that has no kernels for this machine's gfx target."""
    if not facts.gfx_targets:
        return
    for fw in rocm_builds(facts):
        missing = uncovered_gfx(facts, fw)
        if not missing:
            continue
        name = pick(fw, "name", kind=str) or "?"
        build = f"{name} {pick(fw, 'version', kind=str) or '?'}"
        fix: list[str] = []
        if name == "pytorch":
            choice = variants.choose(variants.target_from_facts(facts), "pytorch")
            if choice.kind == "rocm":
                fix.append(f"pip install --force-reinstall 'torch=={choice.release}.*' "
                           f"--index-url https://download.pytorch.org/whl/{choice.tag}")
        else:
            fix.append(f"dldoctor check --framework {name}  # its recommendation names the build that lists your GPU")
        for gfx in missing:
            override = override_for(gfx)
            if override:
                fix.append(f"export HSA_OVERRIDE_GFX_VERSION={override[0]}  # unofficial workaround for {override[1]} "
                           f"cards like {gfx}; not supported by AMD")
        yield Finding(
            "amd.gfx-not-in-build", Severity.ERROR,
            f"{build} has no kernels for {', '.join(missing)}",
            f"Targets in this build: {', '.join(build_targets(fw) or [])}. The GPU will not be used.",
            tuple(fix or ["no ROCm build lists this GPU: use the CPU build, or a GPU that ROCm supports"]),
            evidence={"framework": name, "found": missing, "required": build_targets(fw)},
        )


@rule
def device_access(facts: Facts) -> Iterator[Finding]:
    """An AMD GPU that this user (or container) cannot open: /dev/kfd, /dev/dri, the render/video groups."""
    amd = facts.amd
    if not pick(amd, "present", kind=bool):
        return
    if pick(amd, "kfd_present", kind=bool) is False:
        if facts.in_container:
            fix: tuple[str, ...] = (
                "docker run --device=/dev/kfd --device=/dev/dri --group-add video --group-add render ...",)
        elif not pick(amd, "amdgpu_loaded", kind=bool):
            fix = ("sudo modprobe amdgpu", "sudo dmesg | grep -i amdgpu  # if it fails, the reason is here",
                   "install the amdgpu driver: https://rocm.docs.amd.com/projects/install-on-linux/")
        else:
            fix = ("sudo dmesg | grep -iE 'amdgpu|kfd'  # the driver loaded without ROCm compute support",
                   "install a current amdgpu-dkms from AMD's repository and reboot")
        yield Finding(
            "amd.kfd-missing", Severity.ERROR, "an AMD GPU is present but /dev/kfd is missing",
            "No ROCm program can use the GPU without the KFD compute interface.", fix,
            evidence={"found": "no /dev/kfd", "required": "/dev/kfd", "container": facts.in_container},
        )
        return
    groups = amd.get("user_groups")
    if not isinstance(groups, dict) or pick(facts.raw, "host", "user", kind=str) == "root":
        return
    missing = [g for g in ("render", "video") if groups.get(g) is False]
    if not missing:
        return
    yield Finding(
        "amd.user-not-in-groups", Severity.ERROR if "render" in missing else Severity.WARNING,
        f"the user is not in the {' and '.join(missing)} group{'s' if len(missing) > 1 else ''}",
        "ROCm needs read/write access to /dev/kfd and /dev/dri/renderD*.",
        (add_to_groups(missing),),
        evidence={"found": {g: groups.get(g) for g in ("render", "video")}, "required": ["render", "video"]},
    )
