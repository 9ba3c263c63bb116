"""The layout holds: no import circle among dldoctor's modules, and the knowledge tables are read
only through the knowledge package."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "dldoctor"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(node: ast.stmt) -> bool:
    test = node.test if isinstance(node, ast.If) else None
    return isinstance(test, ast.Name) and test.id == "TYPE_CHECKING" or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def module_level_statements(body: list[ast.stmt]) -> list[ast.stmt]:
    """The statements that run when the module is imported: the top level, and inside top-level
    if/try blocks (not under `if TYPE_CHECKING:`), never inside functions or classes."""
    out: list[ast.stmt] = []
    for node in body:
        out.append(node)
        if isinstance(node, ast.If) and not _is_type_checking(node):
            out += module_level_statements(node.body) + module_level_statements(node.orelse)
        elif isinstance(node, ast.Try):
            out += module_level_statements(node.body + node.orelse + node.finalbody
                                           + [s for h in node.handlers for s in h.body])
    return out


def imports_of(name: str, path: Path) -> set[str]:
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in module_level_statements(ast.parse(path.read_text(encoding="utf-8")).body):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                found.add(f"{source}.{alias.name}" if f"{source}.{alias.name}" in MODULES else source)
    # Importing a.b.c first runs the packages a and a.b: an edge to each, except to the packages this
    # module is inside (they are already being imported when it runs).
    own = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)}
    for module in list(found):
        parts = module.split(".")
        found |= {".".join(parts[:i]) for i in range(1, len(parts))} - own
    return {m for m in found if m in MODULES and m != name}


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                out.append(sorted(component))
    return out


def test_the_graph_sees_the_imports_it_should() -> None:
    graph = {name: imports_of(name, path) for name, path in MODULES.items()}
    assert "dldoctor.snapshot.facts" in graph["dldoctor.variants.target"]
    assert "dldoctor.smoke.payload.markers" in graph["dldoctor.smoke.run"]
    assert "dldoctor.smoke.payload.markers" in graph["dldoctor.smoke.payload.main"]  # relative import
    assert "dldoctor.smoke.payload" in graph["dldoctor.smoke.run"]  # the package runs first
    assert "dldoctor.smoke.payload" not in graph["dldoctor.smoke.payload.main"]  # its own package does not count
    # A cycle is found when there is one.
    assert strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"], ["d"]]


def test_no_import_circle() -> None:
    graph = {name: imports_of(name, path) for name, path in MODULES.items()}
    circles = [c for c in strongly_connected(graph) if len(c) > 1]
    assert circles == []


TABLES = {p.name for p in (PACKAGE / "knowledge" / "data").glob("*.json")}


def table_reads(text: str) -> list[str]:
    """What in `text` names a knowledge table file or the folder that holds them."""
    found = []
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if "knowledge/data" in node.value or node.value in TABLES:
                found.append(repr(node.value))
        elif isinstance(node, ast.Name) and node.id == "DATA_DIR":
            found.append("DATA_DIR")
        elif isinstance(node, ast.Attribute) and node.attr == "DATA_DIR":
            found.append(".DATA_DIR")
    return found


def test_a_table_read_is_seen() -> None:
    assert table_reads('json.loads((ROOT / "knowledge" / "data" / "gpu_peaks.json").read_text())') == [
        "'gpu_peaks.json'"]
    assert table_reads("from dldoctor.knowledge import DATA_DIR\nDATA_DIR / name") == ["DATA_DIR"]
    assert table_reads('knowledge.table("gpu_peaks")') == []


def test_only_the_knowledge_package_opens_its_tables() -> None:
    offenders = [f"{name}: {read}" for name, path in MODULES.items() if not name.startswith("dldoctor.knowledge")
                 for read in table_reads(path.read_text(encoding="utf-8"))]
    assert offenders == []


def test_every_rule_and_probe_entry_point_has_a_docstring() -> None:
    missing = []
    for name, path in MODULES.items():
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if not isinstance(node, ast.FunctionDef):
                continue
            is_rule = any(isinstance(d, ast.Name) and d.id == "rule" for d in node.decorator_list)
            is_probe = name.startswith("dldoctor.probes.") and node.name.startswith("probe_")
            if (is_rule or is_probe) and not ast.get_docstring(node):
                missing.append(f"{name}.{node.name}")
    assert missing == []


def test_the_framework_verdict_is_a_tuple_of_small_steps() -> None:
    from dldoctor.rules import frameworks

    assert len(frameworks.VERDICT_STEPS) >= 10
    for step in frameworks.VERDICT_STEPS:
        source = ast.get_source_segment(PACKAGE.joinpath("rules/frameworks.py").read_text(), next(
            n for n in ast.parse(PACKAGE.joinpath("rules/frameworks.py").read_text()).body
            if isinstance(n, ast.FunctionDef) and n.name == step.__name__))
        assert source is not None and source.count("\n") < 40, step.__name__
        assert step.__doc__, step.__name__


def _top_level_names(path: Path) -> set[str]:
    """The functions, classes and assigned names a module defines at its top level."""
    names: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


#: Shared helpers of setup/ that have one home (the module named); nothing else under setup/ defines them.
SETUP_HOMES = {"Progress": "dldoctor.setup.progress", "write_atomic": "dldoctor.output",
               "sha256_file": "dldoctor.output", "cache_root": None, "this_platform": "dldoctor.setup.platforms",
               "target_platform": "dldoctor.setup.platforms", "docker_platform": "dldoctor.setup.platforms",
               "conda_subdir": "dldoctor.setup.platforms", "resolver_reason": "dldoctor.setup.pip_errors",
               "network_lines": "dldoctor.setup.pip_errors", "staging_path": "dldoctor.setup.staging",
               "swap_into": "dldoctor.setup.staging", "get_backend": "dldoctor.setup.pipeline",
               "run_setup": "dldoctor.setup.pipeline", "usable_backend": "dldoctor.setup.choose"}


def test_no_two_setup_modules_define_the_same_helper() -> None:
    """A private helper (or a shared one of SETUP_HOMES) is defined in one module of setup/ only: no second
    `write_atomic`, `Progress =`, platform map or pip-error reader copied into a backend."""
    setup = {n: _top_level_names(p) for n, p in MODULES.items() if n.startswith("dldoctor.setup")}
    where: dict[str, list[str]] = {}
    for module, names in setup.items():
        for helper in names:
            if helper.startswith("_") and not helper.startswith("__") or helper in SETUP_HOMES:
                where.setdefault(helper, []).append(module)
    twice = {h: m for h, m in where.items() if len(m) > 1 and h not in ("cache_root",)}
    assert twice == {}
    misplaced = {h: m for h, m in where.items() if SETUP_HOMES.get(h) and m != [SETUP_HOMES[h]]}
    assert misplaced == {}


def test_xdg_folders_atomic_writes_and_the_progress_alias_are_said_once() -> None:
    """$XDG_* is read in dldoctor/paths.py only, a temporary file is made for an atomic write in
    dldoctor/output.py only, and setup's `Progress` alias is defined in setup/progress.py only."""
    xdg = [n for n, p in MODULES.items() if n != "dldoctor.paths" and any(
        isinstance(s, ast.Constant) and isinstance(s.value, str) and s.value.startswith("XDG_")
        for s in ast.walk(ast.parse(p.read_text(encoding="utf-8"))))]
    assert xdg == []
    mkstemp = [n for n, p in MODULES.items() if "mkstemp(" in p.read_text(encoding="utf-8") and n != "dldoctor.output"]
    assert mkstemp == []
    progress = [n for n, p in MODULES.items() if "Progress = Callable[[str], None]" in p.read_text(encoding="utf-8")]
    assert progress == ["dldoctor.setup.progress"]
