"""GPU health: ECC errors, pending retirements, PCIe links, throttling, lost GPUs, and probes that failed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from dldoctor.report import Finding, Severity
from dldoctor.rules import explains, rule
from dldoctor.snapshot.facts import Facts, pick, strings

explains("health.ecc-uncorrected", "Uncorrected ECC memory errors", """
The GPU counted uncorrectable (double-bit) ECC memory errors since the driver
loaded. Any process using the GPU when one happened got corrupted data or was
killed. A reset retires the bad pages or remaps the rows; if the count keeps
rising, the board needs replacing (cloud: stop and start the instance to move
to other hardware, and report it).
""")
explains("health.retirement-pending", "Retired pages or row remapping pending", """
The GPU has memory pages to retire (older GPUs) or rows to remap (A100 and
newer) that only take effect after the GPU is reset. Until then the faulty
memory may still be used. Reset the GPU with no process on it, or reboot.
""")
explains("health.row-remap-failed", "Row remapping failed", """
The GPU ran out of spare rows to remap faulty memory into. The board is
failing and should be replaced (cloud: move to other hardware).
""")
explains("health.pcie-degraded", "PCIe link below its maximum", """
The GPU's PCIe link runs at fewer lanes (or a lower generation under load)
than it and the slot support. Host-device copies are slower. Usual causes: a
card not seated fully, a riser or slot that is electrically narrower, BIOS
settings. Links drop to a low generation when idle to save power: that alone is
normal, which is why an idle GPU's generation is not reported.
""")
explains("health.throttling", "The GPU is throttling", """
The driver reports that clocks are being slowed by a hardware slowdown,
thermal slowdown or a power brake. Check cooling (fans, airflow, inlet
temperature) and power delivery; under sustained thermal slowdown the GPU runs
far below its rated speed.
""")
explains("health.persistence-off", "Persistence mode is off", """
Without persistence mode the driver tears the GPU state down when the last
client exits and sets it up again for the next one, which costs seconds per
start on a headless server and can race with monitoring tools. NVIDIA
recommends the persistence daemon (nvidia-persistenced) on servers.
""")
explains("health.mig-enabled", "MIG mode is enabled", """
Multi-Instance GPU partitions the GPU into slices. CUDA programs see only the
MIG instances they are given (by UUID), never the whole GPU; with MIG on and no
instances created, frameworks see no GPU at all.
""")
explains("health.gpu-lost", "A GPU has fallen off the bus", """
NVML reports the GPU as lost or unreachable (often Xid 79 in the kernel log).
No program can use it until the GPU is reset or the machine rebooted; if it
recurs, suspect power, cooling or the board itself.
""")
explains("health.gpu-count-mismatch", "The driver sees fewer GPUs than the PCI bus", """
The PCI bus lists more NVIDIA GPUs than the driver reports. A GPU may have
failed to initialise, fallen off the bus, or be bound to another driver
(vfio-pci for a virtual machine).
""")
explains("host.probe-failed", "Some facts could not be gathered", """
One or more of dldoctor's probes failed or timed out (for example nvidia-smi
hanging). The verdicts that depend on those facts may be missing; the message
of each failure says what happened.
""")

_THROTTLE = ("hw_slowdown", "hw_thermal_slowdown", "sw_thermal_slowdown", "hw_power_brake_slowdown")


def _label(gpu: dict[str, Any]) -> str:
    index = pick(gpu, "index", kind=int)
    name = pick(gpu, "name", kind=str)
    return f"GPU {index if index is not None else '?'}" + (f" ({name})" if name else "")


def _reset(gpu: dict[str, Any]) -> tuple[str, ...]:
    index = pick(gpu, "index", kind=int)
    target = f" -i {index}" if index is not None else ""
    return (f"sudo nvidia-smi --gpu-reset{target}  # with no process on the GPU", "or: sudo reboot")


@rule
def gpu_health(facts: Facts) -> Iterator[Finding]:
    """A GPU in a bad state: lost, uncorrected ECC errors, pending retirement or failed row remap, a degraded
    PCIe link, throttling, MIG or persistence mode, fewer GPUs than on the bus."""
    for gpu in facts.gpus:
        error = pick(gpu, "error", kind=str)
        if error:
            yield Finding(
                "health.gpu-lost", Severity.ERROR, f"{_label(gpu)} is unreachable: {error[:120]}",
                "The driver cannot talk to this GPU; nothing can use it until it is reset or the machine rebooted.",
                (*_reset(gpu), "sudo dmesg | grep -i xid  # Xid 79: fallen off the bus; Xid 48: double-bit ECC"),
                evidence={"gpu": pick(gpu, "index", kind=int), "error": error},
            )
            continue
        yield from _memory(gpu)
        yield from _pcie(gpu)
        reasons = strings(gpu.get("clocks_event_reasons"))
        active = [r for r in _THROTTLE if r in reasons]
        if active:
            temp = pick(gpu, "temperature_c", kind=int)
            yield Finding(
                "health.throttling", Severity.WARNING,
                f"{_label(gpu)} is throttling: {', '.join(active)}" + (f" at {temp} °C" if temp is not None else ""),
                "The clocks are held down by the hardware; work runs slower than the GPU's rating.",
                ("nvidia-smi -q -d PERFORMANCE,TEMPERATURE,POWER  # see which limit is hit",
                 "check fans, airflow and inlet temperature; check the power cables and PSU"),
                evidence={"gpu": pick(gpu, "index", kind=int), "reasons": active, "temperature_c": temp,
                          "power_draw_w": pick(gpu, "power_draw_w", kind=float)},
            )
        if pick(gpu, "mig_mode", kind=bool):
            yield Finding(
                "health.mig-enabled", Severity.WARNING, f"{_label(gpu)} has MIG enabled: frameworks see MIG slices only",
                "Each process sees only the MIG instances it is given (CUDA_VISIBLE_DEVICES=MIG-<uuid>), never the "
                "whole GPU; with no instance created, frameworks see no GPU at all.",
                ("nvidia-smi -L  # lists the MIG instances and their UUIDs",
                 f"sudo nvidia-smi -i {pick(gpu, 'index', kind=int) or 0} -mig 0  # to turn MIG off (needs a GPU reset)"),
                evidence={"gpu": pick(gpu, "index", kind=int), "found": "MIG on"},
            )
    yield from _persistence(facts)
    yield from _count(facts)


def _memory(gpu: dict[str, Any]) -> Iterator[Finding]:
    uncorrected = pick(gpu, "ecc_errors_uncorrected", kind=int)
    if uncorrected:
        yield Finding(
            "health.ecc-uncorrected", Severity.ERROR, f"{_label(gpu)} has {uncorrected} uncorrected ECC error(s)",
            "Uncorrectable memory errors corrupt data or kill jobs; the memory may be failing.",
            (*_reset(gpu), "nvidia-smi -q -d ECC,PAGE_RETIREMENT,ROW_REMAPPER  # if errors recur, replace the board"),
            evidence={"gpu": pick(gpu, "index", kind=int), "found": uncorrected, "required": 0},
        )
    if pick(gpu, "remapped_rows_failure", kind=bool):
        yield Finding(
            "health.row-remap-failed", Severity.ERROR, f"{_label(gpu)} ran out of spare rows to remap",
            "The GPU memory cannot be repaired any more; the board should be replaced.",
            ("nvidia-smi -q -d ROW_REMAPPER", "cloud: stop and start the instance to move to other hardware"),
            evidence={"gpu": pick(gpu, "index", kind=int)},
        )
    pending = [n for n in ("retired_pages_pending", "remapped_rows_pending") if pick(gpu, n, kind=bool)]
    if pending:
        yield Finding(
            "health.retirement-pending", Severity.WARNING,
            f"{_label(gpu)} has {' and '.join(p.replace('_', ' ') for p in pending)}: reset to apply",
            "Faulty memory is only taken out of use after the GPU is reset.",
            _reset(gpu), evidence={"gpu": pick(gpu, "index", kind=int), "found": pending},
        )


def _pcie(gpu: dict[str, Any]) -> Iterator[Finding]:
    link = gpu.get("pcie_link")
    if not isinstance(link, dict):
        return
    cur_w, max_w = pick(link, "current_width", kind=int), pick(link, "max_width", kind=int)
    cur_g, max_g = pick(link, "current_gen", kind=int), pick(link, "max_gen", kind=int)
    idle = "gpu_idle" in strings(gpu.get("clocks_event_reasons"))
    narrow = cur_w is not None and max_w is not None and 0 < cur_w < max_w
    slow = cur_g is not None and max_g is not None and 0 < cur_g < max_g and not idle
    if not (narrow or slow):
        return
    found = f"Gen{cur_g} x{cur_w}"
    required = f"Gen{max_g} x{max_w}"
    yield Finding(
        "health.pcie-degraded", Severity.WARNING, f"{_label(gpu)} PCIe link runs at {found}, the maximum is {required}",
        "Host-to-GPU copies are slower than they should be" + (" (fewer lanes than the card has)." if narrow else "."),
        ("nvidia-smi -q -d PCIE  # compare while the GPU is busy",
         "reseat the card / check the riser and the BIOS PCIe settings"),
        evidence={"gpu": pick(gpu, "index", kind=int), "found": found, "required": required},
    )


def _persistence(facts: Facts) -> Iterator[Finding]:
    off = [g for g in facts.working_gpus if pick(g, "persistence_mode", kind=bool) is False]
    if not off or facts.wsl or facts.in_container:
        return
    # Laptops and desktops with a display do fine without it; servers and cloud boxes should have it.
    server = facts.cloud is not None or len(facts.working_gpus) > 1 or any(
        "tesla" in (n := (pick(g, "name", kind=str) or "").lower()) or any(
            k in n for k in ("h100", "h200", "a100", "a10", "l4", "l40", "t4", "v100", "b200", "gh200"))
        for g in facts.working_gpus)
    if not server:
        return
    yield Finding(
        "health.persistence-off", Severity.INFO,
        f"persistence mode is off on {len(off)} GPU(s) of a headless server",
        "Each CUDA start re-initialises the GPU, costing seconds.",
        ("sudo systemctl enable --now nvidia-persistenced", "or: sudo nvidia-smi -pm 1  # until the next reboot"),
        evidence={"gpus": [pick(g, "index", kind=int) for g in off], "found": "off", "required": "on"},
    )


def _count(facts: Facts) -> Iterator[Finding]:
    if facts.wsl or facts.in_container or not facts.gpus:
        return
    pci = facts.nvidia_pci
    # vfio-pci (VM passthrough) devices are not the driver's to see.
    ours = [d for d in pci if pick(d, "driver", kind=str) in (None, "nvidia")]
    if len(ours) > len(facts.gpus):
        yield Finding(
            "health.gpu-count-mismatch", Severity.ERROR,
            f"the PCI bus lists {len(ours)} NVIDIA GPUs, the driver sees {len(facts.gpus)}",
            "A GPU failed to initialise or has fallen off the bus.",
            ("sudo dmesg | grep -iE 'nvrm|xid'", "sudo reboot  # if a GPU stays missing, it needs service"),
            evidence={"found": len(facts.gpus), "required": len(ours)},
        )


@rule
def probe_failures(facts: Facts) -> Iterator[Finding]:
    """Probes that failed or timed out, so the report says what it could not see."""
    from dldoctor.rules.driver import NVIDIA_PROBES, driver_broken

    failures = facts.probe_failures
    if failures and driver_broken(facts):
        # nvidia-smi failing on a driver that is not loaded or mismatched is the driver finding's evidence, not news.
        failures = [f for f in failures if not (pick(f, "probe", kind=str) or "").startswith(NVIDIA_PROBES)]
    if not failures:
        return
    items = [f"{pick(f, 'probe', kind=str) or '?'}: {pick(f, 'message', kind=str) or pick(f, 'error', kind=str) or '?'}"
             for f in failures]
    yield Finding(
        "host.probe-failed", Severity.WARNING, f"{len(items)} probe(s) failed: " + "; ".join(i[:80] for i in items[:3]),
        "\n".join(items),
        ("dldoctor snapshot --timeout 30  # retry with a longer timeout if a tool hung",),
        evidence={"failures": items},
    )
