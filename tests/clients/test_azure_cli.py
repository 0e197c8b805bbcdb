"""The real Azure CLI against the sandbox: ``az cloud register`` (``/metadata/endpoints``), ``az login
--service-principal`` (Entra ID, ``GET /subscriptions``), then the Cognitive Services commands an operator runs
on a deployed stack. az runs from its own venv (``scripts/install_azure_cli``); without it these tests skip.
Keys az prints are compared by hash and length only, never shown."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import pytest
from azcli import CLOUD, AzCli, skip_reason

from claude_foundry._azure import arm
from claude_foundry_sandbox.testing import unique

pytestmark = pytest.mark.skipif(skip_reason() is not None, reason=skip_reason() or "")

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from claude_foundry_sandbox import Sandbox, SandboxConfig  # noqa: E402
from claude_foundry_sandbox.testing import deployment_body  # noqa: E402

LOCATION = "eastus2"
#: deployment name -> (model, capacity)
DEPLOYMENTS = {"sonnet": ("claude-sonnet-4-6", 3), "haiku": ("claude-haiku-4-5", 2)}


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    with Sandbox(SandboxConfig(state_dir=tmp_path_factory.mktemp("az-sandbox"))) as sb:
        yield sb


@pytest.fixture(scope="module")
def account(sandbox: Sandbox) -> Iterator[dict[str, Any]]:
    """A resource group and an AIServices account with two Claude deployments, made through the Azure SDKs;
    ``key_digests``: sha256 of the account's two keys as the SDK reads them."""
    from azure.identity import ClientSecretCredential
    from azure.mgmt.cognitiveservices import CognitiveServicesManagementClient
    from azure.mgmt.resource.resources import ResourceManagementClient

    c = sandbox.connection
    kw = {"base_url": c["arm_endpoint"], "credential_scopes": [c["arm_scope"]], "connection_verify": c["ca_bundle"]}
    rg, name = unique("rg-az-"), unique("cf-az-")
    with ClientSecretCredential(c["tenant_id"], c["client_id"], c["client_secret"], authority=c["authority"],
                                disable_instance_discovery=True, connection_verify=c["ca_bundle"]) as cred, \
            ResourceManagementClient(cred, c["subscription_id"], **kw) as rm, \
            CognitiveServicesManagementClient(cred, c["subscription_id"], **kw) as cs:
        rm.resource_groups.create_or_update(rg, {"location": LOCATION})
        cs.accounts.begin_create(rg, name, {
            "location": LOCATION, "kind": arm.ACCOUNT_KIND, "sku": {"name": arm.ACCOUNT_SKU},
            "properties": {"customSubDomainName": name, "publicNetworkAccess": "Enabled"}}).result()
        for deployment, (model, capacity) in DEPLOYMENTS.items():
            cs.deployments.begin_create_or_update(
                rg, name, deployment, json.dumps(deployment_body(model=model, capacity=capacity)).encode(),
                api_version=arm.DEPLOYMENT_API_VERSION).result()
        keys = cs.accounts.list_keys(rg, name)
        yield {"resource_group": rg, "account": name, "key_digests": {_digest(keys.key1), _digest(keys.key2)}}


