"""The Pulumi program under mocks: wiring, secrets, protection, the contract."""

from __future__ import annotations

import itertools
import json
import uuid

import pytest

from claude_foundry import _contract as contract
from claude_foundry._azure import arm
from claude_foundry.program import _armmap as armmap
from claude_foundry.program._plan import DEFAULT_CLIENT_CONFIG, KEY_PLACEHOLDER_RE, SECRET_MASK, key_placeholder, plan
from claude_foundry.program.components import ClaudeFoundryStack

SUB = DEFAULT_CLIENT_CONFIG["subscriptionId"]
DEPLOYMENT = armmap.GENERIC_RESOURCE
SECRET = armmap.SECRET


def deployments_of(p):
    return [r for r in p.resources if r.type == DEPLOYMENT]


def secrets_by_name(p):
    return {r.inputs["secretName"]: r for r in p.resources if r.type == SECRET}


def one(p, type_token):
    found = [r for r in p.resources if r.type == type_token]
    assert len(found) == 1, [r.name for r in found]
    return found[0]


# --- deployments ---------------------------------------------------------------------------------------


def test_deployments_are_chained_in_spec_order(prod_plan, prod_spec):
    deps = deployments_of(prod_plan)
    assert [d.inputs["resourceName"] for d in deps] == list(prod_spec.deployments)
    account = one(prod_plan, armmap.ACCOUNT)
    assert account.urn in deps[0].depends_on
    for previous, current in itertools.pairwise(deps):
        assert previous.urn in current.depends_on
        assert current.urn not in previous.depends_on
    # nothing but the chain between deployments: the first depends on no other deployment
    assert not {d.urn for d in deps} & set(deps[0].depends_on)


def test_two_stacks_are_not_chained_to_each_other(run_program, dev_spec, prod_spec):
    def program():
        ClaudeFoundryStack("a", dev_spec)
        ClaudeFoundryStack("b", prod_spec)

    run = run_program(program)
    deps = run.of_type(DEPLOYMENT)
    a = [d for d in deps if d.name.startswith("a-")]
    b = [d for d in deps if d.name.startswith("b-")]
    assert len(a) == len(dev_spec.deployments)
    assert len(b) == len(prod_spec.deployments)
    a_urns, b_urns = {d.urn for d in a}, {d.urn for d in b}
    for d in a:
        assert not set(d.depends_on) & b_urns
    for d in b:
        assert not set(d.depends_on) & a_urns
    accounts = {r.inputs["accountName"]: r.urn for r in run.of_type(armmap.ACCOUNT)}
    assert accounts[dev_spec.foundry.name] in a[0].depends_on
    assert accounts[prod_spec.foundry.name] in b[0].depends_on


def test_every_deployment_carries_model_provider_data_and_api_version(prod_plan, prod_spec):
    provider = prod_spec.foundry.model_provider
    deps = deployments_of(prod_plan)
    assert len(deps) == 3
    for d in deps:
        spec_dep = prod_spec.deployments[d.inputs["resourceName"]]
        assert d.inputs["apiVersion"] == arm.DEPLOYMENT_API_VERSION
        assert d.arm.api_version == arm.DEPLOYMENT_API_VERSION
        assert d.inputs["resourceProviderNamespace"] == "Microsoft.CognitiveServices"
        assert d.inputs["parentResourcePath"] == f"accounts/{prod_spec.foundry.name}"
        assert d.inputs["resourceType"] == "deployments"
        model = d.arm.body["properties"]["model"]
        assert model == {"format": "Anthropic", "name": spec_dep.model, "version": spec_dep.version}
        # next to "model", not inside it: where ARM takes it
        assert d.arm.body["properties"]["modelProviderData"] == {
            "organizationName": provider.organization_name,
            "countryCode": provider.country_code, "industry": provider.industry}
        assert d.arm.body["sku"] == {"name": spec_dep.sku, "capacity": spec_dep.capacity}
        assert isinstance(d.arm.body["sku"]["capacity"], int)
        # raiPolicyName is optional (no built-in content filter for Claude): sent only when the spec sets one
        assert d.arm.body["properties"].get("raiPolicyName") == spec_dep.rai_policy
        assert d.arm.api_version == "2026-05-01"
        assert d.arm.body["properties"]["versionUpgradeOption"] == spec_dep.version_upgrade_option
        assert d.arm.id == arm.deployment_id(SUB, prod_spec.resource_group, prod_spec.foundry.name,
                                             d.inputs["resourceName"])
        assert d.protect is True


