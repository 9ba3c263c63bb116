"""Join the payload's modules into the one stdlib-only source sent to the target.

The target interpreter need not have dldoctor installed, so the host sends it
text: the modules of this package, in `PAYLOAD_MODULES` order, with their
imports of each other removed (the names are all defined in the one file) and
each `embedded(...)` call replaced by the joined text it names. Top-level names
are unique across the package, which `join` checks.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

HERE = Path(__file__).parent

#: The payload's modules, each after the ones it uses; `main` runs it.
PAYLOAD_MODULES = (
    "markers", "correctness", "compiled", "discovery", "framework",
    "torch_framework", "tensorflow_framework", "jax_framework",
    "collective", "device_loop", "main",
)


def embedded(*modules: str) -> str:
    """The joined text of `modules`: the source of a child process the payload starts."""
    return join(modules)


def payload_source() -> str:
    """The payload's source text, as piped into the target interpreter (`python - ARGS`):
    the package's docstring, then its modules joined."""
    doc = ast.get_docstring(ast.parse((HERE / "__init__.py").read_text(encoding="utf-8")), clean=False)
    return f'"""{doc}"""\n\n' + _joined(PAYLOAD_MODULES)


def join(modules: tuple[str, ...] | list[str]) -> str:
    """One module's text made of `modules` (names in this package), in order."""
    return _joined(tuple(modules))


@functools.cache
def _joined(modules: tuple[str, ...]) -> str:
    parts = ["from __future__ import annotations\n"]
    owner: dict[str, str] = {}
    for name in modules:
        text = (HERE / f"{name}.py").read_text(encoding="utf-8")
        tree = ast.parse(text)
        for defined in _top_level_names(tree):
            if defined in owner:
                raise ValueError(f"payload modules {owner[defined]} and {name} both define {defined}")
            owner[defined] = name
        parts.append(f"\n# ---- {name}.py\n\n" + _rewrite(text, tree))
    return "".join(parts)


def _top_level_names(tree: ast.Module) -> list[str]:
    names: list[str] = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.append(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names += [t.id for t in targets if isinstance(t, ast.Name)]
    return names


def _rewrite(text: str, tree: ast.Module) -> str:
    """`text` without `from __future__` and in-package imports, with `embedded(...)` calls expanded."""
    edits: list[tuple[int, int, str]] = []
    starts = [0]
    for line in text.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))

    def offset(lineno: int, col: int) -> int:
        line = text[starts[lineno - 1]:starts[lineno]]
        return starts[lineno - 1] + len(line.encode("utf-8")[:col].decode("utf-8"))

    def span(node: ast.expr | ast.stmt) -> tuple[int, int]:
        assert node.end_lineno is not None and node.end_col_offset is not None
        return offset(node.lineno, node.col_offset), offset(node.end_lineno, node.end_col_offset)

    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and (node.level > 0 or node.module == "__future__"):
            edits.append((*span(node), ""))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            if any(m.split(".")[0] == "dldoctor" for m in modules):
                raise ValueError(f"payload module imports dldoctor: line {node.lineno}")
    # `embedded(...)` is only ever the value of a top-level assignment (NAME = embedded("a", "b")).
    for node in tree.body:
        call = node.value if isinstance(node, (ast.Assign, ast.AnnAssign)) else None
        if isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "embedded":
            names = tuple(arg.value for arg in call.args if isinstance(arg, ast.Constant) and isinstance(arg.value, str))
            if len(names) != len(call.args):
                raise ValueError(f"embedded() takes module names as string literals: line {call.lineno}")
            edits.append((*span(call), repr(join(names))))
    for start, end, new in sorted(edits, reverse=True):
        text = text[:start] + new + text[end:]
    return text
