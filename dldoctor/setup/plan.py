"""The plan: which framework build, for which Python and platforms, where, and why.

`make_plan` reads the machine's facts (this one's snapshot, or one given with
`--snapshot`, or a CUDA version given with `--cuda`) and the knowledge base,
and explains each choice in one line. A variant that cannot work on the
target machine is refused with the reason, unless `force`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from dldoctor.errors import UsageError
from dldoctor.rules.facts import Facts

FRAMEWORKS = {"pytorch": "pytorch", "torch": "pytorch", "tensorflow": "tensorflow", "tf": "tensorflow", "jax": "jax"}
BACKENDS = ("conda", "venv", "docker")
_VARIANT_RE = re.compile(r"^(auto|cpu|cuda(\d+)(\.\d+)?|rocm(\d+(?:\.\d+)*))$")


@dataclass(frozen=True)
class SetupRequest:
    """What the person asked for, as given on the command line."""

    framework: str  # "pytorch", "pytorch==2.5", "tensorflow", "jax"
    backend: str = "conda"
    variant: str = "auto"
    python: str | None = None  # "3.11"
    platforms: tuple[str, ...] = ()
    channel: str | None = None
    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    prefix: Path | None = None
    out_dir: Path = Path(".")
    cuda: str | None = None  # lock for a machine whose driver supports this CUDA
    force: bool = False
    update: bool = False
    #: Backend-specific options (docker: tag, base_image, docker_platform, dockerfile_only).
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Plan:
    framework: str
    version: str | None  # the requested release ("2.5"), None for the newest
    python: str
    variant: str  # "cpu", "cuda12.6", "rocm7.2"
    backend: str
    platforms: tuple[str, ...]
    channel: str | None
    index_url: str | None
    extra_index_urls: tuple[str, ...]
    find_links: tuple[str, ...]
    prefix: Path
    out_dir: Path
    cuda_driver_version: str | None  # what the target machine's driver supports (virtual package __cuda)
    capabilities: tuple[str, ...]
    gfx_targets: tuple[str, ...]
    glibc: str | None
    reasons: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    forced: bool = False
    update: bool = False
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        """"cpu", "cuda" or "rocm"."""
        return "cuda" if self.variant.startswith("cuda") else "rocm" if self.variant.startswith("rocm") else "cpu"

    @property
    def cuda_version(self) -> str | None:
        return self.variant.removeprefix("cuda") if self.kind == "cuda" else None

    @property
    def torch_index_variant(self) -> str:
        """The download.pytorch.org index name: "cu126", "rocm7.2", "cpu"."""
        if self.kind == "cuda" and self.cuda_version:
            return "cu" + self.cuda_version.replace(".", "")
        return self.variant

    def to_json(self) -> dict[str, Any]:
        return {
            "framework": self.framework, "version": self.version, "python": self.python, "variant": self.variant,
            "backend": self.backend, "platforms": list(self.platforms), "channel": self.channel,
            "index_url": self.index_url, "prefix": str(self.prefix), "out_dir": str(self.out_dir),
            "cuda_driver_version": self.cuda_driver_version, "capabilities": list(self.capabilities),
            "gfx_targets": list(self.gfx_targets), "reasons": [{"choice": c, "why": w} for c, w in self.reasons],
            "forced": self.forced,
        }


def parse_framework(text: str) -> tuple[str, str | None]:
    """"pytorch==2.5" -> ("pytorch", "2.5"); "jax" -> ("jax", None)."""
    name, sep, raw_version = text.partition("==")
    key = name.strip().lower()
    if key not in FRAMEWORKS:
        raise UsageError(f"unknown framework {name!r}: choose pytorch, tensorflow or jax (optionally ==VERSION)")
    if not sep:
        return FRAMEWORKS[key], None
    version = raw_version.strip()
    if not re.fullmatch(r"\d+(\.\d+){0,2}", version):
        raise UsageError(f"{text!r}: the version must look like 2.5 or 2.5.1")
    return FRAMEWORKS[key], version


def parse_variant(text: str) -> str:
    value = text.strip().lower()
    match = _VARIANT_RE.match(value)
    if not match:
        raise UsageError(f"--variant {text!r}: use auto, cpu, cudaX.Y (e.g. cuda12.6; cuda13 for JAX) or rocmX.Y")
    if match.group(2) and not match.group(3):
        value += ".0"  # "cuda13" (JAX's naming) is CUDA 13.0 and later minors
    return value


def default_platform(facts: Facts) -> str:
    """The conda subdir of the facts' machine ("linux-64", "osx-arm64", ...)."""
    system = facts.os.lower()
    arch = facts.arch.lower()
    if system == "darwin":
        return "osx-arm64" if arch in ("arm64", "aarch64") else "osx-64"
    if system == "windows":
        return "win-64"
    return {"x86_64": "linux-64", "amd64": "linux-64", "aarch64": "linux-aarch64", "arm64": "linux-aarch64",
            "ppc64le": "linux-ppc64le"}.get(arch, f"linux-{arch}")


