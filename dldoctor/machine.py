"""The machine the probes look at: its files, its commands, its NVML.

Probes never touch `/`, `os.environ` or `pynvml` directly; they go through a
`Machine`. The real machine is `Machine.this_one()`. Tests build a simulated
one from a scenario folder (a fake filesystem root, recorded commands on PATH,
a fake libnvidia-ml.so.1 under the real bindings) and run the very same probe
code against it.
"""

from __future__ import annotations

import ctypes
import importlib.util
import itertools
import os
import platform
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dldoctor.runner import DEFAULT_TIMEOUT_S, Runner


@dataclass(frozen=True)
class UserInfo:
    name: str
    uid: int
    gids: tuple[int, ...]
    home: str


#: Where a driver install puts libnvidia-ml.so.1: the distros, the container toolkit's mounts, WSL.
NVML_LIBRARY_DIRS = (
    "/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib",
    "/usr/local/nvidia/lib64", "/usr/local/nvidia/lib", "/usr/lib/wsl/lib",
    "/usr/lib/x86_64-linux-gnu/nvidia/current",
)
NVML_SONAME = "libnvidia-ml.so.1"

_private_copies = itertools.count()


def load_nvml_bindings(library: str | os.PathLike[str] | None = None) -> Any:
    """NVIDIA's official bindings (nvidia-ml-py's `pynvml`), bound to a libnvidia-ml.so.1.

    Without `library`: the imported `pynvml`, whose loader asks the dynamic
    linker for libnvidia-ml.so.1 as the driver's own tools do. With `library`
    (a file, usually in another root): a private copy of the module, so that
    its loaded library, function-pointer cache and refcount are its own, whose
    own `_LoadNvmlLibrary` opens that file. A file that is missing or not a
    library makes nvmlInit raise NVMLError_LibraryNotFound, as on a machine
    without the driver. Raises ImportError when nvidia-ml-py is not installed.
    """
    import pynvml  # imported only when needed

    if library is None:
        return pynvml
    path = os.fspath(library)
    name = f"_dldoctor_pynvml_{next(_private_copies)}"
    spec = importlib.util.spec_from_file_location(name, pynvml.__file__)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load a private copy of {pynvml.__file__}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # the bindings register their error classes through sys.modules[__name__]
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[name]

    def open_library(soname: str, *args: Any, **kwargs: Any) -> ctypes.CDLL:
        # _LoadNvmlLibrary opens CDLL("libnvidia-ml.so.1"). glibc reads LD_LIBRARY_PATH once, at
        # process start, so the only way to point that search at another root is to answer the
        # name here; the bindings' own locking and error mapping still run around it.
        return ctypes.CDLL(path if soname == NVML_SONAME else soname, *args, **kwargs)

    setattr(module, "CDLL", open_library)  # noqa: B010  (a module attribute mypy cannot see)
    return module


def nvml_library_in(root: Path) -> Path:
    """The libnvidia-ml.so.1 a machine rooted at `root` would load (the first of the driver's
    directories that has one; the first directory's path when none has)."""
    candidates = [root / d.lstrip("/") / NVML_SONAME for d in NVML_LIBRARY_DIRS]
    return next((c for c in candidates if c.exists()), candidates[0])


def _real_user() -> UserInfo:
    import pwd

    uid = os.getuid()
    try:
        entry = pwd.getpwuid(uid)
        name, home = entry.pw_name, entry.pw_dir
    except KeyError:
        name, home = str(uid), os.environ.get("HOME", "/")
    return UserInfo(name=name, uid=uid, gids=tuple(sorted(set(os.getgroups()))), home=home)


def _real_glibc() -> str | None:
    try:
        value = os.confstr("CS_GNU_LIBC_VERSION")  # "glibc 2.36"
    except (ValueError, OSError, AttributeError):
        return None
    if not value or not value.startswith("glibc "):
        return None
    return value.split()[1]


@dataclass(frozen=True)
class Command:
    """A command found on a machine's PATH."""

    #: Where PATH has it, as a host path: commands run on the host (a simulated machine's are fake
    #: executables in a folder of their own).
    found: str
    #: The file it is after symlinks, as the machine names it (its host path when it is outside the root).
    resolved: str
    #: Its first bytes: a wrapper script's shebang and the line that execs the real tool.
    head: bytes


def _real_cwd() -> str | None:
    try:
        return os.getcwd()
    except OSError:  # the folder was deleted under us
        return None


