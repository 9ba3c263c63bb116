"""The one answer to "which backend can work on this machine?".

`usable_backend` is what `setup` uses when no `--backend` is given and what
`check` words as the setup command it recommends, so the advice is a command
that can work here: conda only when its channel answers (a quick bounded
probe of the channel's repodata, or a local channel folder), venv when a
package index answers (the one the venv backend would use, else the ones
pip or uv are configured with, file:// indexes and find-links folders
included), each with the reason in one line.
"""

from __future__ import annotations

import functools
import json
import os
import re
import socket
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import unquote, urlsplit

from dldoctor import __version__
from dldoctor.paths import cache_base, cache_dir
from dldoctor.runner import Runner
from dldoctor.setup.plan import Plan, SetupRequest, make_plan, with_reason
from dldoctor.snapshot.facts import Facts

#: How long one reachability probe may take (a HEAD request; DNS failures answer at once).
PROBE_TIMEOUT_S = 3.0
CONDA_CHANNEL_ALIAS = "https://conda.anaconda.org"


@dataclass(frozen=True)
class Reach:
    """Whether one source answered, and how."""

    ok: bool
    where: str  # the host or folder, for people
    detail: str  # "HTTP 200", "timed out", "Name or service not known"


@dataclass(frozen=True)
class BackendChoice:
    """The backend that can work here, the options it needs, and why, in one line."""

    name: str  # conda, venv
    why: str
    #: Options the backend needs here beyond the user's (pip's configured find-links or index).
    find_links: tuple[str, ...] = ()
    extra_index_urls: tuple[str, ...] = ()
    usable: bool = True  # False: nothing answered; `name` is the default and will fail with `why`
    short: str = ""  # the reason in a few words, for `check`'s recommendation

    def args(self) -> list[str]:
        """The setup options for it: ["--backend", "venv", "--find-links", "/opt/wheels"]."""
        out = ["--backend", self.name] if self.name != "conda" else []
        out += [a for f in self.find_links for a in ("--find-links", f)]
        out += [a for u in self.extra_index_urls for a in ("--extra-index-url", u)]
        return out


#: How long a remote probe's answer is reused (`check` runs often; a TLS handshake costs a second on a slow
#: machine): remembered in $XDG_CACHE_HOME/dldoctor/reach.json.
REMEMBER_S = 600.0


def _remembered_path() -> Path | None:
    """$XDG_CACHE_HOME/dldoctor/reach.json; None when that cache folder is not an existing absolute folder
    (dldoctor never makes a cache root of its own in a home without one, nor in the current folder)."""
    base = cache_base()
    return cache_dir("reach.json") if os.path.isabs(base) and os.path.isdir(base) else None


def _remembered(url: str) -> Reach | None:
    path = _remembered_path()
    if path is None:
        return None
    try:
        entry = json.loads(path.read_text(encoding="utf-8")).get(url)
    except (OSError, ValueError, AttributeError):
        return None
    if not isinstance(entry, dict) or not 0 <= time.time() - float(entry.get("at", 0)) < REMEMBER_S:
        return None
    return Reach(bool(entry.get("ok")), str(entry.get("where")), str(entry.get("detail")))


def _remember(url: str, reach: Reach) -> None:
    from dldoctor.output import write_atomic

    path = _remembered_path()
    if path is None:
        return
    try:
        doc = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
        if not isinstance(doc, dict):
            doc = {}
    except (OSError, ValueError):
        doc = {}
    now = time.time()
    doc = {k: v for k, v in doc.items() if isinstance(v, dict) and now - float(v.get("at", 0)) < REMEMBER_S}
    doc[url] = {"ok": reach.ok, "where": reach.where, "detail": reach.detail, "at": now}
    try:
        write_atomic(path, json.dumps(doc, sort_keys=True), make_parents=True)
    except Exception:  # noqa: BLE001  (a cache that cannot be written only costs the next probe)
        pass


@functools.lru_cache(maxsize=64)
def probe(url: str, timeout_s: float = PROBE_TIMEOUT_S) -> Reach:
    """Does `url` answer? A local path or file:// URL must exist; http(s) gets one HEAD request, bounded
    (its answer is reused for `REMEMBER_S`)."""
    parts = urlsplit(url)
    if parts.scheme in ("", "file"):
        path = Path(unquote(parts.path) if parts.scheme else url).expanduser()
        return Reach(path.exists(), str(path), "present" if path.exists() else "no such file or folder")
    host = parts.hostname or url
    if parts.scheme not in ("http", "https"):
        return Reach(False, host, f"{parts.scheme}:// is not supported")
    known = _remembered(url)
    if known is not None:
        return known
    reach = _head(url, host, timeout_s)
    _remember(url, reach)
    return reach


