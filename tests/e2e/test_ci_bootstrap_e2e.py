"""``claude-foundry ci bootstrap`` against the sandbox through the Azure SDKs: the dry run lists everything and
writes nothing, a real run creates it, a second run changes nothing, the role assignments carry the right role
ids and scopes; and the sandbox's managed identity, storage and Key Vault key types behave as Azure's do."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from claude_foundry._azure import arm
from claude_foundry._azure.caller import ArmCaller
from claude_foundry._azure.target import sandbox_target
from claude_foundry.cli import main
from claude_foundry_sandbox.testing import unique

pytestmark = pytest.mark.e2e

ENVS = ("dev", "prod")
STACKS = Path(__file__).resolve().parents[2] / "stacks"


def bootstrap(capsys, conn_file: str, repo: str, platform: str, *extra: str) -> tuple[int, dict[str, Any]]:
    argv = ["ci", "bootstrap", "--repo", repo, "--resource-group", platform, "--location", "eastus2",
            "--environments", ",".join(ENVS), "--sandbox", conn_file, "--json",
            *(f"--deploy-resource-group={e}={platform}-{e}" for e in ENVS), *extra]
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 0, err
    return code, json.loads(out)


@pytest.fixture
def names() -> dict[str, str]:
    tag = unique("")
    return {"repo": f"contoso/app-{tag}", "platform": f"rg-ci-{tag}", "account": f"st{tag}",
            "vault": f"kv-{tag}", "identity": f"id-{tag}"}


def flags(names: dict[str, str]) -> list[str]:
    return ["--storage-account", names["account"], "--key-vault", names["vault"], "--identity-name", names["identity"]]


def test_dry_run_then_apply_then_nothing_to_change(capsys, conn_file, sandbox, names):
    repo, platform = names["repo"], names["platform"]
    _, dry = bootstrap(capsys, conn_file, repo, platform, "--dry-run", *flags(names))
    kinds = [r["kind"] for r in dry["resources"]]
    assert kinds.count("resource group") == 3
    assert kinds.count("managed identity") == 4  # dev, prod, preview, drift
    assert kinds.count("federated credential") == 4
    assert {"storage account", "blob service", "blob container", "key vault", "key"} <= set(kinds)
    assert all(r["action"] == "create" for r in dry["resources"])
    assert all(g["action"] == "create" for g in dry["role_assignments"])
    assert dry["changes"] == len(dry["resources"]) + len(dry["role_assignments"])
    assert not [k for k in sandbox.state.resources if names["identity"].lower() in k]  # nothing written

    _, done = bootstrap(capsys, conn_file, repo, platform, *flags(names))
    assert done["dry_run"] is False
    assert done["changes"] == dry["changes"]
    client_ids = {r["where"]: r["value"] for r in done["github"] if r["name"] == "AZURE_CLIENT_ID"}
    assert set(client_ids) == {"environment dev", "environment prod", "repository"}
    assert all(len(v) == 36 for v in client_ids.values())
    github = {r["name"]: r["value"] for r in done["github"]}
    assert github["AZURE_TENANT_ID"] == sandbox.connection["tenant_id"]
    assert github["PULUMI_BACKEND_URL"] == f"azblob://pulumi-state?storage_account={names['account']}"
    assert github["PULUMI_SECRETS_PROVIDER"] == f"azurekeyvault://{names['vault']}.vault.azure.net/keys/pulumi-secrets"

    _, again = bootstrap(capsys, conn_file, repo, platform, *flags(names))
    assert again["changes"] == 0
    assert {r["action"] for r in again["resources"]} == {"exists"}
    assert {g["action"] for g in again["role_assignments"]} == {"exists"}
    _, dry_again = bootstrap(capsys, conn_file, repo, platform, "--dry-run", *flags(names))
    assert dry_again["changes"] == 0


def test_identities_credentials_and_role_assignments_as_azure_holds_them(capsys, conn_file, connection, names):
    repo, platform = names["repo"], names["platform"]
    _, done = bootstrap(capsys, conn_file, repo, platform, *flags(names))
    sub = connection["subscription_id"]
    target = sandbox_target(connection)
    with ArmCaller(target) as caller:
        mi = arm.MANAGED_IDENTITY_API_VERSION
        dev_id = arm.identity_id(sub, platform, f"{names['identity']}-dev")
        status, ident = caller.call("GET", dev_id, mi)
        assert status == 200
        assert set(ident["properties"]) == {"tenantId", "principalId", "clientId"}
        status, creds = caller.call("GET", f"{dev_id}/federatedIdentityCredentials", mi)
        assert status == 200
        assert [c["properties"] for c in creds["value"]] == [{
            "issuer": "https://token.actions.githubusercontent.com", "subject": f"repo:{repo}:environment:dev",
            "audiences": ["api://AzureADTokenExchange"]}]
        status, drift = caller.call("GET", arm.identity_id(sub, platform, f"{names['identity']}-drift")
                                    + "/federatedIdentityCredentials/github-main", mi)
        assert drift["properties"]["subject"] == f"repo:{repo}:ref:refs/heads/main"

        dev = ident["properties"]["principalId"]
        status, data = caller.call(
            "GET", f"/subscriptions/{sub}/providers/Microsoft.Authorization/"
                   f"roleAssignments?$filter=principalId%20eq%20'{dev}'", arm.API_VERSIONS[arm.ROLE_ASSIGNMENT])
        assert status == 200
        held = {(a["properties"]["roleDefinitionId"].rsplit("/", 1)[-1], a["properties"]["scope"])
                for a in data["value"]}
        container = arm.blob_container_id(sub, platform, names["account"], "pulumi-state")
        key = f"{arm.vault_id(sub, platform, names['vault'])}/keys/pulumi-secrets"
        rg_dev = arm.resource_group_id(sub, platform + "-dev")
        assert held == {(arm.CI_ROLE_IDS["contributor"], rg_dev),
                        (arm.CI_ROLE_IDS["role-based-access-control-administrator"], rg_dev),
                        (arm.CI_ROLE_IDS["storage-blob-data-contributor"], container),
                        (arm.CI_ROLE_IDS["key-vault-crypto-user"], key)}
        names_json = {(g["identity"], g["role_id"], g["scope"]): g["name"] for g in done["role_assignments"]}
        for a in data["value"]:
            p = a["properties"]
            assert a["name"] == arm.ci_role_assignment_name(p["scope"], p["roleDefinitionId"].rsplit("/", 1)[-1], dev)
            assert a["name"] == names_json[(f"{names['identity']}-dev", p["roleDefinitionId"].rsplit("/", 1)[-1],
                                            p["scope"])]
    target.close()
    # least privilege: no identity holds anything at the subscription, nor the drift one a data-plane write
    scopes = {g["scope"] for g in done["role_assignments"]}
    assert f"/subscriptions/{sub}" not in scopes
    drift_roles = {g["role"] for g in done["role_assignments"] if g["identity"].endswith("-drift")}
    assert drift_roles == {"Reader", "Cognitive Services User", "Key Vault Secrets User", "Monitoring Reader",
                           "Cost Management Reader"}
    # the usage summary's read-only roles, held by the drift identity on each stack's resource group in the sandbox
    drift_id = arm.identity_id(sub, platform, f"{names['identity']}-drift")
    with ArmCaller(sandbox_target(connection)) as caller:
        _, ident = caller.call("GET", drift_id, arm.MANAGED_IDENTITY_API_VERSION)
        principal = ident["properties"]["principalId"]
        status, data = caller.call(
            "GET", f"/subscriptions/{sub}/providers/Microsoft.Authorization/"
                   f"roleAssignments?$filter=principalId%20eq%20'{principal}'", arm.API_VERSIONS[arm.ROLE_ASSIGNMENT])
        assert status == 200
        held = {(a["properties"]["roleDefinitionId"].rsplit("/", 1)[-1], a["properties"]["scope"])
                for a in data["value"]}
        for env in ("dev", "prod"):
            rg = arm.resource_group_id(sub, f"{platform}-{env}")
            assert {(arm.MONITORING_READER_ROLE_ID, rg), (arm.COST_MANAGEMENT_READER_ROLE_ID, rg)} <= held


def test_a_changed_setting_is_put_back(capsys, conn_file, connection, names):
    repo, platform = names["repo"], names["platform"]
    bootstrap(capsys, conn_file, repo, platform, *flags(names))
    account_id = arm.storage_account_id(connection["subscription_id"], platform, names["account"])
    target = sandbox_target(connection)
    with ArmCaller(target) as caller:
        status, _ = caller.call("PATCH", account_id, arm.STORAGE_API_VERSION,
                                {"properties": {"allowSharedKeyAccess": True}})
        assert status == 200
        _, dry = bootstrap(capsys, conn_file, repo, platform, "--dry-run", *flags(names))
        changed = [r for r in dry["resources"] if r["action"] != "exists"]
        assert [(r["kind"], r["differs"]) for r in changed] == [("storage account",
                                                                  ["properties.allowSharedKeyAccess"])]
        _, fixed = bootstrap(capsys, conn_file, repo, platform, *flags(names))
        assert fixed["changes"] == 1
        _, account = caller.call("GET", account_id, arm.STORAGE_API_VERSION)
        assert account["properties"]["allowSharedKeyAccess"] is False
    target.close()


def test_text_output_names_every_resource_role_and_github_setting(capsys, conn_file, names):
    argv = ["ci", "bootstrap", "--repo", names["repo"], "--resource-group", names["platform"], "--location",
            "eastus2", "--sandbox", conn_file, "--dry-run", "--stacks-dir", str(STACKS), *flags(names)]
    assert main(argv) == 0  # stacks/dev.yaml and stacks/prod.yaml name the resource groups
    out = capsys.readouterr().out
    for word in ("rg-claude-dev", "rg-claude-prod", "Key Vault Crypto User", "Storage Blob Data Contributor",
                 "User Access Administrator", "AZURE_DRIFT_CLIENT_ID", "PULUMI_BACKEND_URL", "to create or update",
                 "Monitoring Reader", "Cost Management Reader"):
        assert word in out


# --- the sandbox's new resource types -----------------------------------------------------------------


@pytest.fixture
def caller(connection: dict[str, Any]):
    target = sandbox_target(connection)
    with ArmCaller(target) as c:
        yield c
    target.close()


@pytest.fixture
def group(caller, connection) -> str:
    rg = unique("rg-sbx-")
    rg_id = arm.resource_group_id(connection["subscription_id"], rg)
    assert caller.call("PUT", rg_id, "2024-03-01", {"location": "eastus2"})[0] == 201
    return rg_id


def test_sandbox_federated_credentials_are_checked_and_limited_to_20(caller, group):
    mi = arm.MANAGED_IDENTITY_API_VERSION
    ident = f"{group}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{unique('id-')}"
    assert caller.call("PUT", ident, mi, {"location": "eastus2"})[0] == 201
    first = caller.call("GET", ident, mi)[1]["properties"]
    assert caller.call("PUT", ident, mi, {"location": "eastus2", "tags": {"a": "b"}})[0] == 200
    assert caller.call("GET", ident, mi)[1]["properties"] == first  # ids kept on update

    def fic(name: str, **props: Any) -> tuple[int, Any]:
        body = {"issuer": "https://token.actions.githubusercontent.com", "subject": "repo:o/r:pull_request",
                "audiences": ["api://AzureADTokenExchange"], **props}
        return caller.call("PUT", f"{ident}/federatedIdentityCredentials/{name}", mi, {"properties": body})

    assert fic("bad-issuer", issuer="http://token.actions.githubusercontent.com")[0] == 400
    assert fic("no-audience", audiences=[])[0] == 400
    status, err = fic("bad-subject", subject="repo:o/r:branch:main")
    assert status == 400
    assert "GitHub Actions subject" in err["error"]["message"]
    assert fic("x")[0] == 400  # name too short
    for i in range(20):
        assert fic(f"cred-{i}", subject=f"repo:o/r:environment:e{i}")[0] == 201
    status, err = fic("cred-20", subject="repo:o/r:environment:e20")
    assert status == 400
    assert "maximum of 20" in err["error"]["message"]
    assert fic("cred-3", subject="repo:o/r:environment:e3")[0] == 200  # same body again


def test_sandbox_storage_accounts_and_containers(caller, group):
    st = arm.STORAGE_API_VERSION
    name = unique("st")
    account = f"{group}/providers/Microsoft.Storage/storageAccounts/{name}"
    body = {"location": "eastus2", "kind": "StorageV2", "sku": {"name": "Standard_LRS"},
            "properties": {"allowBlobPublicAccess": False}}
    assert caller.call("PUT", f"{group}/providers/Microsoft.Storage/storageAccounts/Bad_Name", st, body)[0] == 400
    status, res = caller.call("PUT", account, st, body)
    assert status == 201
    assert res["properties"]["primaryEndpoints"]["blob"] == f"https://{name}.blob.core.windows.net/"
    assert res["sku"] == {"name": "Standard_LRS", "tier": "Standard"}
    other = unique("rg-sbx-")
    caller.call("PUT", group.rsplit("/", 1)[0] + f"/{other}", "2024-03-01", {"location": "eastus2"})
    taken = caller.call("PUT", group.rsplit("/", 1)[0] + f"/{other}/providers/Microsoft.Storage/storageAccounts/"
                        f"{name}", st, body)
    assert taken[0] == 409
    assert taken[1]["error"]["code"] == "StorageAccountAlreadyTaken"
    assert caller.call("GET", f"{account}/blobServices/default", st)[0] == 200  # there with the account
    container = f"{account}/blobServices/default/containers/state"
    assert caller.call("PUT", f"{account}/blobServices/default/containers/a--b", st, {})[0] == 400
    status, err = caller.call("PUT", container, st, {"properties": {"publicAccess": "Blob"}})
    assert (status, err["error"]["code"]) == (409, "PublicAccessNotPermitted")
    status, res = caller.call("PUT", container, st, {"properties": {"publicAccess": "None"}})
    assert status == 201
    assert res["properties"]["leaseState"] == "Available"
    listed = caller.call("GET", f"{account}/blobServices/default/containers", st)[1]["value"]
    assert [c["name"] for c in listed] == ["state"]


def test_sandbox_key_vault_keys_through_arm(caller, group, connection):
    kv = arm.KEY_VAULT_API_VERSION
    vault = f"{group}/providers/Microsoft.KeyVault/vaults/{unique('kv-')}"
    assert caller.call("PUT", vault, kv, {"location": "eastus2", "properties": {
        "tenantId": connection["tenant_id"], "sku": {"family": "A", "name": "standard"},
        "enableRbacAuthorization": True}})[0] in (200, 201)
    key = f"{vault}/keys/pulumi"
    assert caller.call("PUT", key, kv, {"properties": {"kty": "RSA-HSM"}})[0] == 400  # a standard vault
    assert caller.call("PUT", key, kv, {"properties": {"kty": "RSA", "keySize": 1024}})[0] == 400
    status, made = caller.call("PUT", key, kv, {"properties": {"kty": "RSA", "keyOps": ["encrypt", "decrypt"]}})
    assert status == 201
    p = made["properties"]
    assert (p["kty"], p["keySize"], p["keyOps"]) == ("RSA", 2048, ["encrypt", "decrypt"])
    assert p["keyUriWithVersion"].startswith(p["keyUri"] + "/")
    status, again = caller.call("PUT", key, kv, {"properties": {"kty": "EC"}})  # ARM never rewrites a key
    assert status == 200
    assert again["properties"]["keyUriWithVersion"] == p["keyUriWithVersion"]
    assert caller.call("DELETE", key, kv)[0] == 405
