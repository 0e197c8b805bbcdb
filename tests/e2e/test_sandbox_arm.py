"""ARM stand-in through the unmodified Azure management SDKs."""

from __future__ import annotations

import json
import threading
import uuid

import pytest
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError

from claude_foundry._azure import arm
from claude_foundry_sandbox.testing import PROVIDER_DATA, deployment_body, unique

pytestmark = pytest.mark.e2e


def _body(**kw) -> bytes:
    return json.dumps(deployment_body(**kw)).encode()


@pytest.fixture
def rg(rm_client):
    name = unique("rg-arm-")
    rm_client.resource_groups.create_or_update(name, {"location": "eastus2"})
    return name


def _account(cs_client, rg, name=None, location="eastus2", **props):
    name = name or unique("acct-")
    return cs_client.accounts.begin_create(rg, name, {
        "location": location, "kind": arm.ACCOUNT_KIND, "sku": {"name": arm.ACCOUNT_SKU},
        "properties": {"customSubDomainName": name, **props}}).result()


def test_resource_group_lifecycle(rm_client):
    name = unique("rg-life-")
    assert not rm_client.resource_groups.check_existence(name)
    rg = rm_client.resource_groups.create_or_update(name, {"location": "swedencentral"})
    assert rg.location == "swedencentral"
    assert rm_client.resource_groups.check_existence(name)
    assert rm_client.resource_groups.get(name).name == name
    rm_client.resource_groups.begin_delete(name).result()
    with pytest.raises(ResourceNotFoundError):
        rm_client.resource_groups.get(name)


def test_account_create_keys_models_usages(cs_client, rg):
    acc = _account(cs_client, rg)
    assert acc.properties.provisioning_state == "Succeeded"
    assert acc.properties.endpoint == f"https://{acc.name}.cognitiveservices.azure.com/"
    assert any("anthropic" in url for url in acc.properties.endpoints.values())
    keys = cs_client.accounts.list_keys(rg, acc.name)
    assert len(keys.key1) == 84
    assert keys.key1 != keys.key2
    new = cs_client.accounts.regenerate_key(rg, acc.name, "Key1")
    assert new.key1 != keys.key1
    assert new.key2 == keys.key2
    models = list(cs_client.accounts.list_models(rg, acc.name))
    assert {m.name for m in models} >= {"claude-sonnet-4-6", "claude-opus-4-6"}
    assert all(m.format == "Anthropic" for m in models)
    sonnet = next(m for m in models if m.name == "claude-sonnet-4-6")
    assert {s.name for s in sonnet.skus} == {"GlobalStandard"}  # Anthropic-hosted only: no Data Zone
    haiku = {m.version: m for m in models if m.name == "claude-haiku-4-5"}
    assert set(haiku) == {"1", "2"}  # one entry per version (= hosting)
    assert {s.name for s in haiku["2"].skus} == {"GlobalStandard", "DataZoneStandard"}
    assert {s.name for s in haiku["1"].skus} == {"GlobalStandard"}
    assert haiku["2"].is_default_version is True
    assert haiku["1"].is_default_version is False
    assert haiku["2"].lifecycle_status == "GenerallyAvailable"
    cs_client.deployments.begin_create_or_update(rg, acc.name, "sonnet", _body(capacity=7),
                                                 api_version=arm.DEPLOYMENT_API_VERSION).result()
    usages = {u.name.value: u for u in cs_client.usages.list("eastus2")}
    u = usages["AIServices.GlobalStandard.claude-sonnet-4-6"]
    assert u.current_value >= 7
    assert u.limit >= u.current_value
    account_usages = {u.name.value for u in cs_client.accounts.list_usages(rg, acc.name).value}
    assert "AIServices.GlobalStandard.claude-sonnet-4-6" in account_usages
    location_models = list(cs_client.models.list("centralus"))
    assert "claude-fable-5" not in {m.model.name for m in location_models}  # not offered there
    assert "claude-fable-5" in {m.model.name for m in cs_client.models.list("eastus2")}
    assert list(cs_client.models.list("westus2")) == []  # no Claude in westus2 (region table, 2026-09)


