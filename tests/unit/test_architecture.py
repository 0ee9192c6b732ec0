"""The package tree is the pipeline: each stage imports only the stages before it.

Reading `bulk_assign/` top to bottom is reading what happens to a row (docs/architecture.md).
These tests keep it so: a module that imports from a later stage, an import cycle, or a module,
class or function that has outgrown a screen fails here, named, before a reviewer has to spot
it.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "bulk_assign"

#: The stages in pipeline order. The vocabulary (errors, settings, time, row outcomes) may be
#: imported by every stage; the emulator is a separate program that imports none of the tool.
STAGES: tuple[tuple[str, ...], ...] = (
    ("bulk_assign", "bulk_assign.errors", "bulk_assign.settings", "bulk_assign.timestamps",
     "bulk_assign.results", "bulk_assign.stops"),
    ("bulk_assign.sheet",),
    ("bulk_assign.check",),
    ("bulk_assign.api",),
    ("bulk_assign.store",),
    ("bulk_assign.quota",),
    ("bulk_assign.report",),
    ("bulk_assign.run",),
    ("bulk_assign.console",),
    ("bulk_assign.commands",),
    ("bulk_assign.cli_values",),
    ("bulk_assign.cli_parser",),
    ("bulk_assign.cli", "bulk_assign.__main__"),
)

#: Size limits from the reshaping issue ("about 400 lines, about 200, about 60"), with its
#: "about" as a tenth: past these a module, class or function is several.
MODULE_LINES, CLASS_LINES, FUNCTION_LINES = 440, 220, 66


def _modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield ".".join(parts), path


def _imports(name: str, path: Path) -> set[str]:
    """Every bulk_assign module `name` imports, at module level or inside a function."""
    found: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("bulk_assign"))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1]
                                + ([base] if base else []))
            if not base.startswith("bulk_assign"):
                continue
            for alias in node.names:  # `from bulk_assign.run import guard` names a module
                candidate = f"{base}.{alias.name}"
                found.add(candidate if (PACKAGE.parent / candidate.replace(".", "/")).with_suffix(
                    ".py").exists() else base)
    return found


def _stage(module: str) -> int | None:
    best: tuple[int, int] | None = None
    for index, members in enumerate(STAGES):
        for member in members:
            if module == member or module.startswith(member + "."):
                if member == "bulk_assign" and module != "bulk_assign":
                    continue
                if best is None or len(member) > best[1]:
                    best = (index, len(member))
    return None if best is None else best[0]


MODULES = dict(_modules())


@functools.cache
def _graph() -> dict[str, set[str]]:
    """Module -> the bulk_assign modules it imports; parsed once, by the worker that needs it
    (at import, every pytest-xdist worker paid the second it takes)."""
    return {name: _imports(name, path) for name, path in MODULES.items()}


def test_every_module_belongs_to_a_stage() -> None:
    lost = [m for m in MODULES if _stage(m) is None and not m.startswith("bulk_assign.emulator")]
    assert lost == [], f"modules outside every stage (add them to STAGES and the docs): {lost}"


def test_no_stage_imports_a_later_one() -> None:
    upward = []
    for module, imported in _graph().items():
        if module.startswith("bulk_assign.emulator"):
            continue
        for target in imported:
            if target.startswith("bulk_assign.emulator"):
                if module not in ("bulk_assign.cli", "bulk_assign.cli_parser"):  # its command
                    upward.append(f"{module} -> {target}")
                continue
            mine, theirs = _stage(module), _stage(target)
            if mine is not None and theirs is not None and theirs > mine:
                upward.append(f"{module} -> {target}")
    assert upward == [], "imports from a later stage:\n" + "\n".join(sorted(upward))


def test_the_emulator_shares_no_code_with_the_tool() -> None:
    shared = [f"{m} -> {t}" for m, ts in _graph().items() if m.startswith("bulk_assign.emulator")
              for t in ts if not t.startswith("bulk_assign.emulator") and t != "bulk_assign"]
    assert shared == []


def test_no_import_cycle() -> None:
    cycles: list[str] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        stack.append(module)
        for target in sorted(_graph().get(module, ())):
            if target not in _graph() or target == "bulk_assign":
                continue
            if state.get(target) == 1:
                cycles.append(" -> ".join([*stack[stack.index(target):], target]))
            elif target not in state:
                visit(target)
        stack.pop()
        state[module] = 2

    for module in sorted(_graph()):
        if module not in state:
            visit(module)
    assert cycles == [], "import cycles:\n" + "\n".join(cycles)


def _too_long() -> Iterator[str]:
    for module, path in MODULES.items():
        text = path.read_text(encoding="utf-8")
        if text.count("\n") > MODULE_LINES:
            yield f"module {module}: {text.count(chr(10))} lines"
        for node in ast.walk(ast.parse(text)):
            size = (node.end_lineno or node.lineno) - node.lineno + 1 if isinstance(
                node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) else 0
            if isinstance(node, ast.ClassDef) and size > CLASS_LINES:
                yield f"class {module}.{node.name}: {size} lines"
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and size > FUNCTION_LINES:
                yield f"function {module}.{node.name}: {size} lines"


def test_no_module_class_or_function_outgrew_a_screen() -> None:
    assert list(_too_long()) == []
