"""``PrivateNetwork``: private endpoints for the Foundry account and the Key Vault, and their private DNS zones.

With the stack's ``private_network`` on: an endpoint per resource (group ``account`` / ``vault``) in the subnet the
stack names (``subnet_id``) or in a virtual network it creates (``address_space``, ``subnet_prefix``); the private
DNS zones Azure uses for each (``privatelink.cognitiveservices.azure.com``, ``privatelink.openai.azure.com``,
``privatelink.services.ai.azure.com`` for the account, ``privatelink.vaultcore.azure.net`` for the vault), either
given as existing ids or created here (location ``global``) and linked to the virtual network (registration off);
and a DNS zone group on each endpoint that puts its A records into those zones. The account and the vault
themselves turn public access off (:func:`private_network_acls`, used by ``FoundryAccount`` and
``ContractVault``). A stack without ``private_network`` declares none of this.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_azure_native as azure_native

from claude_foundry._azure import arm
from claude_foundry.program.components._accounts import AccountRef, check_accounts
from claude_foundry.program.components._common import TYPE_PREFIX, check_input, check_type, child_opts
from claude_foundry.program.spec._schema import PrivateNetworkSpec

#: Name of the DNS zone group on each endpoint.
ZONE_GROUP_NAME = "default"


def private_network_acls(ip_rules: list[str], private: PrivateNetworkSpec) -> dict[str, Any]:
    """``publicNetworkAccess`` and ``networkAcls`` (snake_case input shape) of a resource behind a private
    endpoint: Disabled and default Deny; with ``ip_rules`` public access stays Enabled for those addresses only
    (Azure's "selected networks and private endpoints"). Trusted Azure services pass (``bypass: AzureServices``)
    unless ``trusted_services: false``. The same shape serves the account and the vault."""
    acls: dict[str, Any] = {"default_action": "Deny",
                            "bypass": arm.NETWORK_BYPASS_TRUSTED if private.trusted_services else "None"}
    if ip_rules:
        acls["ip_rules"] = [{"value": ip} for ip in ip_rules]
    return {"public_network_access": "Enabled" if ip_rules else "Disabled", "network_acls": acls}


def zone_key(zone: str) -> str:
    """A zone name as a logical-name part: ``privatelink.openai.azure.com`` -> ``privatelink-openai-azure-com``."""
    return zone.replace(".", "-")


@dataclass(frozen=True, kw_only=True)
class PrivateNetworkArgs:
    """The stack's ``private_network``, where it goes, and what gets an endpoint: every account of ``accounts``
    (in the same subnet, Private Link reaches an account in another region; A records in the same zones) and,
    with ``vault_id`` and ``vault_name``, the vault (``private.key_vault``). The virtual network is named after
    the first account."""

    private: PrivateNetworkSpec
    location: str  # the stack's; ``private.location`` wins
    resource_group_name: pulumi.Input[str]
    accounts: Sequence[AccountRef]
    vault_name: str | None = None  # with vault_id: the vault gets its endpoint (private.key_vault)
    vault_id: pulumi.Input[str] | None = None
    tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        owner = "PrivateNetworkArgs"
        check_type(owner, "private", self.private, PrivateNetworkSpec, "a PrivateNetworkSpec (spec.private_network)")
        check_type(owner, "location", self.location, str, "a str (an Azure region)")
        check_input(owner, "resource_group_name", self.resource_group_name)
        check_input(owner, "vault_id", self.vault_id, optional=True)
        if self.vault_name is not None:
            check_type(owner, "vault_name", self.vault_name, str, "a str or None")
        object.__setattr__(self, "accounts", check_accounts(owner, self.accounts))


class PrivateNetwork(pulumi.ComponentResource):
    """The virtual network (when created), the private endpoints, the private DNS zones and links, the zone
    groups. Attributes: ``vnet`` (or None), ``subnet_id``, ``endpoints`` (``account`` + :attr:`AccountRef.suffix`
    of each account, ``vault`` -> PrivateEndpoint), ``zones`` (zone name -> created PrivateZone),
    ``links``, ``zone_groups``, ``zone_ids`` (zone name -> id, given or created)."""

    vnet: azure_native.network.VirtualNetwork | None
    subnet_id: pulumi.Input[str]
    endpoints: dict[str, azure_native.network.PrivateEndpoint]
    zones: dict[str, azure_native.privatedns.PrivateZone]
    links: dict[str, azure_native.privatedns.VirtualNetworkLink]
    zone_groups: dict[str, azure_native.network.PrivateDnsZoneGroup]
    zone_ids: dict[str, pulumi.Input[str]]

    def __init__(self, name: str, args: PrivateNetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(f"{TYPE_PREFIX}PrivateNetwork", name, None, opts)
        p = args.private
        location = p.location or args.location
        rg = args.resource_group_name
        vnet_name = p.resolved_vnet_name(args.accounts[0].name)

        self.vnet = None
        vnet_id: pulumi.Input[str]
        if p.subnet_id:
            self.subnet_id = p.subnet_id
            vnet_id = p.vnet_id_of_subnet() or ""
        else:
            self.vnet = azure_native.network.VirtualNetwork(  # type: ignore[call-overload]  # plain dicts, see account.py
                f"{name}-vnet", virtual_network_name=vnet_name, resource_group_name=rg, location=location,
                address_space={"address_prefixes": [p.address_space]},
                subnets=[{"name": p.subnet_name, "address_prefix": p.subnet_prefix}],
                tags=args.tags, opts=child_opts(self))
            vnet_id = self.vnet.id
            self.subnet_id = pulumi.Output.concat(self.vnet.id, "/subnets/", p.subnet_name)

        # the zones: given ids, else created (global) and linked to the virtual network, registration off
        self.zones, self.links, self.zone_ids = {}, {}, {}
        for zone in p.zones:
            if zone in p.dns_zone_ids:
                self.zone_ids[zone] = p.dns_zone_ids[zone]
                continue
            created = azure_native.privatedns.PrivateZone(
                f"{name}-zone-{zone_key(zone)}", private_zone_name=zone, resource_group_name=rg,
                location=arm.GLOBAL_LOCATION, tags=args.tags, opts=child_opts(self))
            self.zones[zone] = created
            self.zone_ids[zone] = created.id
            self.links[zone] = azure_native.privatedns.VirtualNetworkLink(
                f"{name}-link-{zone_key(zone)}", private_zone_name=created.name, resource_group_name=rg,
                virtual_network_link_name=f"link-{vnet_name}"[:80], location=arm.GLOBAL_LOCATION,
                registration_enabled=False, virtual_network={"id": vnet_id}, tags=args.tags,
                opts=child_opts(self))

        account_group, vault_group = arm.ACCOUNT_PRIVATE_LINK_GROUP, arm.VAULT_PRIVATE_LINK_GROUP
        targets: list[tuple[str, str, pulumi.Input[str], tuple[str, ...], str]] = [
            (f"account{a.suffix}", f"pe-{a.name}-account", a.id, arm.ACCOUNT_PRIVATE_DNS_ZONES, account_group)
            for a in args.accounts]
        if p.key_vault and args.vault_id is not None and args.vault_name:
            targets.append(("vault", f"pe-{args.vault_name}-vault", args.vault_id, arm.VAULT_PRIVATE_DNS_ZONES,
                            vault_group))
        self.endpoints, self.zone_groups = {}, {}
        for role, pe_name, target_id, zones, group in targets:
            endpoint = azure_native.network.PrivateEndpoint(
                f"{name}-{role}-pe", private_endpoint_name=pe_name, resource_group_name=rg, location=location,
                subnet={"id": self.subnet_id},
                private_link_service_connections=[{"name": pe_name, "private_link_service_id": target_id,
                                                   "group_ids": [group]}],
                tags=args.tags, opts=child_opts(self))
            self.endpoints[role] = endpoint
            links = [self.links[z] for z in zones if z in self.links]
            self.zone_groups[role] = azure_native.network.PrivateDnsZoneGroup(
                f"{name}-{role}-pe-zones", private_endpoint_name=endpoint.name, resource_group_name=rg,
                private_dns_zone_group_name=ZONE_GROUP_NAME,
                private_dns_zone_configs=[{"name": zone_key(z), "private_dns_zone_id": self.zone_ids[z]}
                                          for z in zones],
                opts=child_opts(self, depends_on=links or None))
        self.register_outputs({"subnet_id": self.subnet_id,
                               "endpoint_ids": {k: v.id for k, v in self.endpoints.items()}})