# --- account ---------------------------------------------------------------------------------------------


def test_account_shape(dev_plan, prod_plan, dev_spec):
    acc = one(dev_plan, armmap.ACCOUNT)
    body = acc.arm.body
    assert acc.arm.id == arm.account_id(SUB, dev_spec.resource_group, dev_spec.foundry.name)
    assert body["kind"] == "AIServices"
    assert body["sku"] == {"name": "S0"}
    assert body["identity"] == {"type": "SystemAssigned"}
    assert body["properties"]["customSubDomainName"] == dev_spec.foundry.name
    assert body["properties"]["networkAcls"] == {"defaultAction": "Allow"}
    assert body["properties"]["disableLocalAuth"] is False
    assert body["tags"]["environment"] == "dev"
    prod = one(prod_plan, armmap.ACCOUNT).arm.body["properties"]
    assert prod["networkAcls"] == {"defaultAction": "Deny", "ipRules": [{"value": "203.0.113.0/24"}]}
    assert prod["disableLocalAuth"] is True


# --- secrets -----------------------------------------------------------------------------------------------


def test_api_key_secret_is_a_pulumi_secret_holding_the_key_placeholder(dev_plan, dev_spec):
    secrets = secrets_by_name(dev_plan)
    key = secrets[dev_spec.secret_names.api_key]
    account_id = arm.account_id(SUB, dev_spec.resource_group, dev_spec.foundry.name)
    assert key.inputs["properties"]["value"] == key_placeholder(account_id, "key1")
    assert key.secret_paths == ["properties"]
    m = KEY_PLACEHOLDER_RE.fullmatch(key.inputs["properties"]["value"])
    assert m
    assert m["account_id"] == account_id
    assert m["key"] == "key1"
    # the other secrets are not Pulumi secrets (nothing secret in them)
    for name, r in secrets.items():
        if name != dev_spec.secret_names.api_key:
            assert r.secret_paths == [], name


def test_no_api_key_with_disable_local_auth(prod_plan, prod_spec):
    secrets = secrets_by_name(prod_plan)
    assert prod_spec.secret_names.api_key not in secrets
    assert set(secrets) == {prod_spec.secret_names.endpoint, prod_spec.secret_names.resource,
                            prod_spec.secret_names.deployments, prod_spec.secret_names.auth_mode}
    assert secrets[prod_spec.secret_names.auth_mode].inputs["properties"]["value"] == contract.AUTH_MODE_ENTRA
    assert "listAccountKeys" not in json.dumps(prod_plan.to_json(reveal_secrets=True))


def test_endpoint_secret_is_built_from_the_subdomain(dev_plan, dev_spec):
    endpoint = secrets_by_name(dev_plan)[dev_spec.secret_names.endpoint].inputs["properties"]["value"]
    assert endpoint == "https://contoso-claude-dev.services.ai.azure.com/anthropic"
    assert endpoint == contract.foundry_base_url(dev_spec.foundry.name)
    acc = one(dev_plan, armmap.ACCOUNT)
    arm_endpoint = armmap.computed_outputs(armmap.ACCOUNT, acc.inputs, acc.arm)["properties"]["endpoint"]
    assert arm_endpoint == "https://contoso-claude-dev.cognitiveservices.azure.com/"
    assert endpoint != arm_endpoint
    assert dev_plan.outputs["endpoint"] == endpoint
    assert "endpoint" not in dev_plan.secret_outputs