def test_put_is_idempotent(rm_client, connection, rg):
    rid = arm.workspace_id(connection["subscription_id"], rg, unique("law-"))
    params = {"location": "eastus2", "properties": {"retentionInDays": 30}}
    first = rm_client.resources.begin_create_or_update_by_id(rid, params, api_version="2023-09-01").result()
    again = rm_client.resources.begin_create_or_update_by_id(rid, params, api_version="2023-09-01").result()
    assert first["properties"]["customerId"] == again["properties"]["customerId"]
    assert again["properties"]["retentionInDays"] == 30


def test_subdomain_taken(cs_client, rg):
    acc = _account(cs_client, rg)
    with pytest.raises(HttpResponseError) as info:
        _account(cs_client, rg, name=unique("other-"), customSubDomainName=acc.name)
    assert info.value.status_code == 409
    assert info.value.error.code == "CustomDomainInUse"


def test_deployment_create_get_list_delete(cs_client, rg):
    acc = _account(cs_client, rg)
    d = cs_client.deployments.begin_create_or_update(rg, acc.name, "opus", _body(model="claude-opus-4-6"),
                                                     api_version=arm.DEPLOYMENT_API_VERSION).result()
    assert d.properties.provisioning_state == "Succeeded"
    assert d.properties.model.format == "Anthropic"
    assert d.properties.model.name == "claude-opus-4-6"
    assert [x.name for x in cs_client.deployments.list(rg, acc.name)] == ["opus"]
    assert cs_client.deployments.get(rg, acc.name, "opus").sku.name == "GlobalStandard"
    cs_client.deployments.begin_delete(rg, acc.name, "opus").result()
    assert list(cs_client.deployments.list(rg, acc.name)) == []


def test_deployment_via_generic_resource_api(rm_client, cs_client, connection, rg):
    acc = _account(cs_client, rg)
    rid = arm.deployment_id(connection["subscription_id"], rg, acc.name, "haiku")
    res = rm_client.resources.begin_create_or_update_by_id(
        rid, deployment_body(model="claude-haiku-4-5"), api_version=arm.DEPLOYMENT_API_VERSION).result()
    assert res["properties"]["model"]["name"] == "claude-haiku-4-5"
    assert res["properties"]["provisioningState"] == "Succeeded"


@pytest.mark.parametrize("bad", [
    None,
    {**PROVIDER_DATA, "organizationName": ""},
    {**PROVIDER_DATA, "countryCode": "us"},
    {**PROVIDER_DATA, "countryCode": "USA"},
    {**PROVIDER_DATA, "industry": "Technology"},
    {k: v for k, v in PROVIDER_DATA.items() if k != "industry"},
])
def test_bad_model_provider_data(cs_client, claude_account, bad):
    body = deployment_body()
    if bad is None:
        del body["properties"]["modelProviderData"]
    else:
        body["properties"]["modelProviderData"] = bad
    with pytest.raises(HttpResponseError) as info:
        cs_client.deployments.begin_create_or_update(
            claude_account["resource_group"], claude_account["account"], "bad", json.dumps(body).encode(),
            api_version=arm.DEPLOYMENT_API_VERSION)
    assert info.value.status_code == 400
    assert info.value.error.code == "InvalidModelProviderData"


def test_provider_data_nested_in_model_is_refused(cs_client, claude_account):
    body = deployment_body()
    body["properties"]["model"]["modelProviderData"] = body["properties"].pop("modelProviderData")
    with pytest.raises(HttpResponseError) as info:
        cs_client.deployments.begin_create_or_update(
            claude_account["resource_group"], claude_account["account"], "nested", json.dumps(body).encode(),
            api_version=arm.DEPLOYMENT_API_VERSION)
    assert info.value.status_code == 400
    assert info.value.error.code == "InvalidModelProviderData"
    assert "next to properties.model" in info.value.error.message