def default_prefix(framework: str, backend: str) -> Path:
    data = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(data) / "dldoctor" / "envs" / f"{framework}-{backend}"


def target_facts(facts: Facts, cuda: str | None) -> Facts:
    """The facts of the machine to build for: `--cuda X.Y` replaces the driver's CUDA."""
    if cuda is None:
        return facts
    if not re.fullmatch(r"\d+\.\d+", cuda):
        raise UsageError(f"--cuda {cuda!r}: give the driver's CUDA version as X.Y, e.g. 12.6")
    raw = dict(facts.raw)
    nvidia = dict(facts.nvidia)
    nvidia["cuda_driver_version"] = cuda
    nvidia["driver_version"] = None  # the target's driver is known only by the CUDA it runs
    nvidia["present"] = True
    raw["nvidia"] = nvidia
    return Facts(raw)


def with_reason(plan: Plan, choice: str, why: str) -> Plan:
    return replace(plan, reasons=(*plan.reasons, (choice, why)))


def _newest(framework: str) -> str:
    """The newest release of `framework` the knowledge base knows ("2.14")."""
    from dldoctor import knowledge

    info = knowledge.framework_info(framework)
    if info is None or not info.latest:
        raise UsageError(f"the knowledge base knows no release of {framework}; give one ({framework}==X.Y)")
    return info.latest


def _choose_variant(facts: Facts, framework: str, version: str | None, gpu_cc: list[str],
                    gfx: list[str]) -> tuple[str, str]:
    """The best variant for the target machine and the one-line reason."""
    from dldoctor import knowledge

    driver_cuda = facts.cuda_driver_version
    if framework == "pytorch":
        release = version or _newest("pytorch")
        choice = knowledge.choose_torch_variant(
            release, cuda_driver_version=facts.driver_version or driver_cuda, capabilities=gpu_cc, machine_arch=facts.arch,
            rocm_gfx=gfx or None,
        )
        return _variant_name(choice.variant), choice.reason
    if not gpu_cc or driver_cuda is None:
        return "cpu", "no usable NVIDIA GPU on the target machine"
    if framework == "jax":
        jax = knowledge.choose_jax_variant(cuda_driver_version=facts.driver_version or driver_cuda,
                                           capabilities=gpu_cc, os_name=facts.os)
        return parse_variant(jax.variant), jax.reason
    required = knowledge.tensorflow_requirements(version or _newest("tensorflow"))
    if required is None:
        return "cpu", f"TensorFlow {version} has no known CUDA build"
    cuda, _cudnn = required
    if _major(driver_cuda) >= _major(cuda):
        return f"cuda{cuda}", f"TensorFlow is built with CUDA {cuda}; the driver supports CUDA {driver_cuda}"
    return "cpu", f"TensorFlow needs CUDA {cuda}; the driver supports only CUDA {driver_cuda}"


def _major(version: str) -> int:
    try:
        return int(version.split(".")[0])
    except ValueError:
        return 0




def _variant_name(index_variant: str) -> str:
    """"cu126" -> "cuda12.6"; "rocm7.2" and "cpu" stay."""
    match = re.fullmatch(r"cu(\d+)(\d)", index_variant)
    return f"cuda{match.group(1)}.{match.group(2)}" if match else index_variant


