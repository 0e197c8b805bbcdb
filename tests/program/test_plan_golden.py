"""The plans of today's stacks do not change: URNs, parents, dependencies, ``protect`` and inputs of every resource,
and the stack outputs, compared with golden files written from the code before the accounts refactoring (issue 21).

Secret input values are not stored: the golden files keep the masked inputs plus a SHA-256 of each secret value, so a
change in a secret (the contract's key secrets hold placeholders under the mocks) still fails the comparison.

Regenerate (only when a change of plan is intended, and say so in the commit):
``CLAUDE_FOUNDRY_REGEN_GOLDEN=1 .venv/bin/python -m pytest -q tests/program/test_plan_golden.py``.
"""

from __future__ import annotations

import hashlib
import json
import os
import textwrap
from pathlib import Path
from typing import Any

import pytest

from claude_foundry.program._plan import Plan, _get_path, plan
from claude_foundry.program.spec import load_spec
from claude_foundry_sandbox.testing import extends_line

pytest.importorskip("pulumi_azure_native")

ROOT = Path(__file__).resolve().parents[2]
STACKS = ROOT / "stacks"
GOLDEN = Path(__file__).resolve().parent / "golden"

#: Further accounts: one serving a subset of the deployments, one serving all of them with its own network.
ACCOUNTS = """\
accounts:
  sweden:
    name: contoso-claude-dev-sc
    location: swedencentral
    deployments: [my-claude-deployment]
  west:
    name: contoso-claude-dev-w
    location: westus3
"""

#: name -> (base stack, overrides): the repository's stacks as they are, and multi-account stacks that reach every
#: per-account concern (diagnostics, access, alerts, budget, private endpoints, a project on the first account).
CASES: dict[str, tuple[str, str]] = {
    "dev": ("dev", ""),
    "prod": ("prod", ""),
    "multi-dev": ("dev", ACCOUNTS + "alerts: {emails: [a@contoso.com]}\n"),
    "multi-prod-private": ("prod", ACCOUNTS.replace("    location: westus3\n",
                                                    "    location: westus3\n    network: {ip_rules: []}\n")
                           + "private_network: {address_space: 10.1.0.0/16, subnet_prefix: 10.1.1.0/24}\n"
                           + "foundry:\n  project: {name: playground}\n  network: {ip_rules: []}\n"),
    # monitoring.dashboard (issue 24): one workbook over every account, sourced at a resource group made elsewhere
    "dashboard-multi-prod": ("prod", ACCOUNTS + "create_resource_group: false\nmonitoring: {dashboard: true}\n"),
}


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


def snapshot(p: Plan) -> dict[str, Any]:
    """What must not change, without secret values."""
    resources = []
    for r in p.resources:
        resources.append({
            "urn": r.urn,
            "type": r.type,
            "name": r.name,
            "parent": r.parent,
            "custom": r.custom,
            "protect": r.protect,
            "depends_on": r.depends_on,
            "property_dependencies": r.property_dependencies,
            "inputs": r.masked_inputs(),
            "secret_sha256": {path: _digest(_get_path(r.inputs, path)) for path in r.secret_paths},
            "id": r.arm.id if r.arm else r.id,
        })
    outputs = p.outputs_json()
    return {"resources": resources, "outputs": outputs,
            "secret_outputs": {k: _digest(p.outputs[k]) for k in sorted(p.secret_outputs)}}