@pytest.mark.parametrize(("change", "code"), [
    ({"model": "claude-haiku-4-6"}, "DeploymentModelNotSupported"),
    ({"sku": "Standard"}, "InvalidResourceProperties"),
    ({"capacity": 10_000}, "InsufficientQuota"),
])
def test_deployment_validation(cs_client, claude_account, change, code):
    with pytest.raises(HttpResponseError) as info:
        cs_client.deployments.begin_create_or_update(
            claude_account["resource_group"], claude_account["account"], "bad", _body(**change),
            api_version=arm.DEPLOYMENT_API_VERSION)
    assert info.value.status_code == 400
    assert info.value.error.code == code


def test_model_not_offered_in_location(cs_client, rg):
    acc = _account(cs_client, rg, location="westus2")
    with pytest.raises(HttpResponseError) as info:
        cs_client.deployments.begin_create_or_update(rg, acc.name, "haiku", _body(model="claude-haiku-4-5"),
                                                     api_version=arm.DEPLOYMENT_API_VERSION)
    assert info.value.error.code == "DeploymentModelNotSupported"


def _parallel(*calls):
    results: list = [None] * len(calls)

    def run(i, fn):
        try:
            results[i] = fn()
        except Exception as exc:  # collected for the assertions
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i, fn)) for i, fn in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


def test_concurrent_deployment_writes_conflict(cs_client, rg, provisioning_delay):
    acc = _account(cs_client, rg)
    provisioning_delay(0.6)
    barrier = threading.Barrier(2)

    def put(name, model):
        def call():
            barrier.wait()
            return cs_client.deployments.begin_create_or_update(
                rg, acc.name, name, _body(model=model), api_version=arm.DEPLOYMENT_API_VERSION).result()
        return call

    results = _parallel(put("one", "claude-sonnet-4-6"), put("two", "claude-opus-4-6"))
    errors = [r for r in results if isinstance(r, Exception)]
    assert len(errors) == 1, results
    assert isinstance(errors[0], ResourceExistsError)
    assert errors[0].status_code == 409
    assert errors[0].error.code == "RequestConflict"
    ok = next(r for r in results if not isinstance(r, Exception))
    assert ok.properties.provisioning_state == "Succeeded"


def test_two_accounts_in_parallel(cs_client, rg, provisioning_delay):
    a, b = _account(cs_client, rg), _account(cs_client, rg)
    provisioning_delay(0.4)

    def put(acc):
        return lambda: cs_client.deployments.begin_create_or_update(
            rg, acc.name, "sonnet", _body(), api_version=arm.DEPLOYMENT_API_VERSION).result()

    results = _parallel(put(a), put(b))
    assert all(not isinstance(r, Exception) and r.properties.provisioning_state == "Succeeded" for r in results), \
        results


def test_in_flight_state_is_visible(cs_client, rg, provisioning_delay):
    acc = _account(cs_client, rg)
    provisioning_delay(0.5)
    poller = cs_client.deployments.begin_create_or_update(rg, acc.name, "s", _body(),
                                                          api_version=arm.DEPLOYMENT_API_VERSION)
    assert cs_client.deployments.get(rg, acc.name, "s").properties.provisioning_state == "Creating"
    with pytest.raises(ResourceExistsError):
        cs_client.deployments.begin_delete(rg, acc.name, "s")
    assert poller.result().properties.provisioning_state == "Succeeded"


def test_delete_account_and_not_found(cs_client, rg):
    acc = _account(cs_client, rg)
    assert acc.name in {a.name for a in cs_client.accounts.list_by_resource_group(rg)}
    cs_client.accounts.begin_delete(rg, acc.name).result()
    with pytest.raises(ResourceNotFoundError) as info:
        cs_client.accounts.get(rg, acc.name)
    assert info.value.error.code == "ResourceNotFound"
    with pytest.raises(ResourceNotFoundError) as info:
        cs_client.accounts.get(unique("rg-missing-"), acc.name)
    assert info.value.error.code == "ResourceGroupNotFound"


