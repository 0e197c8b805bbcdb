"""``FoundryAccount``: the Foundry resource (``Microsoft.CognitiveServices/accounts``, kind AIServices)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_azure_native as azure_native

from claude_foundry import _contract as contract
from claude_foundry._azure import arm
from claude_foundry.program.components._accounts import AccountRef
from claude_foundry.program.components._common import TYPE_PREFIX, check_input, check_type, child_opts, delete_lock
from claude_foundry.program.components._network import private_network_acls
from claude_foundry.program.components._project import FoundryProjectArgs, foundry_project
from claude_foundry.program.spec._schema import DeploymentSpec, FoundrySpec, PrivateNetworkSpec


@dataclass(frozen=True, kw_only=True)
class FoundryAccountArgs:
    """One account's settings (``foundry:`` or a resolved ``accounts:`` entry), its region and resource group."""

    foundry: FoundrySpec
    location: str
    resource_group_name: pulumi.Input[str]
    tags: dict[str, str] = field(default_factory=dict)
    protect: bool = False
    #: the stack's ``private_network`` when on: public access disabled, network ACLs default Deny
    private_network: PrivateNetworkSpec | None = None

    def __post_init__(self) -> None:
        check_type("FoundryAccountArgs", "foundry", self.foundry, FoundrySpec,
                   "a FoundrySpec (spec.foundry, or an account of spec.all_accounts())")
        check_type("FoundryAccountArgs", "location", self.location, str, "a str (an Azure region)")
        check_input("FoundryAccountArgs", "resource_group_name", self.resource_group_name)
        if self.private_network is not None:
            check_type("FoundryAccountArgs", "private_network", self.private_network, PrivateNetworkSpec,
                       "a PrivateNetworkSpec or None")


def network_properties(foundry: FoundrySpec, private: PrivateNetworkSpec | None = None) -> dict[str, Any]:
    """``publicNetworkAccess`` and ``networkAcls`` (snake_case input shape) from the spec."""
    net = foundry.network
    if private is not None and private.enabled:
        return private_network_acls(net.ip_rules, private)
    if net.ip_rules:
        acls: dict[str, Any] = {"default_action": "Deny", "ip_rules": [{"value": ip} for ip in net.ip_rules]}
    else:
        acls = {"default_action": "Allow"}
    return {
        "public_network_access": "Enabled" if net.public_network_access else "Disabled",
        "network_acls": acls,
    }


def account_tags(foundry: FoundrySpec, tags: Any) -> Any:
    """The stack's tags, plus the policy's public-network waiver when the spec says so explicitly
    (``foundry.network.public_network_access: true`` written out, not left at its default): the guardrail
    "no public network in production unless the spec says so" sees only resources, so the intent travels
    as a tag."""
    if "public_network_access" in foundry.network.model_fields_set and foundry.network.public_network_access:
        return {**(tags or {}), contract.TAG_ALLOW_PUBLIC_NETWORK: "true"}
    return tags


def project_management_properties(foundry: FoundrySpec) -> dict[str, Any]:
    """``allowProjectManagement: true`` when the spec has a Foundry project (Azure refuses a project under an
    account without it); else nothing, so that stacks without a project send the account as before."""
    return {"allow_project_management": True} if foundry.project is not None else {}


class FoundryAccount(pulumi.ComponentResource):
    """The AIServices account whose custom subdomain serves Claude; CanNotDelete-locked when protected. With
    ``foundry.project`` set, :meth:`add_project` adds the Foundry project below it."""

    account: azure_native.cognitiveservices.Account
    lock: azure_native.authorization.ManagementLockByScope | None
    project: azure_native.cognitiveservices.Project | None
    id: pulumi.Output[str]
    name: pulumi.Output[str]

    def __init__(self, name: str, args: FoundryAccountArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(f"{TYPE_PREFIX}FoundryAccount", name, None, opts)
        f = args.foundry
        self.account = azure_native.cognitiveservices.Account(  # type: ignore[call-overload]  # the ARM property dicts are plain dicts, not the SDK's TypedDicts; tests/program's golden plans pin them
            f"{name}-account",
            account_name=f.name,
            resource_group_name=args.resource_group_name,
            location=args.location,
            kind=arm.ACCOUNT_KIND,
            sku={"name": arm.ACCOUNT_SKU},
            identity={"type": "SystemAssigned"},
            properties={
                "custom_sub_domain_name": f.name,
                "disable_local_auth": f.disable_local_auth,
                **network_properties(f, args.private_network),
                **project_management_properties(f),
            },
            tags=account_tags(f, args.tags),
            opts=child_opts(self, protect=args.protect),
        )
        self.lock = delete_lock(f"{name}-lock", self.account.id, "Foundry account", self) \
            if args.protect else None
        self.id = self.account.id
        self.name = self.account.name
        self.project = None
        self._args = args
        self._logical_name = name
        self.register_outputs({"id": self.id, "name": self.name})

    def ref(self, *, key: str = contract.PRIMARY_ACCOUNT, deployments: Mapping[str, DeploymentSpec] | None = None,
            resource_group_name: pulumi.Input[str] | None = None) -> AccountRef:
        """This account as the other components take it (:class:`AccountRef`): ``key`` (the stack's key for it,
        :data:`~claude_foundry._contract.PRIMARY_ACCOUNT` for the first account), the ``deployments`` it serves,
        ``resource_group_name`` as role-assignment names read it (default: the one it was created in)."""
        args = self._args
        return AccountRef(key=key, name=args.foundry.name, location=args.location, foundry=args.foundry,
                          deployments=dict(deployments or {}), id=self.account.id, account_name=self.account.name,
                          resource=self.account,
                          resource_group_name=resource_group_name if resource_group_name is not None
                          else args.resource_group_name)

    def add_project(self, depends_on: Sequence[pulumi.Resource] | None = None) -> \
            azure_native.cognitiveservices.Project | None:
        """The spec's Foundry project (``foundry.project``), logical name ``<name>-project``, below this
        component; it depends on the account and on ``depends_on`` (the last deployment, so that one change
        below the account runs at a time). None when the spec has no project."""
        f, args = self._args.foundry, self._args
        if f.project is None:
            return None
        if self.project is None:
            self.project = foundry_project(f"{self._logical_name}-project", FoundryProjectArgs(
                project=f.project, account_name=self.account.name, location=args.location,
                resource_group_name=args.resource_group_name, tags=args.tags, protect=args.protect,
                depends_on=[self.account, *(depends_on or [])]), parent=self)
        return self.project