def _library_plan(tmp_path: Path) -> Plan:
    """A program of a team's own: the multi-account stack wired through ``ClaudeFoundryStackArgs`` (its own
    resource group and workspace as Outputs, principals besides the spec's), the documented call style."""
    import pulumi
    import pulumi_azure_native as azure_native

    from claude_foundry.program import _plan as plan_mod
    from claude_foundry.program.components import (
        ClaudeFoundryStack,
        ClaudeFoundryStackArgs,
        ClaudeUserArgs,
        SecretReaderArgs,
    )

    path = tmp_path / "library.yaml"
    path.write_text(extends_line(STACKS / "prod.yaml") + textwrap.dedent(ACCOUNTS), encoding="utf-8")
    spec = load_spec(path)

    def program() -> None:
        rg = azure_native.resources.ResourceGroup("team-rg", resource_group_name="rg-team", location=spec.location)
        ws = azure_native.operationalinsights.Workspace("team-logs", resource_group_name=rg.name,
                                                        workspace_name="team-logs", location=spec.location)
        principal = pulumi.Output.from_input("11111111-2222-3333-4444-555555555555")
        ClaudeFoundryStack("team", ClaudeFoundryStackArgs(
            spec=spec, resource_group_name=rg.name, workspace_id=ws.id,
            claude_users=[ClaudeUserArgs(principal_id=principal, key="app", role="azure-ai-user"),
                          "66666666-7777-8888-9999-000000000000"],
            secret_readers=[SecretReaderArgs(principal_id=principal, key="app")]))

    mocks_cls, monitor_cls = plan_mod._classes()
    mocks = mocks_cls(dict(plan_mod.DEFAULT_CLIENT_CONFIG))
    monitor = monitor_cls(mocks)
    plan_mod.run_program(program, mocks=mocks, monitor=monitor, project="claude-foundry", stack="team")
    top = next(r for r in monitor.planned if r.type == plan_mod.STACK_TYPE)
    outputs, secret = monitor.component_outputs.get(top.urn, ({}, set()))
    return Plan(resources=list(monitor.planned), outputs=outputs, secret_outputs=secret,
                client_config=dict(plan_mod.DEFAULT_CLIENT_CONFIG), project="claude-foundry", stack="team")


def plan_case(name: str, tmp_path: Path) -> Plan:
    if name == "library":
        return _library_plan(tmp_path)
    base, overrides = CASES[name]
    if not overrides:
        return plan(load_spec(STACKS / f"{base}.yaml"))
    path = tmp_path / f"{name}.yaml"
    path.write_text(extends_line(STACKS / f"{base}.yaml") + textwrap.dedent(overrides), encoding="utf-8")
    return plan(load_spec(path))


@pytest.mark.parametrize("name", [*sorted(CASES), "library"])
def test_plan_is_unchanged(name: str, tmp_path: Path) -> None:
    got = json.loads(json.dumps(snapshot(plan_case(name, tmp_path))))
    golden = GOLDEN / f"plan-{name}.json"
    if os.environ.get("CLAUDE_FOUNDRY_REGEN_GOLDEN") == "1":
        GOLDEN.mkdir(exist_ok=True)
        golden.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    want = json.loads(golden.read_text(encoding="utf-8"))
    # the same resources in the same order (registration order is part of the plan), then each one as a whole
    assert [r["urn"] for r in got["resources"]] == [r["urn"] for r in want["resources"]]
    for g, w in zip(got["resources"], want["resources"], strict=True):
        assert g == w, g["urn"]
    assert got["outputs"] == want["outputs"]
    assert got["secret_outputs"] == want["secret_outputs"]


def test_the_cases_reach_every_per_account_concern(tmp_path: Path) -> None:
    """The multi-account golden files cover what the refactoring touches: 3 accounts, each with deployments, a
    diagnostic setting, role assignments, metric alerts and a private endpoint; a budget and a project."""
    doc = json.loads((GOLDEN / "plan-multi-prod-private.json").read_text(encoding="utf-8"))
    types = [r["type"] for r in doc["resources"]]
    assert types.count("azure-native:cognitiveservices:Account") == 3
    assert types.count("azure-native:network:PrivateEndpoint") == 4
    assert types.count("azure-native:cognitiveservices:Project") == 1
    assert any(t.endswith("consumption:Budget") for t in types)
    assert types.count("azure-native:monitor:MetricAlert") == 9