def test_lock_blocks_delete(rm_client, cs_client, connection, rg):
    acc = _account(cs_client, rg)
    rg_id = arm.resource_group_id(connection["subscription_id"], rg)
    lock_id = f"{rg_id}/providers/Microsoft.Authorization/locks/no-delete"
    rm_client.resources.begin_create_or_update_by_id(
        lock_id, {"properties": {"level": "CanNotDelete", "notes": "e2e"}}, api_version="2020-05-01").result()
    with pytest.raises(HttpResponseError) as info:
        cs_client.accounts.begin_delete(rg, acc.name).result()
    assert info.value.status_code == 409
    assert info.value.error.code == "ScopeLocked"
    rm_client.resources.begin_delete_by_id(lock_id, api_version="2020-05-01").result()
    cs_client.accounts.begin_delete(rg, acc.name).result()


def test_key_vault_purge_protection_is_one_way(rm_client, connection, rg):
    vault = unique("kv-")
    rid = arm.vault_id(connection["subscription_id"], rg, vault)
    props = {"tenantId": connection["tenant_id"], "sku": {"family": "A", "name": "standard"},
             "enableRbacAuthorization": True}
    v = rm_client.resources.begin_create_or_update_by_id(
        rid, {"location": "eastus2", "properties": {**props, "enablePurgeProtection": True}},
        api_version="2023-07-01").result()
    assert v["properties"]["vaultUri"] == connection["key_vault_url_template"].format(vault=vault)
    assert v["properties"]["enableSoftDelete"] is True
    with pytest.raises(HttpResponseError) as info:
        rm_client.resources.begin_create_or_update_by_id(
            rid, {"location": "eastus2", "properties": {**props, "enablePurgeProtection": False}},
            api_version="2023-07-01").result()
    assert info.value.status_code == 400


def test_role_assignment_and_diagnostic_settings(rm_client, cs_client, sandbox, connection, rg):
    acc = _account(cs_client, rg)
    account_id = arm.account_id(connection["subscription_id"], rg, acc.name)
    principal = sandbox.add_principal("reader")
    ra_id = f"{account_id}/providers/Microsoft.Authorization/roleAssignments/{unique('')[:0]}" \
            "0b5e5b87-0000-4000-8000-000000000001"
    ra = rm_client.resources.begin_create_or_update_by_id(ra_id, {"properties": {
        "roleDefinitionId": arm.role_definition_id(connection["subscription_id"], "cognitive-services-user"),
        "principalId": principal["principal_id"], "principalType": "ServicePrincipal"}},
        api_version="2022-04-01").result()
    assert ra["properties"]["scope"].lower() == account_id.lower()
    ws = arm.workspace_id(connection["subscription_id"], rg, unique("law-"))
    rm_client.resources.begin_create_or_update_by_id(ws, {"location": "eastus2", "properties": {}},
                                                     api_version="2023-09-01").result()
    ds_id = f"{account_id}/providers/Microsoft.Insights/diagnosticSettings/to-law"
    ds = rm_client.resources.begin_create_or_update_by_id(
        ds_id, {"properties": {"workspaceId": ws, "logs": [{"categoryGroup": "allLogs", "enabled": True}]}},
        api_version="2021-05-01-preview").result()
    assert ds["properties"]["workspaceId"] == ws
    assert rm_client.resources.get_by_id(ds_id, api_version="2021-05-01-preview")["name"] == "to-law"