def test_custom_base_url_template(dev_spec):
    p = plan(dev_spec, base_url_template="https://127.0.0.1:8443/{resource}/anthropic/")
    endpoint = secrets_by_name(p)[dev_spec.secret_names.endpoint].inputs["properties"]["value"]
    assert endpoint == "https://127.0.0.1:8443/contoso-claude-dev/anthropic"
    assert p.outputs["endpoint"] == endpoint


def test_secret_values_contract(dev_plan, dev_spec):
    secrets = secrets_by_name(dev_plan)
    assert set(secrets) == set(contract.SecretNames().as_dict().values())
    vault_id = arm.vault_id(SUB, dev_spec.resource_group, dev_spec.key_vault.name)
    for name, r in secrets.items():
        assert r.arm.id == f"{vault_id}/secrets/{name}"
        assert r.arm.api_version == "2024-11-01"
    value = {n: r.inputs["properties"]["value"] for n, r in secrets.items()}
    assert value["claude-foundry-resource"] == dev_spec.foundry.name
    assert value["claude-foundry-auth-mode"] == contract.AUTH_MODE_KEY
    assert value["claude-foundry-deployments"] == contract.dump_deployment_map(dev_spec.deployment_map())
    assert contract.load_deployment_map(value["claude-foundry-deployments"])["fast"].family == "haiku"


def test_secret_prefix_changes_every_name(make_spec):
    spec = make_spec("dev", "key_vault:\n  secret_prefix: team-a\n")
    p = plan(spec)
    assert set(secrets_by_name(p)) == {f"team-a-{s}" for s in contract.SECRET_SUFFIXES}
    assert p.outputs["secret_names"] == contract.SecretNames("team-a").as_dict()


def test_outputs_match_contract(dev_plan, dev_spec):
    out = dev_plan.outputs
    assert set(out) == {"endpoint", "resource_name", "account_id", "vault_name", "vault_url", "secret_names",
                        "deployment_names", "deployments", "auth_mode"}
    assert out["secret_names"] == contract.SecretNames(dev_spec.key_vault.secret_prefix).as_dict()
    assert out["resource_name"] == dev_spec.foundry.name
    assert out["account_id"] == arm.account_id(SUB, dev_spec.resource_group, dev_spec.foundry.name)
    assert out["vault_name"] == dev_spec.key_vault.name
    assert out["vault_url"] == f"https://{dev_spec.key_vault.name}.vault.azure.net/"
    assert out["deployment_names"] == list(dev_spec.deployments)
    assert out["deployments"] == {
        "my-claude-deployment": {"model": "claude-sonnet-5-5", "version": "2", "family": "sonnet"},
        "fast": {"model": "claude-haiku-4-5", "version": "2", "family": "haiku"},
    }
    assert out["auth_mode"] == "key"
    assert dev_plan.secret_outputs == set()


def test_secrecy_seen_from_the_program(run_program, dev_spec):
    seen: dict[str, object] = {}

    async def program():
        stack = ClaudeFoundryStack("s", dev_spec)
        key = stack.vault.secrets["api_key"].properties
        endpoint = stack.vault.secrets["endpoint"].properties
        seen["key_secret"] = await key.is_secret()
        seen["endpoint_secret"] = await endpoint.is_secret()
        seen["stack_endpoint_secret"] = await stack.endpoint.is_secret()
        seen["endpoint"] = await stack.endpoint.future()
        seen["vault_url"] = await stack.vault_url.future()

    run_program(program)
    assert seen["key_secret"] is True
    assert seen["endpoint_secret"] is False
    assert seen["stack_endpoint_secret"] is False
    assert seen["endpoint"] == "https://contoso-claude-dev.services.ai.azure.com/anthropic"
    assert seen["vault_url"] == "https://kv-contoso-claude-dev.vault.azure.net/"


# --- access ------------------------------------------------------------------------------------------------


