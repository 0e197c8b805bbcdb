"""The layering of docs/architecture.md, held mechanically: each package imports only the layers below it.

Every ``import`` in a module counts, including those inside functions (a lazy import is still a dependency
of the design). A new module must be placed in the table, so the test also fails on an unplaced one.

Two distributions live in this repository: ``claude-foundry`` (``src/claude_foundry``) and
``claude-foundry-sandbox`` (``sandbox/src/claude_foundry_sandbox``). The sandbox imports the core's vocabulary;
the core never imports the sandbox, except the CLI commands that run it, inside a function (after the extra check),
so ``pip install claude-foundry`` never needs it. The sandbox may import the core's private vocabulary
(``claude_foundry._contract``, ``claude_foundry._azure.arm`` …): one git tag releases both distributions.

Only the documented surface is public (``PUBLIC``); every other module of the core has a ``_`` in its path, and the
programs a team writes or gets from us (``infra/``, ``examples/``, ``policy/``, the ``init`` scaffold) import public
paths only.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PKG = ROOT / "src" / "claude_foundry"
#: The second distribution's package (claude-foundry-sandbox, sandbox/pyproject.toml).
SANDBOX_PKG = ROOT / "sandbox" / "src" / "claude_foundry_sandbox"
SANDBOX = "claude_foundry_sandbox"

VOCABULARY = {"claude_foundry", "claude_foundry._contract", "claude_foundry._errors", "claude_foundry._catalogue",
              "claude_foundry._provider_data", "claude_foundry._iso3166", "claude_foundry._files",
              "claude_foundry._jsontext"}
#: The part of ``azure/`` that is pure data (no SDK import): ids, API versions, type tokens, role ids, and the
#: one ARM-resource shape.
AZURE_IDS = {"claude_foundry._azure", "claude_foundry._azure.arm", "claude_foundry._azure.resource"}

#: The public import paths (docs/library.md, docs/architecture.md "The front door"); every other module of the
#: core distribution has a ``_``-prefixed component in its path.
PUBLIC = {"claude_foundry", "claude_foundry.testing", "claude_foundry.pytest_plugin", "claude_foundry.program",
          "claude_foundry.program.components", "claude_foundry.program.spec", "claude_foundry.program.policy",
          "claude_foundry.cli", "claude_foundry.cli.__main__"}

#: layer (a package or module prefix) -> the prefixes of ours it may import (besides itself).
ALLOWED: dict[str, set[str]] = {
    "vocabulary": set(),
    "claude_foundry._client": {"claude_foundry._azure", "claude_foundry._azure.arm"},  # ARM facts: pure data
    "claude_foundry._azure": set(),
    "claude_foundry.program": AZURE_IDS,
    "claude_foundry._rehearse": {"claude_foundry._azure", "claude_foundry.program"},
    "claude_foundry._ops": {"claude_foundry._azure", "claude_foundry.program", "claude_foundry._client"},
    SANDBOX: AZURE_IDS,  # the other distribution: the core's vocabulary and ARM ids, nothing else of it
    "claude_foundry.testing": {"claude_foundry._azure", "claude_foundry.program"},
    "claude_foundry.pytest_plugin": {"claude_foundry._client"},  # the smoke test as pytest tests
    "claude_foundry.cli": {"claude_foundry"},  # anything; nothing imports it
}
#: The front door (``claude_foundry/__init__.py``) re-exports, on first use, what a team uses, from these homes
#: only; for everything that imports it, it is vocabulary (``__version__``).
FRONT_DOOR = {"claude_foundry._errors", "claude_foundry._client", "claude_foundry.program.spec"}
#: third-party packages a layer must never import (what keeps the light install light). ``yaml`` (pyyaml) is the
#: [cli] extra's: the vocabulary (the catalogue is JSON) and the runtime read none; ``program/spec`` reads stack
#: files with it only through ``yamlfile``, imported when a stack file is read.
FORBIDDEN_THIRD_PARTY: dict[str, tuple[str, ...]] = {
    "vocabulary": ("pulumi", "pulumi_azure_native", "azure.mgmt", "starlette", "uvicorn", "rich", "anthropic",
                   "yaml"),
    "claude_foundry._client": ("pulumi", "pulumi_azure_native", "azure.mgmt", "starlette", "uvicorn", "yaml"),
    "claude_foundry.pytest_plugin": ("pulumi", "pulumi_azure_native", "azure.mgmt", "starlette", "uvicorn", "yaml"),
    "claude_foundry._azure": ("pulumi", "pulumi_azure_native", "starlette", "uvicorn", "anthropic"),
    "claude_foundry._ops": ("starlette", "uvicorn"),
    SANDBOX: ("pulumi", "pulumi_azure_native", "anthropic", "rich"),
}


def _source_root(path: Path) -> Path:
    """The directory a module's dotted name is relative to (``src`` or ``sandbox/src``)."""
    return SANDBOX_PKG.parent if path.is_relative_to(SANDBOX_PKG) else PKG.parent