def test_role_less_principal_cannot_manage(sandbox, make_credential, connection, arm_client_kwargs):
    from azure.mgmt.resource.resources import ResourceManagementClient

    p = sandbox.add_principal("nobody")
    client = ResourceManagementClient(make_credential(p["client_id"], p["client_secret"]),
                                      connection["subscription_id"], **arm_client_kwargs)
    with client, pytest.raises(HttpResponseError) as info:
        client.resource_groups.create_or_update(unique("rg-no-"), {"location": "eastus2"})
    assert info.value.status_code == 403
    assert info.value.error.code == "AuthorizationFailed"



# --- Marketplace agreements and permissions: no typed SDK here, so raw requests through the management
# client's azure-core pipeline (bearer token from the real credential, HTTPS against the sandbox CA) ---------

MARKETPLACE_API = "2021-01-01"
PERMISSIONS_API = "2022-04-01"


def _send(client, method, path, api_version, body=None):
    from azure.core.rest import HttpRequest

    kwargs = {"json": body} if body is not None else {}
    response = client.send_request(HttpRequest(method, path, params={"api-version": api_version}, **kwargs))
    return response.status_code, (response.json() if response.content else None)


def _terms_path(sub, model, offer_type="virtualmachine", plan=None):
    return (f"/subscriptions/{sub}/providers/Microsoft.MarketplaceOrdering/offerTypes/{offer_type}/publishers/"
            f"anthropic/offers/anthropic-{model}-offer/plans/{plan or f'anthropic-{model}-plan-new'}/"
            "agreements/current")


def test_marketplace_terms_get_and_accept(rm_client, connection):
    sub = connection["subscription_id"]
    path = _terms_path(sub, "claude-opus-4-1")
    agreement = (f"/subscriptions/{sub}/providers/Microsoft.MarketplaceOrdering/agreements/anthropic/offers/"
                 "anthropic-claude-opus-4-1-offer/plans/anthropic-claude-opus-4-1-plan-new")
    status, terms = _send(rm_client, "GET", path, MARKETPLACE_API)
    assert status == 200, terms
    assert terms["name"] == "anthropic-claude-opus-4-1-plan-new"
    assert terms["type"] == "Microsoft.MarketplaceOrdering/offertypes"
    assert terms["id"].lower() == path.lower()
    props = terms["properties"]
    assert props["accepted"] is True  # marketplace_default_accepted
    assert (props["publisher"], props["product"], props["plan"]) == (
        "anthropic", "anthropic-claude-opus-4-1-offer", "anthropic-claude-opus-4-1-plan-new")
    assert {"licenseTextLink", "privacyPolicyLink", "marketplaceTermsLink", "retrieveDatetime",
            "signature"} <= set(props)
    try:
        status, cancelled = _send(rm_client, "POST", f"{agreement}/cancel", MARKETPLACE_API)
        assert status == 200, cancelled
        assert cancelled["type"] == "Microsoft.MarketplaceOrdering/agreements"
        assert cancelled["properties"]["state"] == "Canceled"
        assert "cancelDate" in cancelled["properties"]
        assert _send(rm_client, "GET", path, MARKETPLACE_API)[1]["properties"]["accepted"] is False
        # az vm image terms accept: read the terms, set accepted, PUT them back
        _, terms = _send(rm_client, "GET", path, MARKETPLACE_API)
        terms["properties"]["accepted"] = True
        status, accepted = _send(rm_client, "PUT", path, MARKETPLACE_API, terms)
        assert status == 200, accepted
        assert accepted["properties"]["accepted"] is True
        assert accepted["properties"]["signature"] == terms["properties"]["signature"]
        assert _send(rm_client, "GET", path, MARKETPLACE_API)[1]["properties"]["accepted"] is True
        status, agreed = _send(rm_client, "GET", agreement, MARKETPLACE_API)
        assert status == 200
        assert agreed["properties"]["state"] == "Active"
        assert agreed["properties"]["offer"] == "anthropic-claude-opus-4-1-offer"
    finally:
        _send(rm_client, "POST", f"{agreement}/sign", MARKETPLACE_API)


