"""``claude-foundry preflight`` against a seeded sandbox: every failure it must catch, over real HTTPS."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from claude_foundry._azure import arm
from claude_foundry._azure.target import sandbox_target
from claude_foundry._ops.preflight import FAIL, PASS, WARN, check_provider_data, permitted, run_preflight
from claude_foundry._ops.view import stack_view
from claude_foundry._rehearse import up_local
from claude_foundry.cli import main
from claude_foundry.program.spec import load_spec
from claude_foundry_sandbox.testing import write_stack

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from claude_foundry_sandbox import Sandbox, SandboxConfig

pytestmark = pytest.mark.e2e

TAKEN = "taken-by-someone-else"
EASTUS2_MODELS = ["claude-sonnet-5", "claude-haiku-4-5", "claude-opus-4-7", "claude-sonnet-4-6"]  # no opus-4-8
SEED = {
    "quota": {"GlobalStandard/claude-opus-4-7": 10, "GlobalStandard/claude-sonnet-4-6": 30},
    "models_by_location": {"eastus2": EASTUS2_MODELS},
    "taken_subdomains": [TAKEN],
    "marketplace_agreements": {
        "anthropic/anthropic-claude-haiku-4-5-offer/anthropic-claude-haiku-4-5-plan-new": False},
    # the Marketplace does not know this model's offer (not published yet)
    "marketplace_unknown_offers": ["anthropic/anthropic-claude-opus-4-6-offer/anthropic-claude-opus-4-6-plan-new"],
}


def pf_stack(directory: Path, deployments: dict[str, Any], **top: Any) -> Path:
    return write_stack(directory, deployments, tag="pf", **top)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    with Sandbox(SandboxConfig(state_dir=tmp_path_factory.mktemp("seeded"), seed=SEED)) as sb:
        yield sb


@pytest.fixture(scope="module")
def target(seeded: Sandbox) -> Any:
    return sandbox_target(seeded.connection)


def checks(report: Any) -> dict[str, Any]:
    return {c.name: c for c in report.checks}


OK_DEPLOYMENTS = {"sonnet": {"model": "claude-sonnet-5", "capacity": 10}}


def test_clean_stack_passes(tmp_path: Path, target: Any) -> None:
    spec = load_spec(pf_stack(tmp_path, OK_DEPLOYMENTS))
    report = run_preflight(stack_view(spec, target))
    by = checks(report)
    assert report.ok, report.to_json()
    for name in ("provider-data", "subdomain", "deleted-account", "deleted-vault", "model:sonnet",
                 "quota:claude-sonnet-5/GlobalStandard", "resource-group", "permissions",
                 "marketplace:claude-sonnet-5"):
        assert by[name].status == PASS, by[name]
    assert report.count(WARN) == 0, report.to_json()
    assert "the subscription" in by["permissions"].reason  # the group does not exist yet: checked one level up
    assert by["marketplace:claude-sonnet-5"].reason == "terms of anthropic-claude-sonnet-5-offer accepted"


def test_quota_exceeded(tmp_path: Path, target: Any) -> None:
    spec = load_spec(pf_stack(tmp_path, {"o1": {"model": "claude-opus-4-7", "capacity": 8},
                                            "o2": {"model": "claude-opus-4-7", "capacity": 5}}))
    report = run_preflight(stack_view(spec, target))
    check = checks(report)["quota:claude-opus-4-7/GlobalStandard"]
    assert check.status == FAIL
    assert "needs 13K TPM" in check.reason
    assert "10 of 10" in check.reason
    assert check.fix
    assert not report.ok


def test_own_capacity_counts_as_available(tmp_path: Path, seeded: Sandbox, target: Any) -> None:
    """A redeploy of the same stack reuses its own capacity: 25 of 30 used by us is not 'only 5 free'."""
    spec = load_spec(pf_stack(tmp_path, {"s6": {"model": "claude-sonnet-4-6", "capacity": 25}}))
    assert up_local(spec, target, state_dir=tmp_path).result.ok
    report = run_preflight(stack_view(spec, target))
    by = checks(report)
    assert by["quota:claude-sonnet-4-6/GlobalStandard"].status == PASS, by["quota:claude-sonnet-4-6/GlobalStandard"]
    assert by["subdomain"].status == PASS
    assert "own account" in by["subdomain"].reason
    assert by["resource-group"].status == PASS
    # another stack asking for 10 more does not fit (25 of 30 used by someone else for it)
    other = load_spec(pf_stack(tmp_path, {"s6": {"model": "claude-sonnet-4-6", "capacity": 10}}))
    assert checks(run_preflight(stack_view(other, target)))["quota:claude-sonnet-4-6/GlobalStandard"].status == FAIL


def test_model_absent_in_region(tmp_path: Path, target: Any) -> None:
    spec = load_spec(pf_stack(tmp_path, {"deep": {"model": "claude-opus-4-8"}, **OK_DEPLOYMENTS}))
    report = run_preflight(stack_view(spec, target))
    by = checks(report)
    assert by["model:deep"].status == FAIL
    assert "claude-opus-4-8 is not offered in eastus2" in by["model:deep"].reason
    assert by["model:sonnet"].status == PASS
    assert not report.ok


def test_subdomain_taken(tmp_path: Path, target: Any) -> None:
    spec = load_spec(pf_stack(tmp_path, OK_DEPLOYMENTS, foundry={"name": TAKEN}))
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
    spec = load_spec(pf_stack(tmp_path, OK_DEPLOYMENTS))
    view = stack_view(spec, target)
    props = view.first.deployments["sonnet"].body["properties"]
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


def test_marketplace_terms_not_accepted_warns(tmp_path: Path, target: Any) -> None:
    """Not-accepted terms are a warning (the RP signs them from modelProviderData), never a failure."""
    spec = load_spec(pf_stack(tmp_path, {"haiku": {"model": "claude-haiku-4-5"}}))
    report = run_preflight(stack_view(spec, target))
    check = checks(report)["marketplace:claude-haiku-4-5"]
    assert check.status == WARN, check
    assert "terms of anthropic-claude-haiku-4-5-offer not accepted yet" in check.reason
    assert "az term accept --publisher anthropic --product anthropic-claude-haiku-4-5-offer" in check.fix
    assert report.ok


def test_marketplace_unknown_offer_warns(tmp_path: Path, target: Any) -> None:
    spec = load_spec(pf_stack(tmp_path, {"opus": {"model": "claude-opus-4-6"}}))
    report = run_preflight(stack_view(spec, target))
    check = checks(report)["marketplace:claude-opus-4-6"]
    assert check.status == WARN, check  # an unknown offer (400) is not a reason to stop the deploy
    assert "anthropic/anthropic-claude-opus-4-6-offer/anthropic-claude-opus-4-6-plan-new not found" in check.reason
    assert "400 BadRequest" in check.reason
    # the CCU offer is tried too; the bundled catalogue does not know its Marketplace ids and says so
    assert "Claude Platform on Foundry (Claude Consumption Units): Marketplace ids not known" in check.reason
    assert "first deployment" in check.fix
    # the only failure is the model the seeded location does not offer, not the Marketplace
    assert [c.name for c in report.checks if c.status == FAIL] == ["model:opus"]


def _arm(target: Any, method: str, path: str, api_version: str, body: Any = None) -> Any:
    from claude_foundry._azure.caller import ArmCaller

    caller = ArmCaller(target)
    try:
        status, data = caller.call(method, path, api_version, body)
    finally:
        caller.close()
    assert status in (200, 201, 202, 204), (status, data)
    return data


def test_deleted_account_fails_until_purged(tmp_path: Path, target: Any) -> None:
    """Created then deleted through ARM: Azure keeps the account soft-deleted and refuses to create it again."""
    spec = load_spec(pf_stack(tmp_path, OK_DEPLOYMENTS))
    view = stack_view(spec, target)
    _arm(target, "PUT", view.rg_id, "2022-09-01", {"location": "eastus2"})
    _arm(target, "PUT", view.first.account.id, view.first.account.api_version, view.first.account.body)
    _arm(target, "DELETE", view.first.account.id, view.first.account.api_version)

    report = run_preflight(stack_view(spec, target))
    by = checks(report)
    check = by["deleted-account"]
    assert check.status == FAIL, check
    assert "FlagMustBeSetForRestore" in check.reason
    name, rg = spec.foundry.name, spec.resource_group
    assert f"az cognitiveservices account purge -l eastus2 -g {rg} -n {name}" in check.fix
    assert "recover" in check.fix
    assert by["subdomain"].status == PASS
    assert "soft-deleted" in by["subdomain"].reason
    assert by["deleted-vault"].status == PASS
    assert not report.ok

    # another stack wanting the same subdomain: it is held by the deleted account, purge it
    other = load_spec(pf_stack(tmp_path, OK_DEPLOYMENTS, foundry={"name": name}))
    sub = checks(run_preflight(stack_view(other, target)))
    assert sub["subdomain"].status == FAIL
    assert "soft-deleted account" in sub["subdomain"].reason
    assert "az cognitiveservices account purge" in sub["subdomain"].fix
    assert sub["deleted-account"].status == PASS  # not in that stack's resource group

    with target.cognitive_client() as cs:
        cs.deleted_accounts.begin_purge("eastus2", rg, name).result()
    after = checks(run_preflight(stack_view(spec, target)))
    assert after["deleted-account"].status == PASS
    assert after["subdomain"].status == PASS


@pytest.mark.parametrize(("location", "purge_protection"),
                         [("eastus2", False), ("eastus2", True), ("swedencentral", False)],
                         ids=["plain", "purge-protection", "other-location"])
def test_deleted_vault_fails(tmp_path: Path, target: Any, location: str, purge_protection: bool) -> None:
    spec = load_spec(pf_stack(tmp_path, OK_DEPLOYMENTS, key_vault={"purge_protection": purge_protection}))
    view = stack_view(spec, target)
    assert view.vault is not None
    _arm(target, "PUT", view.rg_id, "2022-09-01", {"location": "eastus2"})
    _arm(target, "PUT", view.vault.id, view.vault.api_version, {**view.vault.body, "location": location})
    _arm(target, "DELETE", view.vault.id, view.vault.api_version)

    report = run_preflight(stack_view(spec, target))
    check = checks(report)["deleted-vault"]
    assert check.status == FAIL, check
    name = spec.key_vault.name
    assert name in check.reason
    assert "ConflictError" in check.reason
    assert f"az keyvault recover --name {name} --location {location}" in check.fix
    if purge_protection:
        assert "purge protection" in check.reason
        assert "az keyvault purge" not in check.fix
        assert "purging impossible" in check.fix
    else:
        assert f"az keyvault purge --name {name} --location {location}" in check.fix
    assert checks(report)["deleted-account"].status == PASS
    assert not report.ok


def _target_as(seeded: Sandbox, principal: dict[str, Any]) -> Any:
    return sandbox_target({**seeded.connection, "client_id": principal["client_id"],
                           "client_secret": principal["client_secret"], "principal_id": principal["principal_id"]})


def test_reader_only_fails_permissions(tmp_path: Path, seeded: Sandbox) -> None:
    sub = f"/subscriptions/{seeded.state.subscription_id}"
    reader = seeded.add_principal("pf-reader", roles=[("reader", sub)])
    spec = load_spec(pf_stack(tmp_path, OK_DEPLOYMENTS))
    report = run_preflight(stack_view(spec, _target_as(seeded, reader)))
    by = checks(report)
    assert by["resource-group"].status == PASS  # a Reader may read (and see the group is missing)
    check = by["permissions"]
    assert check.status == FAIL, check
    for action in ("Microsoft.Resources/subscriptions/resourceGroups/write",
                   "Microsoft.CognitiveServices/accounts/write", "Microsoft.KeyVault/vaults/write"):
        assert action in check.reason
    assert "on the subscription" in check.reason
    assert "Contributor" in check.fix
    assert by["marketplace:claude-sonnet-5"].status == PASS  # reading the terms needs only Reader
    assert not report.ok


def test_contributor_on_the_group(tmp_path: Path, seeded: Sandbox, target: Any) -> None:
    """Contributor may write the resources but not role assignments (notActions Microsoft.Authorization/*/Write);
    the check runs at the existing group, where the role was granted through ARM."""
    from azure.core.rest import HttpRequest

    spec = load_spec(pf_stack(tmp_path, OK_DEPLOYMENTS))
    contributor = seeded.add_principal("pf-contributor")
    rg_id = f"/subscriptions/{seeded.state.subscription_id}/resourceGroups/{spec.resource_group}"
    owner = target.resource_client()
    with owner:
        for method, path, body in (
                ("PUT", rg_id, {"location": "eastus2"}),
                ("PUT", f"{rg_id}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}",
                 {"properties": {"roleDefinitionId": arm.role_definition_id(seeded.state.subscription_id,
                                                                            "contributor"),
                                 "principalId": contributor["principal_id"]}})):
            response = owner.send_request(HttpRequest(method, f"{target.arm_endpoint}{path}",
                                                      params={"api-version": "2022-04-01"}, json=body))
            assert response.status_code in (200, 201), response.text()
    as_contributor = _target_as(seeded, contributor)
    view = stack_view(spec, as_contributor)
    assert view.role_assignments  # deployer_access is on by default
    check = checks(run_preflight(view))["permissions"]
    assert check.status == FAIL, check
    assert check.reason == (f"the caller may not: Microsoft.Authorization/roleAssignments/write on resource group "
                            f"{spec.resource_group}")
    no_roles = load_spec(pf_stack(tmp_path, OK_DEPLOYMENTS, resource_group=spec.resource_group,
                                     access={"deployer_access": False}))
    check = checks(run_preflight(stack_view(no_roles, as_contributor)))["permissions"]
    assert check.status == PASS, check
    assert f"resource group {spec.resource_group}" in check.reason


def test_resource_group_missing_and_not_created(tmp_path: Path, target: Any) -> None:
    spec = load_spec(pf_stack(tmp_path, OK_DEPLOYMENTS, create_resource_group=False))
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
    good = pf_stack(tmp_path, OK_DEPLOYMENTS)
    assert main(["preflight", str(good), "--sandbox", str(conn), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is True
    assert {c["status"] for c in data["checks"]} <= {PASS, WARN}
    bad = pf_stack(tmp_path, {"op": {"model": "claude-opus-4-7", "capacity": 50}})
    assert main(["preflight", str(bad), "--sandbox", str(conn)]) == 1
    out = capsys.readouterr().out
    assert "fail" in out
    assert "quota:claude-opus-4-7" in out.replace("\n", "")
    assert main(["preflight", str(tmp_path / "nope.yaml"), "--sandbox", str(conn)]) == 2
    assert main(["preflight", str(good), "--sandbox", str(tmp_path / "missing.json")]) == 2


@pytest.mark.parametrize(("quota_id", "status", "fragment"), [
    ("PayAsYouGo_2014-09-01", PASS, "Pay-as-you-go"),
    ("CSP_2015-05-01", FAIL, "Cloud Solution Provider subscriptions cannot deploy Claude"),
    ("FreeTrial_2014-09-01", FAIL, "free trial"),
    ("AzureForStudents_2018-01-01", FAIL, "Azure for Students"),
    ("Sponsored_2016-01-01", WARN, "only use Azure credits"),
    ("MSDNDevTest_2014-09-01", WARN, "zero Claude quota"),
    ("SomethingNew_2030-01-01", PASS, "not one the docs exclude"),
])
def test_subscription_eligibility_from_its_quota_id(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path,
                                                   quota_id: str, status: str, fragment: str) -> None:
    seed = {"subscription_quota_id": quota_id}
    with Sandbox(SandboxConfig(state_dir=tmp_path_factory.mktemp("sub"), seed=seed)) as sb:
        spec = load_spec(pf_stack(tmp_path, OK_DEPLOYMENTS))
        with sandbox_target(sb.connection) as target:
            report = run_preflight(stack_view(spec, target))
    check = checks(report)["subscription"]
    assert check.status == status, check
    assert quota_id in check.reason
    assert fragment in check.reason
    assert report.ok == (status != FAIL)


def test_the_sandbox_refuses_claude_on_a_csp_subscription_as_azure_does(tmp_path_factory: pytest.TempPathFactory,
                                                                       tmp_path: Path) -> None:
    from claude_foundry._rehearse import up_local

    seed = {"subscription_quota_id": "CSP_2015-05-01"}
    with Sandbox(SandboxConfig(state_dir=tmp_path_factory.mktemp("csp"), seed=seed)) as sb:
        spec = load_spec(pf_stack(tmp_path, OK_DEPLOYMENTS))
        with sandbox_target(sb.connection) as target:
            deploy = up_local(spec, target)
    failed = [r for r in deploy.result.results if r.action == "failed"]
    assert [r.step.name for r in failed] == ["claude-foundry-deployments-sonnet"]
    assert "CSP subscription not supported" in (failed[0].error or "")