def spec_role_assignments(p):
    """Role assignments for the spec's principals (not the deployer's own grants)."""
    return [r for r in p.resources if r.type == armmap.ROLE_ASSIGNMENT and "-deployer-" not in r.name]


def test_role_assignments(prod_plan, prod_spec):
    ras = spec_role_assignments(prod_plan)
    assert len(ras) == 2
    account_id = arm.account_id(SUB, prod_spec.resource_group, prod_spec.foundry.name)
    vault_id = arm.vault_id(SUB, prod_spec.resource_group, prod_spec.key_vault.name)
    user = next(r for r in ras if r.inputs["scope"] == account_id)
    reader = next(r for r in ras if r.inputs["scope"] == vault_id)
    u = prod_spec.access.claude_users[0]
    assert user.arm.body == {"properties": {
        "principalId": u.principal_id, "principalType": "Group",
        "roleDefinitionId": arm.role_definition_id(SUB, "cognitive-services-user"),
        "description": "app-team"}}
    rd = prod_spec.access.secret_readers[0]
    assert reader.arm.body["properties"]["principalId"] == rd.principal_id
    assert reader.arm.body["properties"]["principalType"] == "ServicePrincipal"
    assert reader.arm.body["properties"]["roleDefinitionId"] == arm.role_definition_id(SUB,
                                                                                      "key-vault-secrets-user")
    for r in ras:
        name = r.inputs["roleAssignmentName"]
        assert str(uuid.UUID(name)) == name
        assert r.arm.id == f"{r.inputs['scope']}/providers/Microsoft.Authorization/roleAssignments/{name}"
    assert user.inputs["roleAssignmentName"] != reader.inputs["roleAssignmentName"]
    # the scopes are wired from the resources, not re-spelt
    assert one(prod_plan, armmap.ACCOUNT).urn in user.depends_on
    assert one(prod_plan, armmap.VAULT).urn in reader.depends_on


def test_role_assignment_names_are_deterministic_and_follow_the_subscription(prod_spec, prod_plan):
    other = plan(prod_spec, client_config={"subscriptionId": "12345678-1234-1234-1234-123456789012"})
    names = sorted(r.inputs["roleAssignmentName"] for r in prod_plan.resources
                   if r.type == armmap.ROLE_ASSIGNMENT)
    other_ras = [r for r in other.resources if r.type == armmap.ROLE_ASSIGNMENT]
    assert sorted(r.inputs["roleAssignmentName"] for r in other_ras) == names
    for r in other_ras:
        assert r.inputs["roleDefinitionId"].startswith("/subscriptions/12345678-1234-1234-1234-123456789012/")
        assert r.arm.id.startswith("/subscriptions/12345678-1234-1234-1234-123456789012/")


def test_azure_ai_user_role(make_spec):
    spec = make_spec("dev", """\
        access:
          claude_users:
            - {principal_id: aaaaaaaa-0000-0000-0000-000000000001, principal_type: User, role: azure-ai-user}
        """)
    [ra] = spec_role_assignments(plan(spec))
    assert ra.inputs["roleDefinitionId"] == arm.role_definition_id(SUB, "azure-ai-user")
    assert ra.inputs["principalType"] == "User"


def test_deployer_gets_claude_and_secret_access(dev_plan, dev_spec):
    deployer = DEFAULT_CLIENT_CONFIG["objectId"]
    ras = {r.name.rsplit("-", 1)[-1]: r for r in dev_plan.resources
           if r.type == armmap.ROLE_ASSIGNMENT and "-deployer-" in r.name}
    assert set(ras) == {"claude", "secrets"}
    assert ras["claude"].inputs["scope"] == arm.account_id(SUB, dev_spec.resource_group, dev_spec.foundry.name)
    assert ras["claude"].inputs["roleDefinitionId"] == arm.role_definition_id(SUB, "cognitive-services-user")
    assert ras["secrets"].inputs["scope"] == arm.vault_id(SUB, dev_spec.resource_group, dev_spec.key_vault.name)
    assert ras["secrets"].inputs["roleDefinitionId"] == arm.role_definition_id(SUB, "key-vault-secrets-user")
    for r in ras.values():
        assert r.inputs["principalId"] == deployer
        assert str(uuid.UUID(r.inputs["roleAssignmentName"])) == r.inputs["roleAssignmentName"]
    other = plan(dev_spec, client_config={"objectId": "99999999-0000-0000-0000-000000000009"})
    assert {r.inputs["principalId"] for r in other.resources
            if r.type == armmap.ROLE_ASSIGNMENT} == {"99999999-0000-0000-0000-000000000009"}


