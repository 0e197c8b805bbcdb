"""``ContractVault``: the Key Vault holding the contract (secret names from :mod:`claude_foundry.contract`).

Secrets: ``<prefix>-endpoint`` (the Claude base URL, built from the custom subdomain — never the account's
ARM ``properties.endpoint``), ``-resource``, ``-deployments`` (JSON map), ``-auth-mode``, and ``-api-key``
(key1 of the account, a Pulumi secret) only when local auth is enabled: the primary account's, what every
reader reads (contract version 1). A stack with further accounts (``accounts:``) adds ``-accounts`` (contract
version 2: every account's endpoint, region and deployments, no key) and, with local auth, ``-api-key-<key>`` per
further account.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_azure_native as azure_native

from claude_foundry import contract
from claude_foundry.program.components.common import TYPE_PREFIX, child_opts, delete_lock
from claude_foundry.program.components.network import private_network_acls
from claude_foundry.program.spec.schema import Spec


@dataclass(frozen=True)
class ContractVaultArgs:
    spec: Spec
    resource_group_name: pulumi.Input[str]
    tenant_id: pulumi.Input[str]
    account: pulumi.Resource  # the Account (key1 is listed from it)
    account_name: pulumi.Input[str]
    base_url_template: str = contract.FOUNDRY_BASE_URL_TEMPLATE
    tags: dict[str, str] = field(default_factory=dict)
    #: The further accounts (``accounts:``): key -> (Account, its name), for their keys
    further_accounts: Mapping[str, tuple[pulumi.Resource, pulumi.Input[str]]] = field(default_factory=dict)


def vault_properties(spec: Spec, tenant_id: pulumi.Input[str]) -> dict:
    kv = spec.key_vault
    props: dict = {
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
    #: role (contract.SecretNames.as_dict keys; with further accounts also ``accounts`` and ``api_key_<key>``)
    secrets: dict[str, azure_native.keyvault.Secret]
    id: pulumi.Output[str]
    name: pulumi.Output[str]
    vault_url: pulumi.Output[str]

    def __init__(self, name: str, args: ContractVaultArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(f"{TYPE_PREFIX}ContractVault", name, None, opts)
        spec = args.spec
        self.vault = azure_native.keyvault.Vault(
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
            further = {f"api_key_{key}": (names.api_key_of(key), *acct)
                       for key, acct in args.further_accounts.items()}
            for role, (secret_name, account, account_name) in {
                    "api_key": (names.api_key, args.account, args.account_name), **further}.items():
                keys = azure_native.cognitiveservices.list_account_keys_output(
                    account_name=account_name, resource_group_name=args.resource_group_name,
                    opts=pulumi.InvokeOutputOptions(parent=self, depends_on=[account]))
                values[role] = pulumi.Output.secret(keys.key1)
                secret_names[role] = secret_name
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