@dataclass
class Machine:
    """Everything a probe may look at, rooted at `root`."""

    root: Path
    env: Mapping[str, str]
    runner: Runner
    system: str
    arch: str
    glibc: str | None
    hostname: str
    user: UserInfo
    #: The interpreter dldoctor runs under (the default one to inspect).
    own_python: str
    #: Returns the pynvml module to use, instead of `nvml()`'s choice (tests); raises if it cannot.
    load_nvml: Callable[[], Any] | None = None
    #: True for the machine dldoctor runs on: enables in-process shortcuts.
    is_local: bool = False
    #: The folder the user runs dldoctor in (a machine path; None: unknown), where a `.venv` may be.
    cwd: str | None = None
    timeout_s: float = DEFAULT_TIMEOUT_S
    _memo: dict[str, Any] = field(default_factory=dict, repr=False)
    _memo_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def this_one(cls, timeout_s: float = DEFAULT_TIMEOUT_S) -> Machine:
        env = dict(os.environ)
        uname = platform.uname()
        return cls(
            root=Path("/"),
            env=env,
            runner=Runner(env=env, default_timeout_s=timeout_s),
            system=uname.system,
            arch=uname.machine,
            glibc=_real_glibc(),
            hostname=uname.node,
            user=_real_user(),
            own_python=sys.executable,
            is_local=True,
            timeout_s=timeout_s,
            cwd=_real_cwd(),
        )

    # --- NVML --------------------------------------------------------------
    def nvml(self) -> Any:
        """NVIDIA's pynvml bound to this machine's libnvidia-ml.so.1.

        The machine dldoctor runs on asks the dynamic linker; a machine seen
        through another root (a mounted image, a simulated machine) loads the
        root's own library. Raises ImportError without nvidia-ml-py.
        """
        if self.load_nvml is not None:
            return self.load_nvml()
        if self.root == Path("/"):
            return load_nvml_bindings()
        return load_nvml_bindings(nvml_library_in(self.root))

    # --- files -------------------------------------------------------------
    def path(self, machine_path: str | os.PathLike[str]) -> Path:
        """The host path of `machine_path` (an absolute path on the machine)."""
        text = os.fspath(machine_path)
        return self.root / text.lstrip("/")

    def machine_path(self, host_path: Path) -> str:
        """The inverse of `path`: how the machine itself names `host_path`."""
        try:
            rel = host_path.relative_to(self.root)
        except ValueError:
            return str(host_path)
        return "/" + str(rel) if str(rel) != "." else "/"

    def read_text(self, machine_path: str, limit: int = 1 << 20) -> str | None:
        """The file's text, or None when it is missing or unreadable."""
        try:
            with open(self.path(machine_path), encoding="utf-8", errors="replace") as fh:
                return fh.read(limit)
        except (OSError, ValueError):
            return None

    def read_bytes(self, machine_path: str, limit: int = 1 << 16) -> bytes | None:
        try:
            with open(self.path(machine_path), "rb") as fh:
                return fh.read(limit)
        except OSError:
            return None

    def exists(self, machine_path: str) -> bool:
        return os.path.lexists(self.path(machine_path))

    def is_dir(self, machine_path: str) -> bool:
        return self.path(machine_path).is_dir()

    def resolve(self, machine_path: str) -> str:
        """`machine_path` with its symlinks followed, as the machine names the result."""
        return self.machine_path(Path(os.path.realpath(self.path(machine_path))))

    def command(self, name: str, head_bytes: int = 4096) -> Command | None:
        """The first `name` on PATH: where PATH has it, the file it resolves to, and its first bytes."""
        found = next(self.which_all(name), None)
        if found is None:
            return None
        real = Path(os.path.realpath(found))
        try:
            with open(real, "rb") as fh:
                head = fh.read(head_bytes)
        except OSError:
            head = b""
        return Command(found=found, resolved=self.machine_path(real), head=head)

    def glob(self, pattern: str) -> list[str]:
        """Machine paths matching an absolute glob `pattern`, sorted."""
        hits = self.root.glob(pattern.lstrip("/"))
        return sorted(self.machine_path(p) for p in hits)

    def listdir(self, machine_path: str) -> list[str]:
        try:
            return sorted(os.listdir(self.path(machine_path)))
        except OSError:
            return []

    def readlink_name(self, machine_path: str) -> str | None:
        """The last component of a symlink's target (sysfs `driver` links)."""
        try:
            return os.path.basename(os.readlink(self.path(machine_path)))
        except OSError:
            return None

    def home(self) -> str:
        return self.env.get("HOME") or self.user.home

    def memo(self, key: str, compute: Callable[[], Any]) -> Any:
        """Compute a value shared between probes at most once (thread-safe)."""
        with self._memo_lock:
            if key not in self._memo:
                self._memo[key] = compute()
            return self._memo[key]

    def which_all(self, name: str) -> Iterator[str]:
        """Every `name` on PATH, in PATH order, as machine paths."""
        seen: set[str] = set()
        for entry in self.env.get("PATH", "").split(os.pathsep):
            if not entry:
                continue
            candidate = os.path.join(entry, name)
            if candidate not in seen and os.access(candidate, os.X_OK) and os.path.isfile(candidate):
                seen.add(candidate)
                yield candidate
