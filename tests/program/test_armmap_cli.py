"""armmap on its own, the key placeholder form, and the ``plan`` command."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from claude_foundry import cli
from claude_foundry.program import _armmap as armmap
from claude_foundry.program._plan import KEY_PLACEHOLDER_RE, key_placeholder

STACKS = Path(__file__).resolve().parents[2] / "stacks"

SUB = "00000000-0000-0000-0000-000000000000"


def test_normalise_whole_floats():
    assert armmap.normalise({"a": 25.0, "b": [1.0, 2.5], "c": True, "d": "x"}) == \
        {"a": 25, "b": [1, 2.5], "c": True, "d": "x"}
    assert isinstance(armmap.normalise(7.0), int)


def test_generic_resource_mapping():
    req = armmap.to_arm(armmap.GENERIC_RESOURCE, {
        "resourceGroupName": "rg", "resourceProviderNamespace": "Microsoft.CognitiveServices",
        "parentResourcePath": "accounts/acc", "resourceType": "deployments", "resourceName": "d1",
        "apiVersion": "2025-10-01-preview", "sku": {"name": "GlobalStandard", "capacity": 25.0},
        "properties": {"model": {"name": "m"}}}, SUB)
    assert req.id == (f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.CognitiveServices/"
                      "accounts/acc/deployments/d1")
    assert req.api_version == "2025-10-01-preview"
    assert req.type == "Microsoft.CognitiveServices/accounts/deployments"
    assert req.body == {"sku": {"name": "GlobalStandard", "capacity": 25}, "properties": {"model": {"name": "m"}}}


def test_workspace_and_role_assignment_shapes():
    ws = armmap.to_arm(armmap.WORKSPACE, {"resourceGroupName": "rg", "workspaceName": "w", "location": "x",
                                          "retentionInDays": 30.0, "sku": {"name": "PerGB2018"}}, SUB)
    assert ws.body == {"location": "x", "properties": {"retentionInDays": 30, "sku": {"name": "PerGB2018"}}}
    assert ws.api_version == "2023-09-01"
    out = armmap.computed_outputs(armmap.WORKSPACE, {}, ws)
    assert out["customerId"]
    assert out["name"] == "w"
    ra = armmap.to_arm(armmap.ROLE_ASSIGNMENT, {"scope": "/subscriptions/s/x", "roleAssignmentName": "n",
                                                "principalId": "p", "principalType": "User",
                                                "roleDefinitionId": "r"}, SUB)
    assert ra.id == "/subscriptions/s/x/providers/Microsoft.Authorization/roleAssignments/n"
    assert ra.body == {"properties": {"principalId": "p", "principalType": "User", "roleDefinitionId": "r"}}


def test_unknown_type_and_missing_inputs():
    assert armmap.to_arm("claude-foundry:index:ClaudeFoundryStack", {}, SUB) is None
    with pytest.raises(armmap.ArmMappingError, match="resourceGroupName"):
        armmap.to_arm(armmap.VAULT, {"vaultName": "v"}, SUB)


def test_key_placeholder_round_trip():
    aid = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/a"
    text = key_placeholder(aid, "key2")
    assert text == f"${{listAccountKeys:{aid}:key2}}"
    m = KEY_PLACEHOLDER_RE.fullmatch(text)
    assert m
    assert m["account_id"] == aid
    assert m["key"] == "key2"
    with pytest.raises(ValueError, match="key1 or key2"):
        key_placeholder(aid, "key3")


def test_cli_plan_json(capsys):
    assert cli.main(["plan", str(STACKS / "dev.yaml"), "--json"]) == 0
    out = capsys.readouterr().out
    data = json.loads(out)
    assert data["stack"] == "dev"
    types = [r["type"] for r in data["resources"]]
    assert types.count("azure-native:resources:Resource") == 2
    assert "listAccountKeys" not in out
    assert data["outputs"]["endpoint"] == "https://contoso-claude-dev.services.ai.azure.com/anthropic"


def test_cli_plan_tree(capsys):
    assert cli.main(["plan", str(STACKS / "prod.yaml")]) == 0
    out = capsys.readouterr().out
    assert "claude-foundry-deployments-deep" in out
    assert "(protected)" in out
    assert "depends on:" in out


def test_cli_plan_invalid_spec(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("environment: Dev\n", encoding="utf-8")
    assert cli.main(["plan", str(bad)]) == 2
    assert "environment" in capsys.readouterr().err


def test_cli_plan_without_infra_extra(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "pulumi_azure_native", None)  # import now raises ModuleNotFoundError
    assert cli.main(["plan", str(STACKS / "dev.yaml")]) == 2
    assert "pip install 'claude-foundry[infra]'" in capsys.readouterr().err