def module_name(path: Path) -> str:
    rel = path.relative_to(_source_root(path)).with_suffix("")
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


def _is_our_module(name: str) -> bool:
    for root in (PKG.parent, SANDBOX_PKG.parent):
        where = root / Path(*name.split("."))
        if where.with_suffix(".py").is_file() or (where / "__init__.py").is_file():
            return True
    return False


def _type_checking_only(tree: ast.AST) -> set[int]:
    """ids of the import nodes under ``if TYPE_CHECKING:`` (annotations only: never run)."""
    out: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            out.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    return out


def _function_level(tree: ast.AST) -> set[int]:
    """ids of the nodes inside a function (run when it is called, not when the module is imported)."""
    out: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            out.update(id(n) for n in ast.walk(node) if n is not node)
    return out


def import_nodes(path: Path, *, runtime_only: bool = False) -> list[tuple[ast.stmt, str, bool]]:
    """(node, imported module, inside a function) for every import in the file; ``from a import b`` yields ``a.b``
    when ``a.b`` is a module of ours, else ``a``. ``runtime_only`` leaves out ``if TYPE_CHECKING:`` imports."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    skip = _type_checking_only(tree) if runtime_only else set()
    lazy = _function_level(tree)
    out: list[tuple[ast.stmt, str, bool]] = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            out.extend((node, a.name, id(node) in lazy) for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for a in node.names:
                candidate = f"{node.module}.{a.name}"
                out.append((node, candidate if _is_our_module(candidate) else node.module, id(node) in lazy))
    return out


def imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, imported module) for every import in the file, inside functions and ``TYPE_CHECKING`` too."""
    return [(node.lineno, name) for node, name, _ in import_nodes(path)]


def _ours(name: str) -> bool:
    return _within(name, "claude_foundry") or _within(name, SANDBOX)


MODULES = sorted([*PKG.rglob("*.py"), *SANDBOX_PKG.rglob("*.py")])


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
        if _ours(name):
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


def import_graph() -> dict[str, set[str]]:
    """module -> the modules of ours it imports when run: at module level and inside functions (a lazy import
    is still an edge), ``if TYPE_CHECKING:`` imports left out (they never run). A package's ``__init__``
    importing its own submodules is a parent edge, not a dependency."""
    graph: dict[str, set[str]] = {}
    for path in MODULES:
        me = module_name(path)
        graph[me] = {name for _, name, _ in import_nodes(path, runtime_only=True)
                     if _ours(name) and name != me and not _within(name, me)}
    return graph


#: The one module of the core that imports pyyaml ([cli]) at module level, and the one that imports it (lazily).
YAML_READER = "claude_foundry.program.spec._yamlfile"
YAML_READER_USER = "claude_foundry.program.spec._loader"


def test_pyyaml_is_imported_only_when_a_yaml_file_is_read() -> None:
    """The core install has no pyyaml: importing any module of the core (the runtime, the spec's schema, the CLI's
    commands) must not need it. Only :data:`YAML_READER` imports it at module level, and only the loader imports
    that, inside a function (which turns a missing pyyaml into ExtraMissing); anything else reading or writing YAML
    (an operator's command) imports pyyaml inside a function."""
    bad = []
    for path in MODULES:
        me = module_name(path)
        if _within(me, SANDBOX):
            continue
        for node, name, lazy in import_nodes(path, runtime_only=True):
            if _within(name, "yaml") and not lazy and me != YAML_READER:
                bad.append(f"{path.relative_to(ROOT)}:{node.lineno}: {me} imports {name} at module level")
            if name == YAML_READER and (me != YAML_READER_USER or not lazy):
                bad.append(f"{path.relative_to(ROOT)}:{node.lineno}: {me} imports {name} (only the loader may, "
                           "inside a function)")
    assert not bad, "\n".join(bad)


def test_the_core_distribution_never_imports_the_sandbox() -> None:
    """``pip install claude-foundry`` has no claude-foundry-sandbox: no module of the core imports it, except the
    CLI commands that run the sandbox, and those only inside a function (after ``require_extras`` names the
    extra to install when it is missing)."""
    bad = []
    for path in MODULES:
        me = module_name(path)
        if _within(me, SANDBOX):
            continue
        for node, name, lazy in import_nodes(path):
            if not _within(name, SANDBOX):
                continue
            if not _within(me, "claude_foundry.cli"):
                bad.append(f"{path.relative_to(ROOT)}:{node.lineno}: {me} imports {name} (only the CLI may)")
            elif not lazy:
                bad.append(f"{path.relative_to(ROOT)}:{node.lineno}: {me} imports {name} at module level "
                           "(the core install has no sandbox: import it inside the command)")
    assert not bad, "the core distribution imports the sandbox distribution:\n" + "\n".join(bad)