def test_deployer_access_can_be_turned_off(make_spec):
    spec = make_spec("dev", "access: {deployer_access: false}\n")
    assert [r for r in plan(spec).resources if r.type == armmap.ROLE_ASSIGNMENT] == []


# --- diagnostics -------------------------------------------------------------------------------------------


def test_diagnostics_wiring(dev_plan, dev_spec):
    ws = one(dev_plan, armmap.WORKSPACE)
    assert ws.arm.id == arm.workspace_id(SUB, dev_spec.resource_group, f"log-{dev_spec.foundry.name}")
    assert ws.arm.body["properties"] == {"retentionInDays": 30, "sku": {"name": "PerGB2018"}}
    settings = [r for r in dev_plan.resources if r.type == armmap.DIAGNOSTIC_SETTING]
    assert len(settings) == 2
    by_target = {r.inputs["resourceUri"]: r for r in settings}
    acc_id = arm.account_id(SUB, dev_spec.resource_group, dev_spec.foundry.name)
    vault_id = arm.vault_id(SUB, dev_spec.resource_group, dev_spec.key_vault.name)
    assert set(by_target) == {acc_id, vault_id}
    for s in settings:
        assert s.arm.body["properties"]["workspaceId"] == ws.arm.id
        assert ws.urn in s.depends_on
        assert s.arm.body["properties"]["logs"] == [{"categoryGroup": "allLogs", "enabled": True}]
    assert by_target[acc_id].arm.body["properties"]["metrics"] == [{"category": "AllMetrics", "enabled": True}]
    assert by_target[acc_id].arm.id.startswith(acc_id + "/providers/Microsoft.Insights/diagnosticSettings/")


def test_existing_workspace_is_used(make_spec):
    wid = ("/subscriptions/99999999-9999-9999-9999-999999999999/resourceGroups/rg-logs/providers/"
           "Microsoft.OperationalInsights/workspaces/central-logs")
    p = plan(make_spec("dev", f"diagnostics:\n  workspace_id: {wid}\n"))
    assert not [r for r in p.resources if r.type == armmap.WORKSPACE]
    settings = [r for r in p.resources if r.type == armmap.DIAGNOSTIC_SETTING]
    assert len(settings) == 2
    assert {s.inputs["workspaceId"] for s in settings} == {wid}


def test_diagnostics_disabled(make_spec):
    p = plan(make_spec("dev", "diagnostics:\n  enabled: false\n"))
    assert not [r for r in p.resources if r.type in (armmap.WORKSPACE, armmap.DIAGNOSTIC_SETTING)]


# --- protection --------------------------------------------------------------------------------------------


def test_protect_and_locks_only_in_prod(dev_plan, prod_plan, prod_spec):
    assert not [r for r in dev_plan.resources if r.protect]
    assert not [r for r in dev_plan.resources if r.type == armmap.LOCK_BY_SCOPE]
    protected = {r.type for r in prod_plan.resources if r.protect}
    assert protected == {armmap.ACCOUNT, armmap.VAULT, DEPLOYMENT}
    locks = [r for r in prod_plan.resources if r.type == armmap.LOCK_BY_SCOPE]
    assert {r.inputs["scope"] for r in locks} == {
        arm.account_id(SUB, prod_spec.resource_group, prod_spec.foundry.name),
        arm.vault_id(SUB, prod_spec.resource_group, prod_spec.key_vault.name)}
    for lock in locks:
        assert lock.arm.body["properties"]["level"] == "CanNotDelete"
        assert lock.arm.id.startswith(lock.inputs["scope"] + "/providers/Microsoft.Authorization/locks/")