def test_marketplace_unknown_offer_and_plan(rm_client, connection):
    sub = connection["subscription_id"]
    status, body = _send(rm_client, "GET", _terms_path(sub, "claude-nonexistent-9"), MARKETPLACE_API)
    assert status == 400
    assert body["error"]["code"] == "BadRequest"
    assert "The offer with Offer ID 'anthropic-claude-nonexistent-9-offer' was not found" in body["error"]["message"]
    status, body = _send(rm_client, "PUT", _terms_path(sub, "claude-nonexistent-9"), MARKETPLACE_API,
                         {"properties": {"accepted": True}})
    assert status == 400
    status, body = _send(rm_client, "GET", _terms_path(sub, "claude-sonnet-4-6", plan="no-such-plan"),
                         MARKETPLACE_API)
    assert status == 400
    assert "Plan ID 'no-such-plan'" in body["error"]["message"]
    status, body = _send(rm_client, "GET", _terms_path(sub, "claude-sonnet-4-6", offer_type="saas"),
                         MARKETPLACE_API)
    assert status == 400


def test_marketplace_reader_reads_but_cannot_accept(sandbox, make_credential, connection, arm_client_kwargs):
    from azure.mgmt.resource.resources import ResourceManagementClient

    sub = connection["subscription_id"]
    p = sandbox.add_principal("terms-reader", roles=[("reader", f"/subscriptions/{sub}")])
    client = ResourceManagementClient(make_credential(p["client_id"], p["client_secret"]), sub, **arm_client_kwargs)
    with client:
        path = _terms_path(sub, "claude-haiku-4-5")
        status, terms = _send(client, "GET", path, MARKETPLACE_API)
        assert status == 200
        status, body = _send(client, "PUT", path, MARKETPLACE_API, terms)
        assert status == 403
        assert body["error"]["code"] == "AuthorizationFailed"


def test_permissions_of_the_owner(rm_client, connection, rg):
    sub = connection["subscription_id"]
    for scope in (f"/subscriptions/{sub}", arm.resource_group_id(sub, rg)):
        status, body = _send(rm_client, "GET", f"{scope}/providers/Microsoft.Authorization/permissions",
                             PERMISSIONS_API)
        assert status == 200, body
        assert body["value"] == [{"actions": ["*"], "notActions": [], "dataActions": [], "notDataActions": []}]
    status, body = _send(rm_client, "GET", f"{arm.resource_group_id(sub, unique('rg-missing-'))}/providers/"
                         "Microsoft.Authorization/permissions", PERMISSIONS_API)
    assert status == 404
    assert body["error"]["code"] == "ResourceGroupNotFound"


