"""``ContractVault``: the Key Vault holding the contract (secret names from :mod:`claude_foundry._contract`).

Secrets: ``<prefix>-endpoint`` (the Claude base URL, built from the custom subdomain — never the account's
ARM ``properties.endpoint``), ``-resource``, ``-deployments`` (JSON map), ``-auth-mode``, and ``-api-key``
(key1 of the account, a Pulumi secret) only when local auth is enabled: the first account's, what every
reader reads (contract version 1). A stack of several accounts adds ``-accounts`` (contract version 2: every
account's endpoint, region and deployments, no key) and, with local auth, ``-api-key-<key>`` for each account after
the first (:meth:`claude_foundry._contract.SecretNames.api_key_of`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_azure_native as azure_native

from claude_foundry import _contract as contract
from claude_foundry.program.components._accounts import AccountRef, check_accounts
from claude_foundry.program.components._common import TYPE_PREFIX, check_input, check_type, child_opts, delete_lock
from claude_foundry.program.components._network import private_network_acls
from claude_foundry.program.spec._schema import Spec


@dataclass(frozen=True, kw_only=True)
class ContractVaultArgs:
    """The spec (what the contract says), where the vault goes, and the stack's accounts, the first one first
    (with local auth, each account's key1 is listed from its ``resource``)."""

    spec: Spec
    resource_group_name: pulumi.Input[str]
    tenant_id: pulumi.Input[str]
    accounts: Sequence[AccountRef]
    base_url_template: str = contract.FOUNDRY_BASE_URL_TEMPLATE
    tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_type("ContractVaultArgs", "spec", self.spec, Spec, "a claude_foundry.program.spec.Spec")
        check_input("ContractVaultArgs", "resource_group_name", self.resource_group_name)
        check_input("ContractVaultArgs", "tenant_id", self.tenant_id)
        check_type("ContractVaultArgs", "base_url_template", self.base_url_template, str, "a str")
        object.__setattr__(self, "accounts", check_accounts("ContractVaultArgs", self.accounts))


def vault_properties(spec: Spec, tenant_id: pulumi.Input[str]) -> dict[str, Any]:
    kv = spec.key_vault
    props: dict[str, Any] = {
        "tenant_id": tenant_id,
        "sku": {"family": "A", "name": "standard"},
        "enable_rbac_authorization": True,
        "enable_soft_delete": True,
        "soft_delete_retention_in_days": kv.soft_delete_retention_days,
    }
    if kv.purge_protection:
        # Only ever sent as true: Azure refuses "false" once it is on, and it cannot be turned off.
        props["enable_purge_protection"] = True
    private = spec.private_network
    if spec.private_on and private is not None and private.key_vault:
        # behind its private endpoint: publicNetworkAccess Disabled (or the account's ip_rules only), default Deny
        props.update(private_network_acls(spec.foundry.network.ip_rules, private))
    return props


class ContractVault(pulumi.ComponentResource):
    """Key Vault (RBAC, soft delete) plus the contract secrets."""

    vault: azure_native.keyvault.Vault
    lock: azure_native.authorization.ManagementLockByScope | None
    #: role (contract.SecretNames.as_dict keys; with several accounts also ``accounts`` and ``api_key_<key>``)
    secrets: dict[str, azure_native.keyvault.Secret]
    id: pulumi.Output[str]
    name: pulumi.Output[str]
    vault_url: pulumi.Output[str]

    def __init__(self, name: str, args: ContractVaultArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(f"{TYPE_PREFIX}ContractVault", name, None, opts)
        spec = args.spec
        self.vault = azure_native.keyvault.Vault(  # type: ignore[call-overload]  # the ARM property dicts are plain dicts, not the SDK's TypedDicts; tests/program's golden plans pin them
            f"{name}-vault",
            vault_name=spec.key_vault.name,
            resource_group_name=args.resource_group_name,
            location=spec.location,
            properties=vault_properties(spec, args.tenant_id),
            tags=args.tags,
            opts=child_opts(self, protect=spec.protect),
        )
        self.lock = delete_lock(f"{name}-lock", self.vault.id, "Key Vault", self) if spec.protect else None
        self.id = self.vault.id
        self.name = self.vault.name
        self.vault_url = self.vault.properties.apply(lambda p: p.vault_uri)

        names = spec.secret_names
        values: dict[str, pulumi.Input[str]] = {
            "endpoint": spec.base_url(args.base_url_template),
            "resource": spec.foundry.name,
            "deployments": contract.dump_deployment_map(spec.deployment_map()),
            "auth_mode": spec.auth_mode,
        }
        secret_names = {role: getattr(names, role) for role in values}
        key_roles = set()
        if spec.multi_account:
            values["accounts"] = contract.dump_accounts(spec.stack_contract(args.base_url_template).accounts, names)
            secret_names["accounts"] = names.accounts
        if not spec.foundry.disable_local_auth:
            for acct in args.accounts:
                role = "api_key" + acct.label("_")
                keys = azure_native.cognitiveservices.list_account_keys_output(
                    account_name=acct.name_input, resource_group_name=args.resource_group_name,
                    opts=pulumi.InvokeOutputOptions(parent=self, depends_on=[acct.resource] if acct.resource else None))
                values[role] = pulumi.Output.secret(keys.key1)
                secret_names[role] = names.api_key_of(acct.key)
                key_roles.add(role)
        self.secrets = {}
        for role, value in values.items():
            secret_name = secret_names[role]
            is_key = role in key_roles
            self.secrets[role] = azure_native.keyvault.Secret(
                f"{name}-{secret_name}",
                secret_name=secret_name,
                vault_name=self.vault.name,
                resource_group_name=args.resource_group_name,
                # the whole properties input is a Pulumi secret when it holds the key
                properties=pulumi.Output.secret({"value": value}) if is_key else {"value": value},
                tags=args.tags,
                opts=child_opts(self),
            )
        self.register_outputs({"id": self.id, "name": self.name, "vault_url": self.vault_url})
