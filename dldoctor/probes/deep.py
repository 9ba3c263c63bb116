"""`--deep`: import each framework in a child process of the target interpreter.

What the framework itself reports (devices it sees, the GPU architectures it
was compiled for, the CUDA/cuDNN libraries it actually loaded, warnings it
raised) is the ground truth that metadata can only predict. Each import runs
with a timeout, in a child, so a framework that hangs or crashes costs at most
that and never touches dldoctor's own process.
"""

from __future__ import annotations

import json
from typing import Any

from dldoctor.machine import Machine
from dldoctor.probes import Notes

MARKER = "DLDOCTOR-DEEP-JSON "

_PRELUDE = r"""
import json, sys, time, warnings
info = {"framework": sys.argv[1]}
caught = []
def loaded_libraries():
    keys = ("libcuda.so", "libcudart", "libcudnn", "libnccl", "libcublas", "libnvrtc", "libamdhip64",
            "librocblas", "libMIOpen", "libnvidia-ml", "libtensorflow_framework", "libxla")
    found = set()
    try:
        with open("/proc/self/maps") as fh:
            for line in fh:
                path = line.split()[-1] if "/" in line else ""
                if any(k in path for k in keys):
                    found.add(path)
    except OSError:
        return None
    return sorted(found)
def finish():
    info["warnings"] = [str(w.message)[:500] for w in caught]
    info["loaded_libraries"] = loaded_libraries()
    print("DLDOCTOR-DEEP-JSON " + json.dumps(info, default=str))
"""

_SNIPPETS = {
    "pytorch": r"""
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    t = time.perf_counter()
    import torch
    info["import_s"] = round(time.perf_counter() - t, 3)
    info["version"] = torch.__version__
    info["cuda_build"] = torch.version.cuda
    info["hip_build"] = getattr(torch.version, "hip", None)
    info["cuda_available"] = torch.cuda.is_available()
    info["device_count"] = torch.cuda.device_count() if info["cuda_available"] else 0
    info["arch_list"] = torch.cuda.get_arch_list()
    info["devices"] = [
        {"index": i, "name": torch.cuda.get_device_name(i),
         "capability": "%d.%d" % torch.cuda.get_device_capability(i)}
        for i in range(info["device_count"])
    ]
    info["cudnn"] = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    mps = getattr(torch.backends, "mps", None)
    info["mps_available"] = bool(mps and mps.is_available())
    xpu = getattr(torch, "xpu", None)
    info["xpu_available"] = bool(xpu and xpu.is_available())
""",
    "tensorflow": r"""
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    t = time.perf_counter()
    import tensorflow as tf
    info["import_s"] = round(time.perf_counter() - t, 3)
    info["version"] = tf.__version__
    build = dict(tf.sysconfig.get_build_info())
    keys = ("cuda_version", "cudnn_version", "is_cuda_build", "is_rocm_build", "cuda_compute_capabilities")
    info["build_info"] = {k: build.get(k) for k in keys}
    gpus = tf.config.list_physical_devices("GPU")
    info["device_count"] = len(gpus)
    info["devices"] = [{"index": i, "name": g.name} for i, g in enumerate(gpus)]
""",
    "jax": r"""
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    t = time.perf_counter()
    import jax
    info["import_s"] = round(time.perf_counter() - t, 3)
    info["version"] = jax.__version__
    info["default_backend"] = jax.default_backend()
    devices = jax.devices()
    info["devices"] = [{"index": d.id, "name": getattr(d, "device_kind", str(d)), "platform": d.platform} for d in devices]
    info["device_count"] = len([d for d in devices if d.platform != "cpu"])
""",
}

_GENERIC = r"""
import importlib
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    t = time.perf_counter()
    module = importlib.import_module(sys.argv[2])
    info["import_s"] = round(time.perf_counter() - t, 3)
    info["version"] = getattr(module, "__version__", None)
    if sys.argv[2] == "onnxruntime":
        info["providers"] = module.get_available_providers()
    if sys.argv[2] == "paddle":
        info["cuda_build"] = module.device.is_compiled_with_cuda()
        info["device_count"] = module.device.cuda.device_count() if info["cuda_build"] else 0
"""

_MODULES = {"keras": "keras", "paddlepaddle": "paddle", "mxnet": "mxnet", "cntk": "cntk",
            "nnabla": "nnabla", "onnxruntime": "onnxruntime"}


def deep_snippet(framework: str) -> str | None:
    body = _SNIPPETS.get(framework) or (_GENERIC if framework in _MODULES else None)
    if body is None:
        return None
    return _PRELUDE + "try:\n" + _indent(body) + (
        "\nexcept BaseException as exc:\n    info['error'] = '%s: %s' % (type(exc).__name__, exc)\nfinish()\n"
    )


def _indent(text: str) -> str:
    return "\n".join("    " + line if line else line for line in text.strip("\n").splitlines())


def deep_probe(machine: Machine, notes: Notes, frameworks: dict[str, Any],
               timeout_s: float | None = None) -> dict[str, Any]:
    """Add `deep` results to each installed framework of the `frameworks` section."""
    executable = (frameworks.get("python") or {}).get("executable")
    if not executable:
        return frameworks
    timeout = timeout_s if timeout_s is not None else max(60.0, machine.timeout_s * 12)
    updated = []
    for entry in frameworks.get("installed", []):
        name = entry.get("name")
        snippet = deep_snippet(name) if isinstance(name, str) else None
        if snippet is None:
            updated.append(entry)
            continue
        run = machine.runner.run([executable, "-c", snippet, name, _MODULES.get(name, name)], timeout_s=timeout)
        result: dict[str, Any] | None = None
        for line in reversed(run.stdout.splitlines()):
            if line.startswith(MARKER):
                try:
                    result = json.loads(line[len(MARKER):])
                except ValueError:
                    result = None
                break
        if result is None:
            failure = run.describe_failure() if not run.ok else "printed no result"
            tail = run.stderr.strip().splitlines()[-1:] if run.stderr.strip() else []
            notes.fail(f"frameworks.deep.{name}", failure + (f" ({tail[0][:200]})" if tail and tail[0] not in failure else ""))
            result = {"framework": name, "error": failure}
        updated.append(entry | {"deep": result})
    return frameworks | {"installed": updated}