def test_permissions_follow_role_assignments(sandbox, rm_client, make_credential, connection, arm_client_kwargs,
                                             rg):
    """Roles granted through ARM at the group show there (and below), not at the subscription."""
    from azure.mgmt.resource.resources import ResourceManagementClient

    sub = connection["subscription_id"]
    rg_id = arm.resource_group_id(sub, rg)
    p = sandbox.add_principal("perms", roles=[("reader", f"/subscriptions/{sub}")])
    for role in ("contributor", "cognitive-services-user", "key-vault-secrets-user"):
        rm_client.resources.begin_create_or_update_by_id(
            f"{rg_id}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}",
            {"properties": {"roleDefinitionId": arm.role_definition_id(sub, role), "principalId": p["principal_id"],
                            "principalType": "ServicePrincipal"}},
            api_version=PERMISSIONS_API).result()
    client = ResourceManagementClient(make_credential(p["client_id"], p["client_secret"]), sub, **arm_client_kwargs)
    with client:
        status, body = _send(client, "GET", f"/subscriptions/{sub}/providers/Microsoft.Authorization/permissions",
                             PERMISSIONS_API)
        assert status == 200
        assert body["value"] == [{"actions": ["*/read"], "notActions": [], "dataActions": [],
                                  "notDataActions": []}]
        status, body = _send(client, "GET", f"{rg_id}/providers/Microsoft.Authorization/permissions",
                             PERMISSIONS_API)
        assert status == 200
        grants = body["value"]
        assert len(grants) == 4
        contributor = next(g for g in grants if g["actions"] == ["*"])
        assert {"Microsoft.Authorization/*/Write", "Microsoft.Authorization/*/Delete",
                "Microsoft.Authorization/elevateAccess/Action"} <= set(contributor["notActions"])
        data = sorted(a for g in grants for a in g["dataActions"])
        assert data == ["Microsoft.CognitiveServices/*", "Microsoft.KeyVault/vaults/secrets/getSecret/action",
                        "Microsoft.KeyVault/vaults/secrets/readMetadata/action"]
        assert all(set(g) == {"actions", "notActions", "dataActions", "notDataActions"} for g in grants)
        # a resource in the group inherits them; a missing one is 404
        acc = arm.account_id(sub, rg, unique("none-"))
        status, body = _send(client, "GET", f"{acc}/providers/Microsoft.Authorization/permissions",
                             PERMISSIONS_API)
        assert status == 404
        assert body["error"]["code"] == "ResourceNotFound"


def test_permissions_of_a_principal_without_roles(sandbox, make_credential, connection, arm_client_kwargs):
    from azure.mgmt.resource.resources import ResourceManagementClient

    p = sandbox.add_principal("roleless")
    sub = connection["subscription_id"]
    client = ResourceManagementClient(make_credential(p["client_id"], p["client_secret"]), sub, **arm_client_kwargs)
    with client:
        status, body = _send(client, "GET", f"/subscriptions/{sub}/providers/Microsoft.Authorization/permissions",
                             PERMISSIONS_API)
    assert (status, body) == (200, {"value": []})


# --- soft delete: Cognitive Services accounts and Key Vault vaults ------------------------------------


def _deleted(cs_client, rg, name):
    return [d for d in cs_client.deleted_accounts.list() if d.name == name and f"/resourceGroups/{rg}/" in d.id]


def test_deleted_account_is_kept_blocks_recreate_and_restores(cs_client, rg, connection):
    acc = _account(cs_client, rg)
    cs_client.deployments.begin_create_or_update(rg, acc.name, "s", _body(),
                                                 api_version=arm.DEPLOYMENT_API_VERSION).result()
    keys = cs_client.accounts.list_keys(rg, acc.name)
    cs_client.accounts.begin_delete(rg, acc.name).result()
    with pytest.raises(ResourceNotFoundError):
        cs_client.accounts.get(rg, acc.name)

    # DeletedAccounts_List / _Get: the account under its deleted-account id, with the dates
    (listed,) = _deleted(cs_client, rg, acc.name)
    got = cs_client.deleted_accounts.get("eastus2", rg, acc.name)
    assert got.id == listed.id == (f"/subscriptions/{connection['subscription_id']}/providers/"
                                   f"Microsoft.CognitiveServices/locations/eastus2/resourceGroups/{rg}/"
                                   f"deletedAccounts/{acc.name}")
    assert got.type == "Microsoft.CognitiveServices/accounts"
    assert got.location == "eastus2"
    assert got.properties.custom_sub_domain_name == acc.name
    assert got.properties.deletion_date < got.properties.scheduled_purge_date
    with pytest.raises(ResourceNotFoundError):
        cs_client.deleted_accounts.get("swedencentral", rg, acc.name)

    # the subdomain stays held, by this account too
    assert not cs_client.check_domain_availability(
        subdomain_name=acc.name, type="Microsoft.CognitiveServices/accounts").is_subdomain_available
    with pytest.raises(HttpResponseError) as info:
        _account(cs_client, rg, name=unique("acct-"), customSubDomainName=acc.name)
    assert info.value.error.code == "CustomDomainInUse"
    with pytest.raises(HttpResponseError) as info:
        _account(cs_client, rg, name=acc.name)
    assert info.value.status_code == 409
    assert info.value.error.code == "FlagMustBeSetForRestore"
    assert "has been soft-deleted" in info.value.error.message
    assert "'restore'" in info.value.error.message

    restored = _account(cs_client, rg, name=acc.name, restore=True)
    assert restored.properties.provisioning_state == "Succeeded"
    assert restored.properties.internal_id == acc.properties.internal_id
    assert cs_client.accounts.list_keys(rg, acc.name).key1 == keys.key1
    assert [d.name for d in cs_client.deployments.list(rg, acc.name)] == ["s"]
    assert _deleted(cs_client, rg, acc.name) == []


