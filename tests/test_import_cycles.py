"""No import cycles inside runner/: every import statement counts, including those inside functions
and under `if TYPE_CHECKING:` (a cycle hidden in a function is still a cycle: the two modules
cannot be understood, tested or replaced one without the other)."""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import REPO_ROOT

PACKAGE = REPO_ROOT / "runner"

# Cycles accepted for a reason, each with that reason as its value. Empty: no cycle has been
# unavoidable so far. An entry must name a cycle that exists (a stale entry fails the test).
KNOWN_CYCLES: dict[frozenset[str], str] = {}


def module_names(package: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package (a package is its __init__)."""
    names = {}
    for path in package.rglob("*.py"):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def imported_modules(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The modules of the package that `name` imports anywhere in its source.

    `from pkg import sub` depends on the module `pkg.sub` when there is one, else on `pkg`
    (importing a submodule runs its package's __init__ first, but that does not make the
    submodule depend on what the __init__ imports).
    """
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            submodules = [f"{base}.{alias.name}" for alias in node.names]
            targets = [t for t in submodules if t in known]
            if len(targets) < len(submodules):
                targets.append(base)
        else:
            continue
        for target in targets:
            while target and target not in known:  # `import runner.x.y` of a function's module
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph(package: Path) -> dict[str, set[str]]:
    known = module_names(package)
    return {name: imported_modules(name, path, known) for name, path in known.items()}


def cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    lowest: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []

    def visit(node: str) -> None:
        index[node] = lowest[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                lowest[node] = min(lowest[node], lowest[target])
            elif target in on_stack:
                lowest[node] = min(lowest[node], index[target])
        if lowest[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(frozenset(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def describe(component: frozenset[str], graph: dict[str, set[str]]) -> str:
    return "\n".join(f"  {name} imports {', '.join(sorted(graph[name] & component))}" for name in sorted(component))


def test_runner_has_no_import_cycles() -> None:
    graph = import_graph(PACKAGE)
    found = cycles(graph)
    unknown = [c for c in found if c not in KNOWN_CYCLES]
    assert not unknown, "import cycles in runner/ (move what both sides need into a module both import):\n" + \
        "\n\n".join(describe(c, graph) for c in unknown)
    stale = [sorted(c) for c in KNOWN_CYCLES if c not in found]
    assert not stale, f"KNOWN_CYCLES lists cycles that no longer exist; remove them: {stale}"


def test_the_cycle_check_sees_imports_inside_functions_and_type_checking_blocks(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("def f():\n    from pkg.sub import b\n")
    (package / "sub" / "__init__.py").write_text("")
    (package / "sub" / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..a import f\n")
    (package / "c.py").write_text("import pkg.sub.b\nfrom pkg import a\n")
    graph = import_graph(package)
    assert graph["pkg.a"] == {"pkg.sub.b"}
    assert graph["pkg.sub.b"] == {"pkg.a"}
    assert graph["pkg.c"] == {"pkg.sub.b", "pkg.a"}
    assert cycles(graph) == [frozenset({"pkg.a", "pkg.sub.b"})]


def test_only_the_command_line_depends_on_the_command_line() -> None:
    """Library code and the web UI never reach into runner/cli (nor typer): what both front ends
    show lives in neutral modules such as runner/runview.py."""
    front_end = ("runner.cli", "runner.__main__")
    offenders = []
    for name, path in module_names(PACKAGE).items():
        if name == front_end[1] or name == front_end[0] or name.startswith(front_end[0] + "."):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            imported = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else []
            offenders += [f"{name} imports {i}" for i in imported if i.split(".")[0] == "typer"
                          or i == "runner.cli" or i.startswith("runner.cli.")]
    assert not offenders, "\n".join(offenders)
