"""The layering of docs/architecture.md, held mechanically: each package imports only the layers below it.

Every ``import`` in a module counts, including those inside functions (a lazy import is still a dependency
of the design). A new module must be placed in the table, so the test also fails on an unplaced one.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[2] / "src" / "claude_foundry"

VOCABULARY = {"claude_foundry", "claude_foundry.contract", "claude_foundry.errors", "claude_foundry.catalogue",
              "claude_foundry.provider_data", "claude_foundry.iso3166", "claude_foundry.files",
              "claude_foundry.jsontext"}
#: The part of ``azure/`` that is pure data (no SDK import): ids, API versions, type tokens, role ids, and the
#: one ARM-resource shape.
AZURE_IDS = {"claude_foundry.azure", "claude_foundry.azure.arm", "claude_foundry.azure.resource"}

#: layer (a package or module prefix) -> the prefixes of ours it may import (besides itself).
ALLOWED: dict[str, set[str]] = {
    "vocabulary": set(),
    "claude_foundry.client": {"claude_foundry.azure", "claude_foundry.azure.arm"},  # ARM facts: pure data
    "claude_foundry.azure": set(),
    "claude_foundry.program": AZURE_IDS,
    "claude_foundry.rehearse": {"claude_foundry.azure", "claude_foundry.program"},
    "claude_foundry.ops": {"claude_foundry.azure", "claude_foundry.program", "claude_foundry.client"},
    "claude_foundry.sandbox": AZURE_IDS,
    "claude_foundry.testing": {"claude_foundry.azure", "claude_foundry.program"},
    "claude_foundry.cli": {"claude_foundry"},  # anything; nothing imports it
}
#: The front door (``claude_foundry/__init__.py``) re-exports, on first use, what a team uses, from these homes
#: only; for everything that imports it, it is vocabulary (``__version__``).
FRONT_DOOR = {"claude_foundry.errors", "claude_foundry.client", "claude_foundry.program.spec"}
#: third-party packages a layer must never import (what keeps the light install light).
FORBIDDEN_THIRD_PARTY: dict[str, tuple[str, ...]] = {
    "vocabulary": ("pulumi", "pulumi_azure_native", "azure.mgmt", "starlette", "uvicorn", "rich", "anthropic"),
    "claude_foundry.client": ("pulumi", "pulumi_azure_native", "azure.mgmt", "starlette", "uvicorn"),
    "claude_foundry.azure": ("pulumi", "pulumi_azure_native", "starlette", "uvicorn", "anthropic"),
    "claude_foundry.ops": ("starlette", "uvicorn"),
    "claude_foundry.sandbox": ("pulumi", "pulumi_azure_native", "anthropic"),
}


def module_name(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> str | None:
    if module in VOCABULARY:
        return "vocabulary"
    for layer in sorted((k for k in ALLOWED if k != "vocabulary"), key=len, reverse=True):
        if module == layer or module.startswith(layer + "."):
            return layer
    return None


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, imported module) for every import in the file; ``from a import b`` yields ``a.b`` when ``a.b``
    is a module of ours, else ``a``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend((node.lineno, a.name) for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for a in node.names:
                candidate = f"{node.module}.{a.name}"
                is_module = (PKG.parent / Path(*candidate.split("."))).with_suffix(".py").is_file() or \
                    (PKG.parent / Path(*candidate.split(".")) / "__init__.py").is_file()
                out.append((node.lineno, candidate if is_module else node.module))
    return out


MODULES = sorted(PKG.rglob("*.py"))


def test_every_module_has_a_layer() -> None:
    unplaced = [module_name(p) for p in MODULES if layer_of(module_name(p)) is None]
    assert not unplaced, f"place these modules in the layer table (tests/unit/test_layers.py): {unplaced}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_imports_follow_the_layers(path: Path) -> None:
    me = module_name(path)
    layer = layer_of(me)
    assert layer is not None
    allowed = ALLOWED[layer]
    bad = []
    for line, name in imports_of(path):
        if _within(name, "claude_foundry"):
            theirs = layer_of(name)
            ok = (theirs == layer or theirs == "vocabulary" or layer == "claude_foundry.cli"
                  or any(_within(name, a) for a in allowed)
                  or (me == "claude_foundry" and any(_within(name, a) for a in FRONT_DOOR)))
            if theirs == "claude_foundry.cli" and layer != "claude_foundry.cli":
                ok = False  # nothing imports the CLI
            if not ok:
                bad.append(f"{path.relative_to(PKG.parent)}:{line}: {me} ({layer}) imports {name} ({theirs})")
        else:
            for forbidden in FORBIDDEN_THIRD_PARTY.get(layer, ()):
                if _within(name, forbidden):
                    bad.append(f"{path.relative_to(PKG.parent)}:{line}: {me} ({layer}) imports {name}")
    assert not bad, "imports outside the layer table of docs/architecture.md:\n" + "\n".join(bad)


def test_no_import_cycles_at_module_level() -> None:
    """Module-level imports between our modules form no cycle (a package's ``__init__`` re-exporting its
    own submodules is a parent edge, not a cycle)."""
    graph: dict[str, set[str]] = {}
    for path in MODULES:
        me = module_name(path)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        deps: set[str] = set()
        for node in tree.body:
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            deps.update(n for n in names if _within(n, "claude_foundry") and n != me
                        and not _within(n, me))  # a package importing its own submodules
        graph[me] = deps
    seen: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        seen[node] = 1
        stack.append(node)
        for dep in sorted(graph.get(node, ())):
            if dep not in graph:
                continue
            if seen.get(dep) == 1:
                return [*stack[stack.index(dep):], dep]
            if dep not in seen:
                cycle = visit(dep)
                if cycle:
                    return cycle
        stack.pop()
        seen[node] = 2
        return None

    for node in sorted(graph):
        if node not in seen:
            cycle = visit(node)
            assert cycle is None, "import cycle: " + " -> ".join(cycle)


@pytest.mark.parametrize("module", sorted(AZURE_IDS))
def test_azure_ids_are_pure_data(module: str) -> None:
    """What the client and the sandbox may import from ``azure/`` imports nothing outside the standard
    library and the vocabulary (so it works on the light install)."""
    import sys

    path = (PKG.parent / Path(*module.split("."))).with_suffix(".py")
    if not path.is_file():
        path = PKG.parent / Path(*module.split(".")) / "__init__.py"
    for line, name in imports_of(path):
        top = name.split(".")[0]
        assert top in sys.stdlib_module_names or name in VOCABULARY or name in AZURE_IDS, \
            f"{path.name}:{line} imports {name}"


def test_the_table_catches_a_forbidden_import(tmp_path: Path) -> None:
    """The checker itself: a client module importing the Pulumi program is reported."""
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from claude_foundry.program.plan import plan\n", encoding="utf-8")
    names = [n for _, n in imports_of(bad)]
    assert "claude_foundry.program.plan" in names
    assert layer_of("claude_foundry.program.plan") == "claude_foundry.program"
    assert not any(_within("claude_foundry.program.plan", a) for a in ALLOWED["claude_foundry.client"])