def test_purge_frees_the_name_and_the_subdomain(cs_client, rg, provisioning_delay):
    acc = _account(cs_client, rg)
    cs_client.accounts.begin_delete(rg, acc.name).result()
    provisioning_delay(0.3)  # purge is long-running
    poller = cs_client.deleted_accounts.begin_purge("eastus2", rg, acc.name)
    assert _deleted(cs_client, rg, acc.name)  # still there while purging
    poller.result()
    provisioning_delay(0.0)
    assert _deleted(cs_client, rg, acc.name) == []
    with pytest.raises(ResourceNotFoundError):
        cs_client.deleted_accounts.get("eastus2", rg, acc.name)
    assert cs_client.check_domain_availability(
        subdomain_name=acc.name, type="Microsoft.CognitiveServices/accounts").is_subdomain_available
    again = _account(cs_client, rg, name=acc.name)
    assert again.properties.internal_id != acc.properties.internal_id


def test_deleting_the_group_soft_deletes_its_accounts(rm_client, cs_client, rg):
    acc = _account(cs_client, rg)
    rm_client.resource_groups.begin_delete(rg).result()
    assert _deleted(cs_client, rg, acc.name)
    cs_client.deleted_accounts.begin_purge("eastus2", rg, acc.name).result()
    assert _deleted(cs_client, rg, acc.name) == []


def test_deleted_vault_blocks_recreate_until_recovered(rm_client, connection, rg):
    vault = unique("kv-")
    sub = connection["subscription_id"]
    rid = arm.vault_id(sub, rg, vault)
    body = {"location": "eastus2", "properties": {"tenantId": connection["tenant_id"],
                                                  "sku": {"family": "A", "name": "standard"},
                                                  "enableRbacAuthorization": True}}
    rm_client.resources.begin_create_or_update_by_id(rid, body, api_version="2023-07-01").result()
    rm_client.resources.begin_delete_by_id(rid, api_version="2023-07-01").result()
    deleted_id = f"/subscriptions/{sub}/providers/Microsoft.KeyVault/locations/eastus2/deletedVaults/{vault}"
    dv = rm_client.resources.get_by_id(deleted_id, api_version="2024-11-01")
    assert dv.properties["vaultId"] == rid
    with pytest.raises(ResourceNotFoundError):
        rm_client.resources.get_by_id(deleted_id.replace("/eastus2/", "/westus/"), api_version="2024-11-01")
    with pytest.raises(HttpResponseError) as info:
        rm_client.resources.begin_create_or_update_by_id(rid, body, api_version="2023-07-01").result()
    assert info.value.status_code == 409
    assert info.value.error.code == "ConflictError"
    assert "already exists in deleted state" in info.value.error.message
    recover = {**body, "properties": {**body["properties"], "createMode": "recover"}}
    v = rm_client.resources.begin_create_or_update_by_id(rid, recover, api_version="2023-07-01").result()
    assert v.properties["vaultUri"] == connection["key_vault_url_template"].format(vault=vault)
    with pytest.raises(ResourceNotFoundError):
        rm_client.resources.get_by_id(deleted_id, api_version="2024-11-01")