def _head(url: str, host: str, timeout_s: float) -> Reach:
    request = urllib.request.Request(url, method="HEAD", headers={"User-Agent": f"dldoctor/{__version__}"})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return Reach(True, host, f"HTTP {response.status}")
    except urllib.error.HTTPError as exc:
        return Reach(exc.code == 405, host, f"HTTP {exc.code}")  # 405: it answered, HEAD is just not allowed
    except TimeoutError:
        return Reach(False, host, f"timed out after {timeout_s:g}s")
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, (TimeoutError, socket.timeout)):
            return Reach(False, host, f"timed out after {timeout_s:g}s")
        text = getattr(reason, "strerror", None) or str(reason)
        return Reach(False, host, str(text))
    except (OSError, ValueError) as exc:
        return Reach(False, host, str(exc) or type(exc).__name__)


def conda_repodata_url(channel: str | None) -> str:
    """The repodata the solver reads first for `channel` (a name, URL or local folder)."""
    from dldoctor.setup.conda.spec import channel_url

    url = channel_url(channel)
    if "://" not in url:
        url = f"{CONDA_CHANNEL_ALIAS}/{url}"
    return f"{url.rstrip('/')}/noarch/repodata.json"


def conda_reach(channel: str | None, timeout_s: float = PROBE_TIMEOUT_S) -> Reach:
    return probe(conda_repodata_url(channel), timeout_s)


_LIST_SPLIT = re.compile(r"[\s]+")


_FROM_PIP: dict[tuple[tuple[str, str], ...], tuple[tuple[str, ...], tuple[str, ...]]] = {}


def configured_sources(runner: Runner | None = None, *, ask_pip: bool = True) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(indexes, find-links) that pip and uv are configured with here: the environment's, then (`ask_pip`)
    pip's config files as `pip config list` reads them (once per environment: pip takes a second to start)."""
    runner = runner or Runner()
    env: Mapping[str, str] = runner.env
    indexes: list[str] = []
    links: list[str] = []
    for key in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "UV_INDEX_URL", "UV_DEFAULT_INDEX", "UV_EXTRA_INDEX_URL",
                "UV_INDEX"):
        indexes += [v for v in _LIST_SPLIT.split(env.get(key, "")) if v]
    for key in ("PIP_FIND_LINKS", "UV_FIND_LINKS"):
        links += [v for v in _LIST_SPLIT.split(env.get(key, "")) if v]
    if ask_pip:
        seen = tuple(sorted(env.items()))
        if seen not in _FROM_PIP:
            _FROM_PIP[seen] = _pip_config(runner)
        indexes += _FROM_PIP[seen][0]
        links += _FROM_PIP[seen][1]
    return tuple(dict.fromkeys(indexes)), tuple(dict.fromkeys(links))


def _pip_config(runner: Runner) -> tuple[tuple[str, ...], tuple[str, ...]]:
    indexes: list[str] = []
    links: list[str] = []
    done = runner.run([sys.executable, "-m", "pip", "config", "list"], timeout_s=15)
    if done.ok:
        for line in done.stdout.splitlines():
            key, sep, value = line.partition("=")
            if not sep:
                continue
            values = [v for v in _LIST_SPLIT.split(value.strip().strip("'\"")) if v]
            if key.endswith((".index-url", ".extra-index-url")):
                indexes += values
            elif key.endswith(".find-links"):
                links += values
    return tuple(indexes), tuple(links)


def _torch_wheels(folder: str, label: str) -> list[str]:
    """The torch versions with the `+label` build in a local find-links folder ("2.13.0+cpu")."""
    path = Path(unquote(urlsplit(folder).path) if folder.startswith("file:") else folder).expanduser()
    try:
        names = [p.name for p in path.glob(f"torch-*+{label}-*.whl")]
    except OSError:
        return []
    return sorted({n.split("-")[1] for n in names})