def test_purge_protection_never_sent_as_false(dev_plan, prod_plan):
    dev_vault = one(dev_plan, armmap.VAULT).arm.body["properties"]
    assert "enablePurgeProtection" not in dev_vault
    assert dev_vault["enableSoftDelete"] is True
    assert dev_vault["enableRbacAuthorization"] is True
    assert dev_vault["softDeleteRetentionInDays"] == 90
    assert dev_vault["tenantId"] == DEFAULT_CLIENT_CONFIG["tenantId"]
    assert dev_vault["sku"] == {"family": "A", "name": "standard"}
    assert one(prod_plan, armmap.VAULT).arm.body["properties"]["enablePurgeProtection"] is True


def test_existing_resource_group(make_spec):
    p = plan(make_spec("dev", "create_resource_group: false\nresource_group: rg-shared\n"))
    assert not [r for r in p.resources if r.type == armmap.RESOURCE_GROUP]
    assert one(p, armmap.ACCOUNT).arm.id.startswith(f"/subscriptions/{SUB}/resourceGroups/rg-shared/")


# --- plan -------------------------------------------------------------------------------------------------


def test_to_json_masks_secrets(dev_plan, dev_spec):
    text = json.dumps(dev_plan.to_json())
    assert "listAccountKeys" not in text
    assert SECRET_MASK in text
    assert "https://contoso-claude-dev.services.ai.azure.com/anthropic" in text
    key = next(o for o in dev_plan.to_json() if o["inputs"].get("secretName") == dev_spec.secret_names.api_key)
    assert key["inputs"]["properties"] == {"value": SECRET_MASK}
    assert key["arm"]["body"]["properties"] == {"value": SECRET_MASK}
    assert key["secret_paths"] == ["properties"]
    assert "listAccountKeys" in json.dumps(dev_plan.to_json(reveal_secrets=True))
    for obj in dev_plan.to_json():
        assert {"type", "name", "inputs", "depends_on", "parent", "protect", "id", "arm"} <= set(obj)


def test_plan_twice_in_one_process(dev_spec, dev_plan):
    again = plan(dev_spec)
    assert [r.urn for r in again.resources] == [r.urn for r in dev_plan.resources]
    assert again.to_json() == dev_plan.to_json()
    assert again.outputs == dev_plan.outputs


def test_plan_inside_a_running_event_loop(dev_spec):
    import asyncio

    async def main():
        return plan(dev_spec)

    p = asyncio.run(main())
    assert len(deployments_of(p)) == 2


def test_parents_and_components(dev_plan):
    by_urn = dev_plan.by_urn()
    top = [r for r in dev_plan.resources if r.parent is None]
    assert [r.type for r in top] == ["claude-foundry:index:ClaudeFoundryStack"]
    for r in dev_plan.resources:
        if r.parent is not None:
            assert r.parent in by_urn
            assert by_urn[r.parent].custom is False
        assert (r.arm is None) == (not r.custom)
    kinds = {r.type.rsplit(":", 1)[-1] for r in dev_plan.resources if not r.custom}
    assert kinds == {"ClaudeFoundryStack", "FoundryAccount", "ClaudeDeployments", "ContractVault",
                     "AccessAssignments", "Diagnostics"}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_custom_resource_maps_to_arm(stack, dev_plan, prod_plan):
    p = dev_plan if stack == "dev" else prod_plan
    for r in p.custom_resources():
        assert r.arm is not None, r.type
        assert r.arm.id.startswith(f"/subscriptions/{SUB}/resourceGroups/")
        assert r.id == r.arm.id
