"""The chooser: one answer to "which release and build fits this target", for check and setup alike."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.version import Version

from dldoctor import knowledge, variants
from dldoctor.errors import UsageError
from dldoctor.knowledge.pytorch import torch_release_variants
from dldoctor.setup.docker.render import accelerator_env, choose_base_image
from dldoctor.setup.plan import Plan, SetupRequest, make_plan
from dldoctor.snapshot.facts import Facts
from dldoctor.variants import Target, choose, refusal
from dldoctor.variants import pytorch as torch_chooser
from tests.test_rules import snapshot_of


def nvidia(driver: str | None, *caps: str, cuda: str | None = None, driver_os: str = "Linux") -> Target:
    """A Linux machine with NVIDIA GPUs of capabilities `caps` on `driver` (or only its CUDA known)."""
    if driver is not None:
        return Target(driver_os=driver_os, capabilities=caps, nvidia_usable=True).with_driver(driver)
    return Target(driver_os=driver_os, cuda_driver=cuda, capabilities=caps, nvidia_usable=True)


def amd(*gfx: str) -> Target:
    return Target(gfx=gfx)


# --- the cases of the issue ---------------------------------------------------------------------


def test_rtx_5090_on_driver_570_gets_2_11_cu128_and_the_upgrade_that_unlocks_2_14() -> None:
    choice = choose(nvidia("570.124.06", "12.0"), "pytorch")
    assert (choice.release, choice.variant, choice.tier) == ("2.11", "cuda12.8", "full")
    assert choice.upgrade == "with driver >= 580.65.06: PyTorch 2.14 cu130"
    assert "sm_120" in choice.reason and choice.upgrade in choice.reason
    # every newer release was looked at and passed over with its reason
    assert [name for name, _ in choice.passed_over][:3] == ["PyTorch 2.14", "PyTorch 2.13", "PyTorch 2.12"]


def test_rtx_3090_on_driver_455_gets_2_7_cu118_under_minor_compat() -> None:
    choice = choose(nvidia("455.32", "8.6"), "pytorch")
    assert (choice.release, choice.variant, choice.tier) == ("2.7", "cuda11.8", "minor")
    assert "450.80.02" in choice.reason


def test_t4_on_driver_470_gets_2_7_cu118() -> None:
    choice = choose(nvidia("470.82.01", "7.5", "7.5"), "pytorch")
    assert (choice.release, choice.variant) == ("2.7", "cuda11.8")
    assert choice.upgrade == "with driver >= 525.60.13: PyTorch 2.14 cu126"


def test_h100_on_driver_580_gets_a_build_its_driver_fully_supports_and_asks_no_more() -> None:
    choice = choose(nvidia("580.95.05", "9.0"), "pytorch")
    # 2.14 has cu132 too, but only under minor-version compatibility: the fully supported cu130 wins
    assert (choice.release, choice.variant, choice.tier) == ("2.14", "cuda13.0", "full")
    assert choice.require_cuda == "13.0"
    assert choice.upgrade is None


def test_minor_compat_image_requires_only_the_major() -> None:
    # pinned to the cu132 build on a 13.0 driver: the image may ask for CUDA 13.0, never 13.2
    choice = variants.Choice("pytorch", "2.14", "cuda13.2", "", tier="minor")
    assert choice.require_cuda == "13.0"
    assert variants.Choice("pytorch", "2.14", "cuda13.0", "", tier="full").require_cuda == "13.0"


def test_wsl_uses_the_windows_driver_floors() -> None:
    # Windows driver 528.02 is below CUDA 12's Windows minor-compat floor (528.33): no 12.x build
    choice = choose(nvidia("528.02", "8.9", driver_os="Windows"), "pytorch")
    assert choice.variant == "cuda11.8" and choice.release == "2.7"
    linux = choose(nvidia("528.02", "8.9"), "pytorch")  # on Linux, 528.02 >= 525.60.13 runs 12.x
    assert linux.variant.startswith("cuda12")


# --- the policy, case by case ---------------------------------------------------------------------


def test_pascal_on_driver_580_gets_cu126() -> None:
    choice = choose(nvidia("580.95.05", "6.1"), "pytorch")
    assert (choice.release, choice.variant) == ("2.14", "cuda12.6")
    assert "sm_61" in dict(choice.passed_over)["PyTorch 2.14 cu130"]


def test_pinned_release_is_honoured_or_refused_with_the_releases_that_work() -> None:
    pinned = choose(nvidia("580.95.05", "9.0"), "pytorch", "2.5")
    assert (pinned.release, pinned.variant) == ("2.5", "cuda12.4")
    blackwell = choose(nvidia("575.57.08", "12.0"), "pytorch", "2.5")
    assert blackwell.variant == "cpu" and "sm_120" in blackwell.reason
    assert blackwell.alternatives and blackwell.alternatives[0].startswith("2.11")


def test_every_gpu_must_be_covered() -> None:
    assert choose(nvidia("580.95.05", "9.0", "6.1"), "pytorch").variant == "cuda12.6"
    # no build of any release has both sm_61 and sm_120 kernels
    assert choose(nvidia("580.95.05", "12.0", "6.1"), "pytorch").kind == "cpu"


def test_ptx_does_not_count_under_minor_compat() -> None:
    # sm_121 runs cu130 through its sm_120 cubin
    assert choose(nvidia("580.95.05", "12.1"), "pytorch").variant == "cuda13.0"
    full = choose(nvidia("580.95.05", "13.0"), "pytorch")
    assert full.variant == "cuda13.0" and "PTX" in full.reason
    # cu132 on a 13.0 driver runs only under minor compat, where PTX JIT fails
    assert refusal(nvidia("580.95.05", "13.0"), "pytorch", "2.14", "cuda13.2") is not None


def test_driver_known_only_by_its_cuda() -> None:
    assert choose(nvidia(None, "9.0", cuda="13.0"), "pytorch").variant == "cuda13.0"
    choice = choose(nvidia(None, "8.6", cuda="12.4"), "pytorch")
    assert choice.variant.startswith("cuda12") and choice.tier == "minor"
    no_caps = choose(nvidia(None, cuda="12.6"), "pytorch")  # a CPU-only CI runner locking for a fleet
    assert no_caps.variant == "cuda12.6" and "not checked" in no_caps.reason


def test_amd() -> None:
    mi300 = choose(amd("gfx942"), "pytorch")
    assert mi300.variant.startswith("rocm") and mi300.release == torch_chooser.releases()[0]
    unknown = choose(amd("gfx1036"), "pytorch")
    assert unknown.variant == "cpu" and "gfx1036" in unknown.reason
    assert choose(amd("gfx1200"), "pytorch", "2.7").variant == "rocm6.3"


def test_no_gpu_and_unknown_release() -> None:
    none = choose(Target(), "pytorch")
    assert none.variant == "cpu" and none.release == torch_chooser.releases()[0]
    unknown = choose(nvidia("580.95.05", "9.0"), "pytorch", "0.4")
    assert unknown.variant == "cpu" and "0.4" in unknown.reason


def test_tensorflow_crosses_releases_too() -> None:
    newest = choose(nvidia("580.95.05", "9.0"), "tensorflow")
    assert newest.kind == "cuda" and newest.release == variants.newest("tensorflow")
    old = choose(nvidia("470.82.01", "7.5"), "tensorflow")
    assert old.kind == "cuda" and Version(old.release) < Version(newest.release)


def test_tensorflow_on_native_windows_has_no_gpu_build_after_2_10() -> None:
    target = Target(os="Windows", driver_os="Windows", capabilities=("8.6",), nvidia_usable=True,
                    driver="566.36", cuda_driver="12.7")
    assert refusal(target, "tensorflow", "2.15", "cuda12.2") is not None


def test_jax() -> None:
    assert choose(nvidia("580.95.05", "9.0"), "jax").tag == "cuda13"
    pascal = choose(nvidia("580.95.05", "6.1"), "jax")
    assert pascal.tag == "cuda12" and pascal.passed_over[0][0] == "cuda13"
    assert choose(nvidia("535.104.05", "8.0"), "jax").tag == "cuda12"
    assert choose(nvidia(None, "8.6", cuda="12.6"), "jax").tag == "cuda12"
    old = choose(nvidia("470.82.01", "7.5"), "jax")
    assert old.variant == "cpu" and [n for n, _ in old.passed_over] == ["cuda13", "cuda12"]
    assert choose(Target(capabilities=("9.0",)), "jax").variant == "cpu"


# --- properties over generated targets ------------------------------------------------------------

_DRIVERS = sorted({Version(r["linux"]) for r in knowledge.table("cuda_driver").rows if r.get("linux")})
_CAPS = ["3.7", "5.0", "6.1", "7.0", "7.5", "8.0", "8.6", "8.9", "9.0", "10.0", "12.0"]


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(_DRIVERS), st.lists(st.sampled_from(_CAPS), min_size=1, max_size=3))
def test_a_chosen_build_runs_and_no_newer_release_would(driver: Version, caps: list[str]) -> None:
    target = nvidia(str(driver), *dict.fromkeys(caps))
    choice = choose(target, "pytorch")
    releases = torch_chooser.releases()
    if choice.kind == "cuda":
        assert refusal(target, "pytorch", choice.release, choice.variant) is None
        newer = releases[:releases.index(choice.release)]
    else:
        newer = releases
    for release in newer:
        for build in torch_release_variants(release):
            if build.kind == "cuda":
                assert refusal(target, "pytorch", release, variants.setup_variant(build.name)) is not None, \
                    f"{release} {build.name} runs on {target} but {choice.release} {choice.variant} was chosen"


# --- the image: base and NVIDIA_REQUIRE_CUDA come from the same choice ------------------------------


def _docker_plan(name: str, tmp_path: Path) -> Plan:
    request = SetupRequest(framework="pytorch", backend="docker", prefix=tmp_path / "env", out_dir=tmp_path)
    return make_plan(Facts(snapshot_of(name, tmp_path)), request)


def test_h100_on_580_image_asks_no_more_cuda_than_the_driver_has(tmp_path: Path) -> None:
    plan = _docker_plan("h100-driver-580-cuda13", tmp_path)
    assert plan.variant == "cuda13.0" and plan.require_cuda == "13.0"
    assert 'NVIDIA_REQUIRE_CUDA="cuda>=13.0"' in accelerator_env(plan)
    assert choose_base_image(plan).image.startswith("nvidia/cuda:13.0")


def test_rtx5090_image_gets_a_base_of_its_cuda_major(tmp_path: Path) -> None:
    plan = _docker_plan("rtx5090-sm120-torch-cu124", tmp_path)
    assert (plan.version, plan.variant, plan.require_cuda) == ("2.11", "cuda12.8", "12.8")
    # no 12.8 base is pinned: the newest 12.x base not newer than 12.8 carries the cu128 wheels
    assert choose_base_image(plan).image.startswith("nvidia/cuda:12.6")
    assert 'NVIDIA_REQUIRE_CUDA="cuda>=12.8"' in accelerator_env(plan)


def test_an_old_release_gets_a_python_it_has_wheels_for() -> None:
    facts = Facts({"host": {"os": "Linux", "arch": "x86_64"},
                   "nvidia": {"driver_version": "440.33.01", "cuda_driver_version": "10.2",
                              "gpus": [{"compute_capability": "7.5"}]}})
    plan = make_plan(facts, SetupRequest(framework="pytorch", backend="venv"))
    # CUDA 10.2's last PyTorch is 1.12, whose wheels stop at Python 3.10 (RELEASE.md)
    assert (plan.version, plan.variant, plan.python) == ("1.12", "cuda10.2", "3.10")
    with pytest.raises(UsageError, match="3.7 to 3.10"):
        make_plan(facts, SetupRequest(framework="pytorch", backend="venv", python="3.11"))


# --- TensorFlow before 2.14: no [and-cuda] extra -------------------------------------------


def test_old_tensorflow_for_an_old_driver_is_plain_tensorflow_with_system_cuda() -> None:
    """A CUDA 10.2 driver (440.33.01) runs only TensorFlow 2.3 (CUDA 10.1, cuDNN 7.6, the tested-build
    table): 2.3 has no [and-cuda] extra, so the command installs plain `tensorflow` and says what the
    system must provide."""
    from dldoctor.rules.recommend import install_command

    target = Target(driver="440.33.01", cuda_driver="10.2", capabilities=("7.5",), nvidia_usable=True)
    choice = variants.choose(target, "tensorflow")
    assert (choice.release, choice.variant) == ("2.3", "cuda10.1")
    assert install_command(choice) == "pip install 'tensorflow==2.3.*'"
    assert "[and-cuda]" not in install_command(choice)
    assert "CUDA 10.1 and cuDNN 7.6 must be installed on the system" in choice.reason


def test_pinned_tensorflow_213_has_no_extra_but_214_has() -> None:
    """tensorflow/tensorflow#61993 (a real install log): `pip install tensorflow[and-cuda]` resolved to 2.13.1
    and pip said "WARNING: tensorflow 2.13.1 does not provide the extra 'and-cuda'", installing no CUDA
    libraries. 2.13 is recommended as plain `tensorflow` with the system CUDA 11.8 / cuDNN 8.6 it needs."""
    from dldoctor.rules.recommend import install_command

    target = Target(driver="560.35.03", cuda_driver="12.6", capabilities=("8.6",), nvidia_usable=True)
    old = variants.choose(target, "tensorflow", "2.13")
    assert install_command(old) == "pip install 'tensorflow==2.13.*'"
    assert "CUDA 11.8 and cuDNN 8.6 must be installed on the system" in old.reason
    new = variants.choose(target, "tensorflow", "2.14")
    assert install_command(new) == "pip install 'tensorflow[and-cuda]==2.14.*'"
    assert "come as pip wheels" in new.reason
    newest = variants.choose(target, "tensorflow")
    assert install_command(newest) == "pip install 'tensorflow[and-cuda]'"


# --- JAX across releases --------------------------------------------------------------------


def test_jax_on_a_cuda_11_driver_names_the_last_release_that_runs() -> None:
    """Driver 470 (CUDA 11.4) runs neither CUDA 12 (>= 525.60.13) nor CUDA 13 wheels; jax_releases says
    jaxlib 0.4.25 was the last with CUDA 11 wheels (jax[cuda11_pip], CUDA 11.8, under minor-version
    compatibility). The build stays CPU (setup installs only the current extras) and the reason names it."""
    from dldoctor.variants import jax as jax_chooser

    target = Target(driver="470.82.01", cuda_driver="11.4", capabilities=("7.0",), nvidia_usable=True)
    choice = variants.choose(target, "jax")
    assert choice.variant == "cpu"
    assert "jaxlib 0.4.25 (jax[cuda11_pip], CUDA 11.8) was the last release whose CUDA builds this machine runs" \
        in choice.reason
    older = jax_chooser.last_release_that_runs(target)
    assert older is not None and (older.jaxlib_max, older.cuda_major) == ("0.4.25", 11)
    # A Kepler GPU (3.7) is below 0.4.4's floor of 5.2: only 0.4.0-0.4.3 (floor 3.5, unverified) remain.
    kepler = Target(driver="470.82.01", cuda_driver="11.4", capabilities=("3.7",), nvidia_usable=True)
    assert "jaxlib 0.4.3 (jax[cuda], CUDA 11.4)" in variants.choose(kepler, "jax").reason
    assert variants.choose(kepler, "jax").reason.endswith("(unverified)")


def test_jax_with_no_past_release_that_runs_keeps_the_plain_reason() -> None:
    target = Target(driver="440.33.01", cuda_driver="10.2", capabilities=("7.0",), nvidia_usable=True)
    choice = variants.choose(target, "jax")
    assert choice.variant == "cpu"
    assert choice.reason == "JAX CPU: driver 440.33.01 (CUDA 10.2) is too old for JAX's CUDA builds"
    fits = Target(driver="535.104.05", cuda_driver="12.2", capabilities=("8.6",), nvidia_usable=True)
    assert variants.choose(fits, "jax").variant == "cuda12.0"


def test_jax_refusal_of_an_unreadable_cuda_variant_is_a_reason_not_a_crash() -> None:
    target = Target(driver="535.104.05", cuda_driver="12.2", capabilities=("8.6",), nvidia_usable=True)
    assert variants.refusal(target, "jax", "", "cudafoo") == "JAX has no cudafoo build on PyPI"
    assert variants.refusal(target, "jax", "", "cuda12") is None
    assert "580" in (variants.refusal(target, "jax", "", "cuda13.0") or "")
