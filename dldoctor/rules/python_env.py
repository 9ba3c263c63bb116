"""The Python environment: two copies of a framework on sys.path, PYTHONPATH leaking site-packages."""

from __future__ import annotations

from collections.abc import Iterator

from dldoctor.knowledge import vocabulary
from dldoctor.report import Finding, Severity
from dldoctor.rules import explains, rule
from dldoctor.snapshot.facts import Facts, dicts, pick

explains("python.shadowed-framework", "Two copies of a framework on sys.path", """
The same framework is installed twice where this Python looks for packages,
most often once in the environment and once in the user site
(~/.local/lib/pythonX.Y/site-packages, from a `pip install --user` or a pip run
outside the environment). Python imports the first copy on sys.path, which may
be the wrong build (a CPU build shadowing a CUDA build, or an old version),
and mixing their dependencies breaks imports. Remove the stray copy, or keep
the user site out of the environment with PYTHONNOUSERSITE=1.
""")
explains("python.pythonpath-site-packages", "PYTHONPATH points at a site-packages folder", """
PYTHONPATH is put in front of the environment's own site-packages in every
Python that starts, so packages from another environment (or another Python
version) are imported before this environment's. That is how a venv ends up
importing a system-wide torch. Unset PYTHONPATH, or keep it to your own source
folders.
""")

def _is_user_site(location: str, user_site: str | None) -> bool:
    return bool(user_site and location.rstrip("/") == user_site.rstrip("/")) or "/.local/lib/python" in location


@rule
def shadowed_framework(facts: Facts) -> Iterator[Finding]:
    """A framework installed twice on sys.path (user site, another env): the first copy wins."""
    python = pick(facts.python, "executable", kind=str) or "python"
    user_site = pick(facts.python, "user_site", kind=str)
    for fw in facts.frameworks:
        copies = dicts(fw.get("duplicates"))
        if not copies:
            continue
        name = pick(fw, "name", kind=str) or "?"
        first = f"{pick(fw, 'distribution', kind=str) or name} {pick(fw, 'version', kind=str) or '?'}"
        location = pick(fw, "location", kind=str) or "?"
        others = [f"{pick(c, 'distribution', kind=str) or name} {pick(c, 'version', kind=str) or '?'} in "
                  f"{pick(c, 'location', kind=str) or '?'}" for c in copies]
        fix: list[str] = []
        user_copies = [c for c in copies if _is_user_site(pick(c, "location", kind=str) or "", user_site)]
        if _is_user_site(location, user_site):
            dist = pick(fw, "distribution", kind=str) or vocabulary.build_distribution(name)
            fix.append(f"PYTHONNOUSERSITE=1 {python} -m pip uninstall --user {dist}  # run outside the environment: "
                       f"python3 -m pip uninstall {dist}")
            fix.append("export PYTHONNOUSERSITE=1  # keep the user site out of this environment")
        elif user_copies:
            for c in user_copies:
                dist = pick(c, "distribution", kind=str) or vocabulary.build_distribution(name)
                fix.append(f"python3 -m pip uninstall {dist}  # run OUTSIDE the environment: removes the user-site copy")
            fix.append("export PYTHONNOUSERSITE=1  # keep the user site out of this environment")
        else:
            dist = pick(copies[0], "distribution", kind=str) or vocabulary.build_distribution(name)
            fix.append(f"{python} -m pip uninstall {dist}  # repeat until one copy is left, then reinstall the right one")
        yield Finding(
            "python.shadowed-framework", Severity.WARNING,
            f"{name}: {len(copies) + 1} copies on sys.path; {first} from {location} wins",
            "Shadowed: " + "; ".join(others) + ". Python imports the first one; the others' files can still mix in.",
            tuple(fix),
            evidence={"framework": name, "found": [first, *others], "required": "one copy", "imported": location},
        )


@rule
def pythonpath(facts: Facts) -> Iterator[Finding]:
    """PYTHONPATH pointing at a site-packages folder, which puts another environment's packages first."""
    value = facts.env("PYTHONPATH")
    if not value:
        return
    hits = [p for p in value.split(":") if p.rstrip("/").endswith(("site-packages", "dist-packages"))]
    if not hits:
        return
    yield Finding(
        "python.pythonpath-site-packages", Severity.WARNING,
        f"PYTHONPATH puts {hits[0]} ahead of this environment's packages",
        "Packages from that folder are imported instead of the environment's own.",
        ("unset PYTHONPATH  # and remove it from ~/.bashrc / ~/.profile",),
        evidence={"found": hits, "required": "no site-packages on PYTHONPATH"},
    )