def _private(module: str) -> bool:
    return any(p.startswith("_") and not p.endswith("__") for p in module.split(".")[1:])


def test_everything_but_the_public_surface_is_private() -> None:
    """A module of the core is in ``PUBLIC`` or has a ``_`` in its path; each public path exists."""
    core = {module_name(p) for p in MODULES if not _within(module_name(p), SANDBOX)}
    neither = sorted(m for m in core if m not in PUBLIC and not _private(m))
    assert not neither, f"public by accident (add a _ to the path, or to PUBLIC and docs/library.md): {neither}"
    assert not PUBLIC - core, f"public paths that do not exist: {sorted(PUBLIC - core)}"
    assert not any(_private(m) for m in PUBLIC)


#: what teams' programs are made from: our Pulumi program, its example, the policy pack and the ``init`` scaffold
TEAM_PROGRAMS = ("infra/*.py", "examples/**/*.py", "policy/*.py", "src/claude_foundry/scaffold/**/*.tmpl",
                 "src/claude_foundry/scaffold/scripts/*")
_IMPORT = re.compile(r"^[ \t]*(?:from[ \t]+(claude_foundry[\w.]*)[ \t]+import[ \t]+(?:\(([\w\s,]*)|([\w \t,]*))"
                     r"|import[ \t]+(claude_foundry[\w.]*))", re.MULTILINE)


def _public_imports_of(text: str) -> list[str]:
    """The modules of ours a program's text imports (``from X import y``: ``X.y`` when it is a module)."""
    out = []
    for m in _IMPORT.finditer(text):
        module = m.group(1) or m.group(4)
        out.append(module)
        for name in (m.group(2) or m.group(3) or "").replace("\n", " ").split(","):
            name = name.strip().split(" ")[0]
            if name and _is_our_module(f"{module}.{name}"):
                out.append(f"{module}.{name}")
    return out


def test_team_programs_import_only_public_paths() -> None:
    seen, bad = 0, []
    for pattern in TEAM_PROGRAMS:
        for path in sorted(ROOT.glob(pattern)):
            for module in _public_imports_of(path.read_text(encoding="utf-8")):
                seen += 1
                if module not in PUBLIC:
                    bad.append(f"{path.relative_to(ROOT)}: {module}")
    assert seen >= 8, "the scan found too few imports: are the globs right?"
    assert not bad, "a team's program imports a private path:\n" + "\n".join(bad)


def test_the_public_import_check_sees_a_private_import() -> None:
    """The checker itself: a private module, imported either way, is reported."""
    text = "from claude_foundry import _contract as c\nfrom claude_foundry._client.runtime import X\n"
    assert [m for m in _public_imports_of(text) if m not in PUBLIC] == ["claude_foundry._contract",
                                                                        "claude_foundry._client.runtime"]


def test_the_sandbox_is_its_own_distribution() -> None:
    """The sandbox's code is in sandbox/ only: nothing of it is left inside the core package."""
    assert (SANDBOX_PKG / "__init__.py").is_file()
    assert not (PKG / "sandbox").exists()
    assert layer_of(SANDBOX) == SANDBOX
    assert layer_of("claude_foundry_sandbox.providers.base") == SANDBOX


def test_no_import_cycles() -> None:
    """Imports between our modules, in both distributions and including those inside functions, form no cycle."""
    graph = import_graph()
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


def test_the_checks_see_lazy_and_type_checking_imports(tmp_path: Path) -> None:
    """The checker itself: an import inside a function is seen (and marked lazy), one under ``TYPE_CHECKING`` is
    left out of the runtime graph, and a module of the sandbox distribution resolves to its module."""
    src = tmp_path / "mod.py"
    src.write_text("from typing import TYPE_CHECKING\n"
                   "import claude_foundry._contract\n"
                   "if TYPE_CHECKING:\n    from claude_foundry._client import runtime\n"
                   "def f():\n    from claude_foundry_sandbox import server\n", encoding="utf-8")
    seen = {(name, lazy) for _, name, lazy in import_nodes(src)}
    assert ("claude_foundry._contract", False) in seen
    assert ("claude_foundry_sandbox.server", True) in seen
    assert ("claude_foundry._client.runtime", False) in seen
    runtime = {name for _, name, _ in import_nodes(src, runtime_only=True)}
    assert "claude_foundry._client.runtime" not in runtime
    assert "claude_foundry_sandbox.server" in runtime


def test_the_table_catches_a_forbidden_import(tmp_path: Path) -> None:
    """The checker itself: a client module importing the Pulumi program is reported."""
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from claude_foundry.program._plan import plan\n", encoding="utf-8")
    names = [n for _, n in imports_of(bad)]
    assert "claude_foundry.program._plan" in names
    assert layer_of("claude_foundry.program._plan") == "claude_foundry.program"
    assert not any(_within("claude_foundry.program._plan", a) for a in ALLOWED["claude_foundry._client"])
