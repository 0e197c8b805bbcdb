"""Key Vault data plane through the unmodified SecretClient (challenge, RBAC, versions, soft delete)."""

from __future__ import annotations

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from claude_foundry._azure import arm
from claude_foundry_sandbox.testing import unique

pytestmark = pytest.mark.e2e

KV_API = "2023-07-01"


@pytest.fixture(scope="module")
def vault(rm_client, connection):
    rg = unique("rg-kv-")
    rm_client.resource_groups.create_or_update(rg, {"location": "eastus2"})
    name = unique("kv")
    rid = arm.vault_id(connection["subscription_id"], rg, name)
    res = rm_client.resources.begin_create_or_update_by_id(rid, {"location": "eastus2", "properties": {
        "tenantId": connection["tenant_id"], "sku": {"family": "A", "name": "standard"},
        "enableRbacAuthorization": True}}, api_version=KV_API).result()
    return {"name": name, "id": rid, "rg": rg, "url": res["properties"]["vaultUri"]}


def _grant(rm_client, connection, scope, principal_id, role):
    import uuid

    rid = f"{scope}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}"
    rm_client.resources.begin_create_or_update_by_id(rid, {"properties": {
        "roleDefinitionId": arm.role_definition_id(connection["subscription_id"], role),
        "principalId": principal_id}}, api_version="2022-04-01").result()


@pytest.fixture(scope="module")
def officer_client(vault, rm_client, connection, credential):
    from azure.keyvault.secrets import SecretClient

    _grant(rm_client, connection, vault["id"], connection["principal_id"], "key-vault-secrets-officer")
    client = SecretClient(vault["url"], credential, connection_verify=connection["ca_bundle"])
    yield client
    client.close()


def test_owner_alone_is_forbidden_until_granted(sandbox, vault, rm_client, connection, make_credential):
    from azure.keyvault.secrets import SecretClient

    p = sandbox.add_principal("owner-only", roles=[("owner", f"/subscriptions/{connection['subscription_id']}")])
    client = SecretClient(vault["url"], make_credential(p["client_id"], p["client_secret"]),
                          connection_verify=connection["ca_bundle"])
    with client:
        with pytest.raises(HttpResponseError) as info:
            client.get_secret("anything")
        assert info.value.status_code == 403
        assert info.value.error.code == "Forbidden"
        assert info.value.error.innererror["code"] == "ForbiddenByRbac"  # the body's innererror, not the SDK's text
        # Granting Key Vault Secrets User through ARM (on the resource group) opens reads.
        rg_id = arm.resource_group_id(connection["subscription_id"], vault["rg"])
        _grant(rm_client, connection, rg_id, p["principal_id"], "key-vault-secrets-user")
        with pytest.raises(ResourceNotFoundError):
            client.get_secret("not-there")
        with pytest.raises(HttpResponseError) as info:
            client.set_secret("nope", "value")
        assert info.value.status_code == 403  # the user role cannot write


def test_versions_and_read_back(officer_client):
    first = officer_client.set_secret("api-key", "v1", content_type="text/plain")
    second = officer_client.set_secret("api-key", "v2")
    assert first.properties.version != second.properties.version
    assert officer_client.get_secret("api-key").value == "v2"
    assert officer_client.get_secret("api-key", first.properties.version).value == "v1"
    versions = {p.version for p in officer_client.list_properties_of_secret_versions("api-key")}
    assert versions == {first.properties.version, second.properties.version}
    assert "api-key" in {p.name for p in officer_client.list_properties_of_secrets()}


def test_soft_delete_recover_purge(officer_client):
    officer_client.set_secret("temp", "x")
    deleted = officer_client.begin_delete_secret("temp").result()
    assert deleted.name == "temp"
    assert deleted.recovery_id
    with pytest.raises(ResourceNotFoundError):
        officer_client.get_secret("temp")
    assert officer_client.get_deleted_secret("temp").name == "temp"
    assert "temp" in {d.name for d in officer_client.list_deleted_secrets()}
    officer_client.begin_recover_deleted_secret("temp").result()
    assert officer_client.get_secret("temp").value == "x"
    officer_client.begin_delete_secret("temp").result()
    officer_client.purge_deleted_secret("temp")
    with pytest.raises(ResourceNotFoundError):
        officer_client.get_deleted_secret("temp")


def test_arm_secret_write_lands_in_data_plane(rm_client, vault, officer_client):
    rid = f"{vault['id']}/secrets/from-arm"
    res = rm_client.resources.begin_create_or_update_by_id(rid, {"properties": {"value": "arm-value"}},
                                                           api_version=KV_API).result()
    assert "value" not in res["properties"]
    assert "value" not in rm_client.resources.get_by_id(rid, api_version=KV_API)["properties"]
    assert officer_client.get_secret("from-arm").value == "arm-value"


def test_deleted_vault_is_kept_soft_deleted(rm_client, connection, vault):
    rg = vault["rg"]
    name = unique("kvdel")
    rid = arm.vault_id(connection["subscription_id"], rg, name)
    body = {"location": "eastus2", "properties": {"tenantId": connection["tenant_id"],
                                                  "sku": {"family": "A", "name": "standard"}}}
    rm_client.resources.begin_create_or_update_by_id(rid, body, api_version=KV_API).result()
    rm_client.resources.begin_delete_by_id(rid, api_version=KV_API).result()
    with pytest.raises(HttpResponseError) as info:
        rm_client.resources.begin_create_or_update_by_id(rid, body, api_version=KV_API).result()
    assert info.value.status_code == 409
    recovered = rm_client.resources.begin_create_or_update_by_id(
        rid, {**body, "properties": {**body["properties"], "createMode": "recover"}}, api_version=KV_API).result()
    assert recovered["name"] == name