@pytest.fixture(scope="module")
def az(sandbox: Sandbox, account: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[AzCli]:
    cli = AzCli(sandbox.connection, tmp_path_factory.mktemp("az"))
    try:
        cli.login()
        yield cli
    finally:
        cli.remove()


def test_login_lists_the_sandbox_subscription(az: AzCli, sandbox: Sandbox) -> None:
    c = sandbox.connection
    subs = az.subscriptions
    assert [s["id"] for s in subs] == [c["subscription_id"]]
    sub = subs[0]
    assert sub["tenantId"] == sub["homeTenantId"] == c["tenant_id"]
    assert sub["cloudName"] == CLOUD
    assert sub["state"] == "Enabled"
    assert sub["isDefault"] is True
    assert sub["user"] == {"name": c["client_id"], "type": "servicePrincipal"}
    shown = az.json("account", "show")
    assert shown["id"] == c["subscription_id"]
    assert shown["name"] == "claude-foundry sandbox"
    # nothing az keeps in its profile carries the secret in clear text
    assert c["client_secret"] not in (az.config_dir / "azureProfile.json").read_text(encoding="utf-8-sig")


def test_cloud_endpoints_point_at_the_sandbox(az: AzCli, sandbox: Sandbox) -> None:
    cloud = az.json("cloud", "show", "--name", CLOUD)
    origin = sandbox.connection["arm_endpoint"]
    assert cloud["isActive"] is True
    assert cloud["endpoints"]["resourceManager"].rstrip("/") == origin
    assert cloud["endpoints"]["activeDirectory"].rstrip("/") == origin
    assert cloud["endpoints"]["activeDirectoryResourceId"] == "https://management.core.windows.net/"


def test_tenant_list(az: AzCli, sandbox: Sandbox) -> None:
    # az itself lists tenants only on a user login without --tenant; `az rest` sends its ARM token there
    tenants = az.json("rest", "--method", "get", "--url", "/tenants?api-version=2022-12-01")["value"]
    tid = sandbox.connection["tenant_id"]
    assert [(t["id"], t["tenantId"], t["tenantCategory"]) for t in tenants] == [(f"/tenants/{tid}", tid, "Home")]


def test_deployment_list_and_show(az: AzCli, account: dict[str, Any]) -> None:
    rg, name = account["resource_group"], account["account"]
    listed = az.json("cognitiveservices", "account", "deployment", "list", "-g", rg, "-n", name)
    by_name = {d["name"]: d for d in listed}
    assert set(by_name) == set(DEPLOYMENTS)
    for deployment, (model, capacity) in DEPLOYMENTS.items():
        d = by_name[deployment]
        assert d["properties"]["model"]["format"] == "Anthropic"
        assert d["properties"]["model"]["name"] == model
        assert d["properties"]["provisioningState"] == "Succeeded"
        assert d["sku"] == {**d["sku"], "name": "GlobalStandard", "capacity": capacity}
    shown = az.json("cognitiveservices", "account", "deployment", "show", "-g", rg, "-n", name,
                    "--deployment-name", "haiku")
    assert shown["id"] == by_name["haiku"]["id"]
    assert shown["id"].endswith(f"/accounts/{name}/deployments/haiku")
    assert shown["properties"]["model"]["name"] == DEPLOYMENTS["haiku"][0]


def test_keys_list_matches_the_account_keys(az: AzCli, account: dict[str, Any]) -> None:
    proc = az.run("cognitiveservices", "account", "keys", "list", "-g", account["resource_group"],
                  "-n", account["account"], "--output", "json")
    keys = json.loads(proc.stdout)
    for key in keys.values():
        az.hide(key)
    assert sorted(keys) == ["key1", "key2"]
    assert [len(keys["key1"]), len(keys["key2"])] == [84, 84]
    assert {_digest(keys["key1"]), _digest(keys["key2"])} == account["key_digests"]


def test_list_models(az: AzCli, account: dict[str, Any]) -> None:
    models = az.json("cognitiveservices", "account", "list-models", "-g", account["resource_group"],
                     "-n", account["account"])
    anthropic = {(m["name"], m["version"]) for m in models if m["format"] == "Anthropic"}
    for model, _capacity in DEPLOYMENTS.values():
        assert any(name == model for name, _version in anthropic), model


def test_usage_list_counts_the_deployments(az: AzCli) -> None:
    usages = az.json("cognitiveservices", "usage", "list", "-l", LOCATION)
    by_name = {u["name"]["value"]: u for u in usages}
    for model, capacity in DEPLOYMENTS.values():
        usage = by_name[f"AIServices.GlobalStandard.{model}"]
        assert usage["currentValue"] == capacity
        assert usage["limit"] >= capacity
