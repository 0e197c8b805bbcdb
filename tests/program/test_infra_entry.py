"""``infra/__main__.py``, the program ``pulumi up`` runs, under mocks: it reads the stack file named in
stack config and builds the same graph as ``plan``."""

from __future__ import annotations

import contextvars
import runpy
from pathlib import Path

import pulumi.runtime

from claude_foundry import _contract as contract
from claude_foundry.program import _armmap as armmap
from claude_foundry.program._plan import STACK_TYPE, plan
from claude_foundry.program.spec import load_spec

ROOT = Path(__file__).resolve().parents[2]


def _run_entry(run_program, config: dict[str, str]):
    """Run the entry program with stack config set, in a copied context so the config does not leak."""

    def run():
        for key, value in config.items():
            pulumi.runtime.set_config(key, value)
        return run_program(lambda: runpy.run_path(str(ROOT / "infra" / "__main__.py"), run_name="__main__"),
                           stack="dev")

    return contextvars.copy_context().run(run)


def _shape(resources):
    return sorted((r.type, r.name) for r in resources)


def test_entry_program_builds_the_planned_graph(run_program):
    run = _run_entry(run_program, {"claude-foundry:spec": "stacks/dev.yaml"})
    expected = plan(load_spec(ROOT / "stacks" / "dev.yaml"))
    assert _shape(run.resources) == _shape(expected.resources)
    assert [r.type for r in run.resources].count(STACK_TYPE) == 1


def test_entry_program_honours_the_base_url_template(run_program):
    template = "https://127.0.0.1:9/foundry/{resource}/anthropic"
    run = _run_entry(run_program, {"claude-foundry:spec": "stacks/dev.yaml",
                                   "claude-foundry:baseUrlTemplate": template})
    spec = load_spec(ROOT / "stacks" / "dev.yaml")
    endpoint = next(r for r in run.of_type(armmap.SECRET)
                    if r.inputs["secretName"] == spec.secret_names.endpoint)
    assert endpoint.inputs["properties"]["value"] == contract.foundry_base_url(spec.foundry.name, template)
