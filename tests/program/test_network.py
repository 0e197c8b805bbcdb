"""Private networking (``private_network:``) in the real program under mocks: off changes nothing; on declares the
virtual network (or uses a given subnet), the private endpoints, the private DNS zones and links (or given zone
ids), the zone groups, and turns public access of the account and the vault off."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from claude_foundry._azure import arm
from claude_foundry.program._plan import Plan, plan
from claude_foundry.program.spec import SpecError, load_spec
from claude_foundry_sandbox.testing import extends_line

pytest.importorskip("pulumi_azure_native")

ROOT = Path(__file__).resolve().parents[2]
STACKS = ROOT / "stacks"
SUB = "00000000-0000-0000-0000-000000000000"
NETWORK_TYPES = {arm.VIRTUAL_NETWORK, arm.PRIVATE_ENDPOINT, arm.PRIVATE_DNS_ZONE_GROUP, arm.PRIVATE_DNS_ZONE,
                 arm.VIRTUAL_NETWORK_LINK}
CREATED = "private_network: {address_space: 10.40.0.0/16, subnet_prefix: 10.40.1.0/24}\n"
HUB = f"/subscriptions/{SUB}/resourceGroups/rg-hub/providers/Microsoft.Network"
SUBNET = f"{HUB}/virtualNetworks/vnet-hub/subnets/snet-pe"


@pytest.fixture
def plan_of(tmp_path: Path) -> Callable[[str, str], Plan]:
    counter = iter(range(1000))

    def make(base: str, overrides: str) -> Plan:
        path = tmp_path / f"stack{next(counter)}.yaml"
        path.write_text(extends_line(STACKS / f"{base}.yaml") + textwrap.dedent(overrides), encoding="utf-8")
        return plan(load_spec(path))

    return make


def bad(tmp_path: Path, overrides: str) -> str:
    path = tmp_path / "bad.yaml"
    path.write_text(extends_line(STACKS / "dev.yaml") + textwrap.dedent(overrides), encoding="utf-8")
    with pytest.raises(SpecError) as err:
        load_spec(path)
    return str(err.value)


def one(p: Plan, token: str, suffix: str = "") -> Any:
    found = [r for r in p.of_type(token) if r.name.endswith(suffix)]
    assert len(found) == 1, [r.name for r in found]
    return found[0]


def snapshot(p: Plan) -> dict[str, Any]:
    return {r.urn: (r.arm.id, r.arm.api_version, r.arm.body) if r.arm else None for r in p.resources}


# --- off -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_without_private_network_nothing_changes(plan_of, stack):
    shipped = plan(load_spec(STACKS / f"{stack}.yaml"))
    assert not [r for r in shipped.resources if r.type in NETWORK_TYPES]
    switched_off = plan_of(stack, "private_network: {enabled: false, subnet_id: " + SUBNET + "}\n")
    assert snapshot(switched_off) == snapshot(shipped)  # same URNs, same ids, same bodies
    vault = one(shipped, arm.VAULT).arm.body["properties"]
    assert "publicNetworkAccess" not in vault
    assert "networkAcls" not in vault


# --- on: a virtual network the stack creates, zones created and linked -----------------------------------


def test_created_network_endpoints_zones_links(plan_of):
    p = plan_of("dev", CREATED)
    account, vault = one(p, arm.ACCOUNT), one(p, arm.VAULT)
    for res in (account, vault):
        props = res.arm.body["properties"]
        assert props["publicNetworkAccess"] == "Disabled"
        assert props["networkAcls"] == {"defaultAction": "Deny", "bypass": "AzureServices"}

    vnet = one(p, arm.VIRTUAL_NETWORK)
    assert vnet.arm.id.endswith("/providers/Microsoft.Network/virtualNetworks/vnet-contoso-claude-dev")
    assert vnet.arm.api_version == "2024-05-01"
    assert vnet.arm.body["location"] == "eastus2"
    assert vnet.arm.body["properties"]["addressSpace"] == {"addressPrefixes": ["10.40.0.0/16"]}
    assert vnet.arm.body["properties"]["subnets"] == [
        {"name": "snet-private-endpoints", "properties": {"addressPrefix": "10.40.1.0/24"}}]
    subnet_id = vnet.arm.id + "/subnets/snet-private-endpoints"

    zones = {r.arm.name: r for r in p.of_type(arm.PRIVATE_DNS_ZONE)}
    assert set(zones) == set(arm.PRIVATE_DNS_ZONES)
    for zone in zones.values():
        assert zone.arm.body["location"] == "global"
        assert zone.arm.api_version == "2024-06-01"
    links = p.of_type(arm.VIRTUAL_NETWORK_LINK)
    assert len(links) == 4
    for link in links:
        assert link.arm.body["properties"] == {"virtualNetwork": {"id": vnet.arm.id}, "registrationEnabled": False}
        assert link.arm.body["location"] == "global"
        assert vnet.urn in link.depends_on

    endpoints = {r.name.rsplit("-", 2)[-2]: r for r in p.of_type(arm.PRIVATE_ENDPOINT)}
    assert set(endpoints) == {"account", "vault"}
    for role, target, group in (("account", account, "account"), ("vault", vault, "vault")):
        pe = endpoints[role]
        assert pe.arm.api_version == "2024-05-01"
        props = pe.arm.body["properties"]
        assert props["subnet"] == {"id": subnet_id}
        (conn,) = props["privateLinkServiceConnections"]
        assert conn["properties"] == {"privateLinkServiceId": target.arm.id, "groupIds": [group]}
        assert target.urn in pe.depends_on
        assert vnet.urn in pe.depends_on

    groups = {r.name: r for r in p.of_type(arm.PRIVATE_DNS_ZONE_GROUP)}
    account_group = groups["claude-foundry-network-account-pe-zones"]
    assert account_group.arm.id == endpoints["account"].arm.id + "/privateDnsZoneGroups/default"
    configs = account_group.arm.body["properties"]["privateDnsZoneConfigs"]
    assert [c["properties"]["privateDnsZoneId"] for c in configs] == [
        zones[z].arm.id for z in arm.ACCOUNT_PRIVATE_DNS_ZONES]
    assert endpoints["account"].urn in account_group.depends_on
    assert {zones[z].urn for z in arm.ACCOUNT_PRIVATE_DNS_ZONES} <= set(account_group.depends_on)
    vault_group = groups["claude-foundry-network-vault-pe-zones"]
    assert [c["properties"]["privateDnsZoneId"] for c in vault_group.arm.body["properties"]["privateDnsZoneConfigs"]] \
        == [zones["privatelink.vaultcore.azure.net"].arm.id]


def test_private_network_adds_resources_and_keeps_every_other_urn(plan_of):
    shipped = plan(load_spec(STACKS / "dev.yaml"))
    private = plan_of("dev", CREATED)
    before = {r.urn for r in shipped.resources}
    after = {r.urn for r in private.resources}
    assert before <= after
    added = [r for r in private.resources if r.urn not in before]
    assert {r.type for r in added if r.custom} == NETWORK_TYPES
    assert all("claude-foundry-network" in r.urn for r in added)


# --- on: an existing subnet and existing zones -----------------------------------------------------------


def test_existing_subnet_and_given_zone_ids(plan_of):
    given = {z: f"{HUB}/privateDnsZones/{z}" for z in arm.ACCOUNT_PRIVATE_DNS_ZONES}
    zones = "".join(f"    {z}: {i}\n" for z, i in given.items())
    p = plan_of("dev", f"private_network:\n  subnet_id: {SUBNET}\n  dns_zone_ids:\n{zones}")
    assert not p.of_type(arm.VIRTUAL_NETWORK)
    created = p.of_type(arm.PRIVATE_DNS_ZONE)
    assert [z.arm.name for z in created] == ["privatelink.vaultcore.azure.net"]  # only the zone not given
    (link,) = p.of_type(arm.VIRTUAL_NETWORK_LINK)
    assert link.arm.body["properties"]["virtualNetwork"] == {"id": SUBNET.rsplit("/subnets/", 1)[0]}
    assert link.arm.name == "link-vnet-hub"
    for pe in p.of_type(arm.PRIVATE_ENDPOINT):
        assert pe.arm.body["properties"]["subnet"] == {"id": SUBNET}
    group = next(r for r in p.of_type(arm.PRIVATE_DNS_ZONE_GROUP) if "account" in r.name)
    assert [c["properties"]["privateDnsZoneId"] for c in group.arm.body["properties"]["privateDnsZoneConfigs"]] \
        == list(given.values())


def test_only_the_account_private_and_ip_rules_and_no_trusted_services(plan_of):
    p = plan_of("dev", """\
        foundry: {network: {ip_rules: [203.0.113.7]}}
        private_network: {address_space: 10.40.0.0/16, subnet_prefix: 10.40.1.0/28, key_vault: false,
                          trusted_services: false}
        """)
    assert [r.name for r in p.of_type(arm.PRIVATE_ENDPOINT)] == ["claude-foundry-network-account-pe"]
    assert {z.arm.name for z in p.of_type(arm.PRIVATE_DNS_ZONE)} == set(arm.ACCOUNT_PRIVATE_DNS_ZONES)
    props = one(p, arm.ACCOUNT).arm.body["properties"]
    assert props["publicNetworkAccess"] == "Enabled"  # selected networks (the runner's address) and private endpoints
    assert props["networkAcls"] == {"defaultAction": "Deny", "bypass": "None", "ipRules": [{"value": "203.0.113.7"}]}
    vault = one(p, arm.VAULT).arm.body["properties"]
    assert "publicNetworkAccess" not in vault
    assert "networkAcls" not in vault


# --- the spec ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("overrides", "words"), [
    (f"private_network: {{subnet_id: {SUBNET}, address_space: 10.0.0.0/16, subnet_prefix: 10.0.0.0/24}}\n",
     "not both"),
    ("private_network: {address_space: 10.40.0.0/16}\n", "needs a subnet"),
    ("private_network: {address_space: 10.40.0.0/16, subnet_prefix: 10.41.0.0/24}\n", "not inside"),
    ("private_network: {address_space: 10.40.0.1/16, subnet_prefix: 10.40.0.0/24}\n", "no host bits"),
    ("private_network: {address_space: 10.40.0.0/16, subnet_prefix: 10.40.0.0/30}\n", "/29 or larger"),
    ("private_network: {subnet_id: /subscriptions/x/subnets/y}\n", "subnet's ARM id"),
    (f"private_network: {{subnet_id: {SUBNET}, dns_zone_ids: {{privatelink.example.com: {HUB}/privateDnsZones/x}}}}\n",
     "unknown zone"),
    (f"private_network: {{subnet_id: {SUBNET}, dns_zone_ids: "
     f"{{privatelink.openai.azure.com: {HUB}/privateDnsZones/privatelink.vaultcore.azure.net}}}}\n", "names the zone"),
    (f"private_network: {{subnet_id: {SUBNET}, vnet_name: mine}}\n", "not with subnet_id"),
    (f"foundry: {{network: {{public_network_access: true}}}}\nprivate_network: {{subnet_id: {SUBNET}}}\n",
     "disables public network access"),
])
def test_spec_refuses_inconsistent_private_networks(tmp_path, overrides, words):
    assert words in bad(tmp_path, overrides)