def venv_reach(framework: str, torch_variant: str, release: str | None, *, index_url: str | None = None,
               extra_index_urls: tuple[str, ...] = (), find_links: tuple[str, ...] = (), runner: Runner | None = None,
               timeout_s: float = PROBE_TIMEOUT_S) -> tuple[Reach, tuple[str, ...], tuple[str, ...], str]:
    """(what answered, find-links needed, extra indexes needed, a note) for the venv backend."""
    from dldoctor.setup.venv.wheels import NO_INDEX, default_index

    given = [u for u in (index_url, *extra_index_urls) if u and u.strip().lower() not in NO_INDEX] + list(find_links)
    if given:
        answers = [probe(u, timeout_s) for u in given]
        good = next((a for a in answers if a.ok), None)
        return (good or answers[0]), (), (), ""
    default = probe(default_index(framework, torch_variant), timeout_s)
    if default.ok:
        return default, (), (), ""
    if framework == "pytorch":
        # Only the variant's own build will do (PyPI's Linux torch is a CUDA build): a folder that holds it.
        # The environment's folders first: pip is asked only when they have none.
        links = configured_sources(runner, ask_pip=False)[1]
        if not any(_torch_wheels(f, torch_variant) for f in links):
            links = configured_sources(runner)[1]
        for folder in links:
            versions = _torch_wheels(folder, torch_variant)
            if not versions:
                continue
            note = ""
            public = [v.split("+")[0] for v in versions]
            if release and not any(v == release or v.startswith(release + ".") for v in public):
                note = (f"; {folder} holds torch {', '.join(versions)}, not {release}: "
                        f"ask for \"pytorch=={versions[-1].split('+')[0]}\"")
            return Reach(True, folder, f"torch +{torch_variant} wheels"), (folder,), (), note
        return default, (), (), ""
    for url in configured_sources(runner)[0]:
        reach = probe(url, timeout_s)
        if reach.ok:
            return reach, (), (url,), ""
    return default, (), (), ""


def usable_backend(framework: str, kind: str, torch_variant: str, release: str | None = None, *,
                   channel: str | None = None, index_url: str | None = None, extra_index_urls: tuple[str, ...] = (),
                   find_links: tuple[str, ...] = (), runner: Runner | None = None,
                   timeout_s: float = PROBE_TIMEOUT_S) -> BackendChoice:
    """The backend that can build `framework`'s `kind` build here: conda when its channel answers, else venv
    when an index does; when neither does, conda (the default) marked unusable, with both reasons."""
    conda_why = ""
    if kind == "rocm":
        conda_why = "conda: ROCm builds are not published on conda channels"
    elif not (index_url or extra_index_urls or find_links):
        conda = conda_reach(channel, timeout_s)
        if conda.ok:
            return BackendChoice("conda", f"conda: the channel answers ({conda.where}, {conda.detail})")
        conda_why = f"conda: no channel reachable ({conda.where}: {conda.detail})"
    venv, links, extras, note = venv_reach(framework, torch_variant, release, index_url=index_url,
                                           extra_index_urls=extra_index_urls, find_links=find_links, runner=runner,
                                           timeout_s=timeout_s)
    head = f"{conda_why} — " if conda_why else ""
    if venv.ok:
        short = ("venv: ROCm builds are not on conda channels" if kind == "rocm"
                 else "venv: no conda channel answers") + note
        return BackendChoice("venv", f"{head}using venv ({venv.where}: {venv.detail}){note}", links, extras,
                             short=short)
    why = f"{head}venv: no package index reachable ({venv.where}: {venv.detail})"
    return BackendChoice("venv" if kind == "rocm" else "conda", why, usable=False,
                         short="no conda channel and no package index answer here: see `dldoctor setup --help` "
                               "for --channel and --index-url")




def plan_with_usable_backend(facts: Facts, request: SetupRequest) -> Plan:
    """The plan, on the backend asked for, or (`backend="auto"`) on the one `usable_backend` finds; the reason
    is the plan's `backend` line."""
    if request.backend != "auto":
        return make_plan(facts, request)
    first = make_plan(facts, replace(request, backend="conda"))
    choice = usable_backend(first.framework, first.kind, first.torch_index_variant, first.release,
                            channel=request.channel, index_url=request.index_url,
                            extra_index_urls=request.extra_index_urls, find_links=request.find_links)
    plan = first
    if choice.name != "conda" or choice.find_links or choice.extra_index_urls:
        plan = make_plan(facts, replace(request, backend=choice.name,
                                        find_links=(*request.find_links, *choice.find_links),
                                        extra_index_urls=(*request.extra_index_urls, *choice.extra_index_urls)))
    return with_reason(plan, f"backend {plan.backend}", choice.why)
