"""``claude-foundry preflight`` against a seeded sandbox: every failure it must catch, over real HTTPS."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from claude_foundry.cli import main
from claude_foundry.connection import sandbox_target
from claude_foundry.local import up_local
from claude_foundry.ops.common import stack_view
from claude_foundry.ops.preflight import FAIL, PASS, WARN, check_provider_data, permitted, run_preflight
from claude_foundry.spec import load_spec

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from claude_foundry.sandbox import Sandbox, SandboxConfig

pytestmark = pytest.mark.e2e

TAKEN = "taken-by-someone-else"
EASTUS2_MODELS = ["claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-1", "claude-sonnet-4-6"]  # no opus-4-5
SEED = {
    "quota": {"GlobalStandard/claude-opus-4-1": 10, "GlobalStandard/claude-sonnet-4-6": 30},
    "models_by_location": {"eastus2": EASTUS2_MODELS},
    "taken_subdomains": [TAKEN],
    "marketplace_agreements": {
        "anthropic/anthropic-claude-haiku-4-5-offer/anthropic-claude-haiku-4-5-plan-new": False},
}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    with Sandbox(SandboxConfig(state_dir=tmp_path_factory.mktemp("seeded"), seed=SEED)) as sb:
        yield sb


@pytest.fixture(scope="module")
def target(seeded: Sandbox) -> Any:
    return sandbox_target(seeded.connection)


def write_stack(directory: Path, deployments: dict[str, Any], **top: Any) -> Path:
    suffix = uuid.uuid4().hex[:10]
    doc: dict[str, Any] = {
        "environment": "pf", "location": "eastus2", "resource_group": f"rg-pf-{suffix}",
        "foundry": {"name": f"cf-pf-{suffix}",
                    "model_provider": {"organization_name": "Contoso", "country_code": "US",
                                       "industry": "technology"}},
        "deployments": deployments, "key_vault": {"name": f"kv-{suffix}"},
    }
    for k, v in top.items():
        if isinstance(v, dict) and isinstance(doc.get(k), dict):
            doc[k] = {**doc[k], **v}
        else:
            doc[k] = v
    path = directory / f"stack-{suffix}.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


def checks(report: Any) -> dict[str, Any]:
    return {c.name: c for c in report.checks}


OK_DEPLOYMENTS = {"sonnet": {"model": "claude-sonnet-4-5", "capacity": 10}}


def test_clean_stack_passes(tmp_path: Path, target: Any) -> None:
    spec = load_spec(write_stack(tmp_path, OK_DEPLOYMENTS))
    report = run_preflight(stack_view(spec, target))
    by = checks(report)
    assert report.ok, report.to_json()
    for name in ("provider-data", "subdomain", "model:sonnet", "quota:claude-sonnet-4-5/GlobalStandard",
                 "resource-group"):
        assert by[name].status == PASS, by[name]
    # the sandbox may or may not answer these two; either way they never fail a clean stack
    assert by["permissions"].status in (PASS, WARN)
    assert by["marketplace:claude-sonnet-4-5"].status in (PASS, WARN)


def test_quota_exceeded(tmp_path: Path, target: Any) -> None:
    spec = load_spec(write_stack(tmp_path, {"o1": {"model": "claude-opus-4-1", "capacity": 8},
                                            "o2": {"model": "claude-opus-4-1", "capacity": 5}}))
    report = run_preflight(stack_view(spec, target))
    check = checks(report)["quota:claude-opus-4-1/GlobalStandard"]
    assert check.status == FAIL
    assert "needs 13K TPM" in check.reason
    assert "10 of 10" in check.reason
    assert check.fix
    assert not report.ok


def test_own_capacity_counts_as_available(tmp_path: Path, seeded: Sandbox, target: Any) -> None:
    """A redeploy of the same stack reuses its own capacity: 25 of 30 used by us is not 'only 5 free'."""
    spec = load_spec(write_stack(tmp_path, {"s6": {"model": "claude-sonnet-4-6", "capacity": 25}}))
    assert up_local(spec, target, state_dir=tmp_path).result.ok
    report = run_preflight(stack_view(spec, target))
    by = checks(report)
    assert by["quota:claude-sonnet-4-6/GlobalStandard"].status == PASS, by["quota:claude-sonnet-4-6/GlobalStandard"]
    assert by["subdomain"].status == PASS
    assert "own account" in by["subdomain"].reason
    assert by["resource-group"].status == PASS
    # another stack asking for 10 more does not fit (25 of 30 used by someone else for it)
    other = load_spec(write_stack(tmp_path, {"s6": {"model": "claude-sonnet-4-6", "capacity": 10}}))
    assert checks(run_preflight(stack_view(other, target)))["quota:claude-sonnet-4-6/GlobalStandard"].status == FAIL


def test_model_absent_in_region(tmp_path: Path, target: Any) -> None:
    spec = load_spec(write_stack(tmp_path, {"deep": {"model": "claude-opus-4-5"}, **OK_DEPLOYMENTS}))
    report = run_preflight(stack_view(spec, target))
    by = checks(report)
    assert by["model:deep"].status == FAIL
    assert "claude-opus-4-5 is not offered in eastus2" in by["model:deep"].reason
    assert by["model:sonnet"].status == PASS
    assert not report.ok


def test_subdomain_taken(tmp_path: Path, target: Any) -> None:
    spec = load_spec(write_stack(tmp_path, OK_DEPLOYMENTS, foundry={"name": TAKEN}))
    by = checks(run_preflight(stack_view(spec, target)))
    assert by["subdomain"].status == FAIL
    assert TAKEN in by["subdomain"].reason
    assert "foundry.name" in by["subdomain"].fix


@pytest.mark.parametrize(("bad", "word"), [
    ({"organizationName": "", "countryCode": "US", "industry": "technology"}, "organizationName"),
    ({"organizationName": "Contoso", "countryCode": "us", "industry": "technology"}, "countryCode"),
    ({"organizationName": "Contoso", "countryCode": "US", "industry": "Technology"}, "industry"),
    (None, "missing"),
])
def test_invalid_provider_data(tmp_path: Path, target: Any, bad: Any, word: str) -> None:
    """load_spec refuses bad provider data, so break it where preflight reads it: the planned bodies."""
    spec = load_spec(write_stack(tmp_path, OK_DEPLOYMENTS))
    view = stack_view(spec, target)
    props = view.deployments["sonnet"].body["properties"]
    if bad is None:
        del props["modelProviderData"]
    else:
        props["modelProviderData"] = bad
    check = checks(run_preflight(view))["provider-data"]
    assert check.status == FAIL
    assert word in check.reason
    assert "model_provider" in check.fix


def test_provider_data_check_alone() -> None:
    good = {"properties": {"model": {}, "modelProviderData": {"organizationName": "C", "countryCode": "SE",
                                                              "industry": "finance"}}}
    assert check_provider_data({"a": good}).status == PASS
    assert check_provider_data({"a": {"properties": {"model": {}}}}).status == FAIL


def test_marketplace_never_fails(tmp_path: Path, target: Any) -> None:
    """Not-accepted terms are a warning (the RP signs them from modelProviderData); the sandbox may also
    not serve the agreements API yet, which must degrade to a warning too."""
    spec = load_spec(write_stack(tmp_path, {"haiku": {"model": "claude-haiku-4-5"}}))
    check = checks(run_preflight(stack_view(spec, target)))["marketplace:claude-haiku-4-5"]
    assert check.status == WARN
    assert "not accepted" in check.reason or "could not check" in check.reason


def test_resource_group_missing_and_not_created(tmp_path: Path, target: Any) -> None:
    spec = load_spec(write_stack(tmp_path, OK_DEPLOYMENTS, create_resource_group=False))
    report = run_preflight(stack_view(spec, target))
    assert checks(report)["resource-group"].status == FAIL
    assert not report.ok


def test_permission_matching() -> None:
    grants = [{"actions": ["Microsoft.CognitiveServices/*", "Microsoft.Resources/*/read"],
               "notActions": ["Microsoft.CognitiveServices/accounts/listKeys/action"]}]
    assert permitted("Microsoft.CognitiveServices/accounts/write", grants)
    assert permitted("microsoft.cognitiveservices/accounts/deployments/write", grants)
    assert not permitted("Microsoft.CognitiveServices/accounts/listKeys/action", grants)
    assert not permitted("Microsoft.KeyVault/vaults/write", grants)
    assert permitted("Microsoft.KeyVault/vaults/write", [{"actions": ["*"], "notActions": []}])


def test_cli_json_and_exit_codes(tmp_path: Path, seeded: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    conn = seeded.write_connection_file(tmp_path / "conn.json")
    good = write_stack(tmp_path, OK_DEPLOYMENTS)
    assert main(["preflight", str(good), "--sandbox", str(conn), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is True
    assert {c["status"] for c in data["checks"]} <= {PASS, WARN}
    bad = write_stack(tmp_path, {"op": {"model": "claude-opus-4-1", "capacity": 50}})
    assert main(["preflight", str(bad), "--sandbox", str(conn)]) == 1
    out = capsys.readouterr().out
    assert "fail" in out
    assert "quota:claude-opus-4-1" in out.replace("\n", "")
    assert main(["preflight", str(tmp_path / "nope.yaml"), "--sandbox", str(conn)]) == 2
    assert main(["preflight", str(good), "--sandbox", str(tmp_path / "missing.json")]) == 2
