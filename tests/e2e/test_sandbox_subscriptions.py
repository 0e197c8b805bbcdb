"""Microsoft.Resources at the top of ARM: ``GET /subscriptions``, ``GET /subscriptions/{id}``, ``GET /tenants``
(azure-rest-api-specs ``Microsoft.Resources/subscriptions/stable/2022-12-01``) and the cloud metadata document
``GET /metadata/endpoints`` (what ``az cloud register`` reads)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from claude_foundry_sandbox import Sandbox, SandboxConfig

pytestmark = pytest.mark.e2e

QUOTA_ID = "MSDN_2014-09-01"


@pytest.fixture(scope="module")
def msdn_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    with Sandbox(SandboxConfig(state_dir=tmp_path_factory.mktemp("msdn"),
                               seed={"subscription_quota_id": QUOTA_ID})) as sb:
        yield sb


def _arm_get(conn: dict[str, Any], ssl_context: Any, token: str | None, path: str, **params: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.get(f"{conn['arm_endpoint']}{path}", params=params, headers=headers, verify=ssl_context)


def _token(conn: dict[str, Any], client_id: str | None = None, secret: str | None = None) -> str:
    from azure.identity import ClientSecretCredential

    with ClientSecretCredential(conn["tenant_id"], client_id or conn["client_id"], secret or conn["client_secret"],
                                authority=conn["authority"], disable_instance_discovery=True,
                                connection_verify=conn["ca_bundle"]) as cred:
        return cred.get_token(conn["arm_scope"]).token


def test_subscription_list_and_get(connection, ssl_context, credential):
    token = credential.get_token(connection["arm_scope"]).token
    sub, tid = connection["subscription_id"], connection["tenant_id"]
    listed = _arm_get(connection, ssl_context, token, "/subscriptions", **{"api-version": "2022-12-01"})
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert body["count"] == {"type": "Total", "value": 1}
    one = _arm_get(connection, ssl_context, token, f"/subscriptions/{sub}", **{"api-version": "2022-12-01"}).json()
    assert body["value"] == [one]
    assert one == {"id": f"/subscriptions/{sub}", "subscriptionId": sub, "tenantId": tid,
                   "displayName": "claude-foundry sandbox", "state": "Enabled", "authorizationSource": "RoleBased",
                   "managedByTenants": [],
                   "subscriptionPolicies": {"locationPlacementId": "Public_2014-09-01",
                                            "quotaId": "PayAsYouGo_2014-09-01", "spendingLimit": "Off"}}


def test_subscription_list_needs_a_role_in_it(sandbox, connection, ssl_context):
    nobody = sandbox.add_principal("no roles")
    token = _token(connection, nobody["client_id"], nobody["client_secret"])
    r = _arm_get(connection, ssl_context, token, "/subscriptions", **{"api-version": "2022-12-01"})
    assert r.json() == {"value": [], "count": {"type": "Total", "value": 0}}
    rg_reader = sandbox.add_principal("reader of a group", roles=[
        ("reader", f"/subscriptions/{connection['subscription_id']}/resourceGroups/rg-somewhere")])
    token = _token(connection, rg_reader["client_id"], rg_reader["client_secret"])
    r = _arm_get(connection, ssl_context, token, "/subscriptions", **{"api-version": "2022-12-01"})
    assert [s["subscriptionId"] for s in r.json()["value"]] == [connection["subscription_id"]]


def test_subscription_list_errors(connection, ssl_context, credential):
    token = credential.get_token(connection["arm_scope"]).token
    assert _arm_get(connection, ssl_context, None, "/subscriptions", **{"api-version": "2022-12-01"}
                    ).status_code == 401
    missing = _arm_get(connection, ssl_context, token, "/subscriptions")
    assert missing.status_code == 400
    assert missing.json()["error"]["code"] == "MissingApiVersionParameter"
    posted = httpx.post(f"{connection['arm_endpoint']}/tenants", params={"api-version": "2022-12-01"},
                        headers={"Authorization": f"Bearer {token}"}, verify=ssl_context)
    assert posted.status_code == 405


def test_tenant_list(connection, ssl_context, credential):
    token = credential.get_token(connection["arm_scope"]).token
    tid = connection["tenant_id"]
    r = _arm_get(connection, ssl_context, token, "/tenants", **{"api-version": "2022-12-01"})
    assert r.status_code == 200, r.text
    (tenant,) = r.json()["value"]
    assert tenant["id"] == f"/tenants/{tid}"
    assert tenant["tenantId"] == tid
    assert tenant["tenantCategory"] == "Home"
    assert tenant["tenantType"] == "AAD"
    assert tenant["defaultDomain"] in tenant["domains"]


def test_metadata_endpoints(connection, ssl_context):
    origin = connection["arm_endpoint"]
    r = httpx.get(f"{origin}/metadata/endpoints", params={"api-version": "2022-09-01"}, verify=ssl_context)
    assert r.status_code == 200, r.text  # no token, as in Azure
    cloud = r.json()
    assert cloud["resourceManager"] == origin + "/"
    assert cloud["authentication"]["loginEndpoint"] == origin + "/"
    assert cloud["authentication"]["audiences"][0] == "https://management.core.windows.net/"
    assert cloud["name"] != "AzureCloud"
    assert isinstance(cloud["suffixes"], dict)
    older = httpx.get(f"{origin}/metadata/endpoints", params={"api-version": "2019-05-01"}, verify=ssl_context)
    assert older.json() == [cloud]
    assert httpx.get(f"{origin}/metadata/endpoints", verify=ssl_context).status_code == 400


def test_subscription_client_reads_the_quota_id(connection, credential, arm_client_kwargs, msdn_sandbox):
    # azure-mgmt-resource >= 26 no longer ships SubscriptionClient: azure-mgmt-resource-subscriptions does
    subscriptions = pytest.importorskip(
        "azure.mgmt.resource.subscriptions",
        reason="SubscriptionClient: azure-mgmt-resource < 26 or azure-mgmt-resource-subscriptions")
    with subscriptions.SubscriptionClient(credential, **arm_client_kwargs) as client:
        sub = client.subscriptions.get(connection["subscription_id"])
        assert sub.subscription_policies.quota_id == "PayAsYouGo_2014-09-01"
        assert sub.subscription_policies.spending_limit == "Off"
        assert sub.tenant_id == connection["tenant_id"]
        assert [s.subscription_id for s in client.subscriptions.list()] == [connection["subscription_id"]]
        assert [t.tenant_id for t in client.tenants.list()] == [connection["tenant_id"]]
    conn = msdn_sandbox.connection
    from azure.identity import ClientSecretCredential

    with ClientSecretCredential(conn["tenant_id"], conn["client_id"], conn["client_secret"],
                                authority=conn["authority"], disable_instance_discovery=True,
                                connection_verify=conn["ca_bundle"]) as cred, \
            subscriptions.SubscriptionClient(cred, base_url=conn["arm_endpoint"],
                                             credential_scopes=[conn["arm_scope"]],
                                             connection_verify=conn["ca_bundle"]) as client:
        assert client.subscriptions.get(conn["subscription_id"]).subscription_policies.quota_id == QUOTA_ID
        (listed,) = client.subscriptions.list()
        assert listed.subscription_policies.quota_id == QUOTA_ID


def test_seeded_quota_id_raw(msdn_sandbox):
    import ssl

    conn = msdn_sandbox.connection
    ctx = ssl.create_default_context(cafile=conn["ca_bundle"])
    token = _token(conn)
    one = _arm_get(conn, ctx, token, f"/subscriptions/{conn['subscription_id']}", **{"api-version": "2022-12-01"})
    listed = _arm_get(conn, ctx, token, "/subscriptions", **{"api-version": "2022-12-01"})
    assert one.json()["subscriptionPolicies"]["quotaId"] == QUOTA_ID
    assert listed.json()["value"][0]["subscriptionPolicies"]["quotaId"] == QUOTA_ID
