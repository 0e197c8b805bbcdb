"""The front door: ``claude_foundry.__all__`` is the documented surface a team imports, each name resolves to its
one home, importing the package costs nothing, and every error claude-foundry raises on purpose has one root."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import claude_foundry
from claude_foundry._errors import ClaudeFoundryError

ROOT = Path(__file__).resolve().parents[2]


def test_all_is_the_curated_surface_and_each_name_resolves():
    assert claude_foundry.__all__ == sorted(claude_foundry.__all__)
    assert set(claude_foundry.__all__) == {"__version__", *claude_foundry._HOMES}
    for name in claude_foundry.__all__:
        assert getattr(claude_foundry, name) is not None, name
    assert claude_foundry.FailoverRuntime is importlib.import_module("claude_foundry._client.failover").FailoverRuntime
    assert claude_foundry.load_spec is importlib.import_module("claude_foundry.program.spec").load_spec
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        claude_foundry.Nope  # noqa: B018 - the attribute access is the test


def test_the_documented_surface_is_all():
    """docs/library.md lists the front door; it names every public name and nothing else."""
    text = (ROOT / "docs" / "library.md").read_text(encoding="utf-8")
    start = text.index("<!-- front-door -->")
    block = text[start:text.index("<!-- /front-door -->")]
    documented = {line.split("`")[1] for line in block.splitlines() if line.startswith("| `")}
    assert documented == set(claude_foundry.__all__) - {"__version__"}


def test_importing_the_package_loads_nothing_else():
    code = ("import sys, claude_foundry; "
            "print(sorted(m for m in sys.modules if m.startswith(('anthropic', 'pulumi', 'yaml', 'pydantic', "
            "'azure', 'claude_foundry.'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,  # noqa: S603
                         check=True).stdout.strip()
    assert out == "[]"


def test_the_compatibility_paths_are_gone():
    for old in ("claude_foundry.components", "claude_foundry.spec", "claude_foundry.runtime",
                "claude_foundry.client.pytest_plugin"):
        with pytest.raises(ModuleNotFoundError):
            importlib.import_module(old)


@pytest.mark.parametrize("internal", ["claude_foundry.errors", "claude_foundry.contract", "claude_foundry.client",
                                      "claude_foundry.client.runtime", "claude_foundry.ops", "claude_foundry.azure",
                                      "claude_foundry.program.plan", "claude_foundry.program.spec.schema",
                                      "claude_foundry.program.components.stack", "claude_foundry.cli.smoke"])
def test_internal_modules_are_private(internal):
    """Everything but the documented surface has a ``_`` in its path (the rule itself: test_layers.py); the paths
    that were public before it are gone rather than silently kept."""
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module(internal)


def test_the_pytest_plugin_is_public():
    """docs/runtime.md: ``pytest_plugins = ["claude_foundry.pytest_plugin"]`` or ``-p claude_foundry.pytest_plugin``."""
    plugin = importlib.import_module("claude_foundry.pytest_plugin")
    assert callable(plugin.pytest_addoption)


def _our_exceptions() -> list[type[BaseException]]:
    found = []
    for info in pkgutil.walk_packages(claude_foundry.__path__, "claude_foundry."):
        name = info.name
        if ".sandbox" in name or name.startswith("claude_foundry.cli") or "pytest_plugin" in name:
            continue  # the sandbox stands in for Azure (its errors are Azure's); the CLI only renders
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError:
            continue  # an extra not installed
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if (issubclass(obj, BaseException) and obj.__module__ == name
                    and not obj.__name__.startswith("_")):
                found.append(obj)
    return found


def test_every_error_raised_on_purpose_has_one_root():
    found = _our_exceptions()
    assert len(found) > 10
    outside = sorted(f"{e.__module__}.{e.__qualname__}" for e in found if not issubclass(e, ClaudeFoundryError))
    assert outside == []
    for made in ("RedirectRefusedError", "StreamInterruptedError", "NoEndpointAvailableError"):
        assert issubclass(getattr(claude_foundry, made), ClaudeFoundryError), made


def test_exit_codes_are_the_clis():
    from claude_foundry._errors import OperationFailed, UserError
    from claude_foundry.cli import exit_code

    assert exit_code(UserError("x")) == 2
    assert exit_code(OperationFailed("x")) == 1
    assert exit_code(claude_foundry.SpecError([])) == 2
    assert not hasattr(UserError("x"), "exit_code")