def _refusal(facts: Facts, framework: str, version: str | None, variant: str, gpu_cc: list[str]) -> str | None:
    """Why `variant` cannot work on the target machine, or None when it can."""
    from dldoctor import knowledge

    if variant == "cpu":
        return None
    if variant.startswith("rocm"):
        return None if facts.gfx_targets else "the target machine has no AMD GPU with ROCm"
    cuda = variant.removeprefix("cuda")
    driver = facts.driver_version
    driver_cuda = facts.cuda_driver_version
    if driver_cuda is None:
        return "the target machine has no NVIDIA driver (use --cuda X.Y to lock for another machine)"
    if driver is not None:
        if knowledge.driver_runs_cuda(driver, cuda) is None:
            floor = knowledge.min_driver(cuda, "minor") or knowledge.min_driver(cuda)
            return f"driver {driver} supports CUDA {driver_cuda}; {variant} needs driver >= {floor}"
    elif _major(driver_cuda) < _major(cuda):
        return f"the driver supports CUDA {driver_cuda}; {variant} needs CUDA {cuda.split('.')[0]}.x"
    if framework == "pytorch" and gpu_cc:
        release = version or _newest("pytorch")
        archs = knowledge.torch_wheel_archs("cu" + cuda.replace(".", ""), release, facts.arch)
        if archs is None:
            return f"PyTorch {release} publishes no {variant} build"
        missing = [c for c in gpu_cc if not knowledge.capability_runs(c, archs)]
        if missing:
            return f"the {variant} build of PyTorch {release} has no kernels for sm_{missing[0].replace('.', '')}"
    return None


def make_plan(facts: Facts, request: SetupRequest) -> Plan:
    """Choose everything the setup needs and say why; refuse what cannot work unless forced."""
    framework, version = parse_framework(request.framework)
    if request.backend not in BACKENDS:
        raise UsageError(f"--backend {request.backend!r}: choose {', '.join(BACKENDS)}")
    requested_variant = parse_variant(request.variant)
    facts = target_facts(facts, request.cuda)
    gpu_cc = facts.capabilities
    gfx = facts.gfx_targets
    reasons: list[tuple[str, str]] = []
    release = version
    reasons.append((f"{framework} {version or 'newest'}", "as requested" if version else "the newest release dldoctor knows"))
    if request.python is not None and not re.fullmatch(r"3\.\d{1,2}", request.python):
        raise UsageError(f"--python {request.python!r}: give a Python version such as 3.11")
    if requested_variant == "auto":
        variant, why = _choose_variant(facts, framework, release, gpu_cc, gfx)
        reasons.append((variant, why))
    else:
        variant = requested_variant
        refusal = _refusal(facts, framework, release, variant, gpu_cc)
        if refusal and not request.force:
            raise UsageError(f"{variant} cannot work on the target machine: {refusal} (--force builds it anyway)")
        reasons.append((variant, "as requested" + (f", forced although {refusal}" if refusal else "")))
    python, why = _python_for(request, variant)
    reasons.insert(1, (f"Python {python}", why))
    platforms = request.platforms or (default_platform(facts),)
    reasons.append((", ".join(platforms), "as requested" if request.platforms else "this machine's platform"))
    prefix = request.prefix or default_prefix(framework, request.backend)
    return Plan(
        framework=framework, version=version, python=python, variant=variant, backend=request.backend,
        platforms=tuple(platforms), channel=request.channel, index_url=request.index_url,
        extra_index_urls=request.extra_index_urls, find_links=request.find_links, prefix=prefix,
        out_dir=request.out_dir, cuda_driver_version=facts.cuda_driver_version, capabilities=tuple(gpu_cc),
        gfx_targets=tuple(gfx), glibc=pick_glibc(facts), reasons=tuple(reasons), forced=request.force,
        update=request.update, options=dict(request.options),
    )


DEFAULT_PYTHON = "3.11"


def _python_for(request: SetupRequest, variant: str) -> tuple[str, str]:
    """The Python version and why: as asked; for an image, one its runtime base has; else the default."""
    if request.python:
        return request.python, "as requested"
    if request.backend == "docker" and not request.options.get("base_image"):
        from dldoctor.setup.docker_render import base_image_pythons

        offered = base_image_pythons(variant)
        if offered and DEFAULT_PYTHON not in offered:
            return offered[-1], f"the Python of the {variant} runtime base image (it offers {', '.join(offered)})"
    return DEFAULT_PYTHON, "a version every recent release supports"


def pick_glibc(facts: Facts) -> str | None:
    value = facts.raw.get("host", {}).get("glibc") if isinstance(facts.raw.get("host"), dict) else None
    return value if isinstance(value, str) else None
