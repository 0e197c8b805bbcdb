"""``AccessAssignments``: role assignments for Claude callers (on the account) and secret readers (vault).

Each assignment's name is a uuid5 of (scope-identifying name, principal, role), so re-running the program
produces the same assignment instead of a duplicate (Azure refuses a second assignment of the same role to
the same principal on the same scope under another name).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pulumi
import pulumi_azure_native as azure_native

from claude_foundry.azure import arm
from claude_foundry.program.components.common import TYPE_PREFIX, child_opts
from claude_foundry.program.spec.schema import AccessSpec

#: Namespace of the deterministic role assignment names (never change it: names would change).
ROLE_ASSIGNMENT_NAMESPACE = uuid.UUID("3b0b3f2e-8f0c-4a36-9a3e-6d1f4c2b7a10")


def role_assignment_name(scope_name: str, principal_id: str, role: str) -> str:
    """Deterministic GUID name of a role assignment."""
    return str(uuid.uuid5(ROLE_ASSIGNMENT_NAMESPACE, f"{scope_name}|{principal_id.lower()}|{role}"))


@dataclass(frozen=True)
class AccessAssignmentsArgs:
    access: AccessSpec
    subscription_id: pulumi.Input[str]
    account_id: pulumi.Input[str]
    account_scope_name: str  # e.g. "<resource group>/<account name>"
    vault_id: pulumi.Input[str]
    vault_scope_name: str
    #: Object id of the identity running the deploy (getClientConfig), granted access when
    #: ``access.deployer_access`` is on, so CI's smoke test right after ``pulumi up`` works as that identity.
    deployer_principal_id: pulumi.Input[str] | None = None


class AccessAssignments(pulumi.ComponentResource):
    """Cognitive Services User / Azure AI User on the account; Key Vault Secrets User on the vault; and, with
    ``deployer_access``, both for the identity that runs the deploy."""

    assignments: list[azure_native.authorization.RoleAssignment]

    def __init__(self, name: str, args: AccessAssignmentsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(f"{TYPE_PREFIX}AccessAssignments", name, None, opts)
        sub = pulumi.Output.from_input(args.subscription_id)
        self.assignments = []
        plan = [(u, u.role, args.account_id, args.account_scope_name, "user") for u in args.access.claude_users]
        plan += [(r, "key-vault-secrets-user", args.vault_id, args.vault_scope_name, "reader")
                 for r in args.access.secret_readers]
        for principal, role, scope, scope_name, kind in plan:
            ra_name = role_assignment_name(scope_name, principal.principal_id, role)
            self.assignments.append(azure_native.authorization.RoleAssignment(
                f"{name}-{kind}-{principal.principal_id}",
                role_assignment_name=ra_name,
                scope=scope,
                principal_id=principal.principal_id,
                principal_type=principal.principal_type,
                role_definition_id=sub.apply(lambda s, role=role: arm.role_definition_id(s, role)),
                description=principal.description or None,
                opts=child_opts(self),
            ))
        if args.access.deployer_access and args.deployer_principal_id is not None:
            deployer = pulumi.Output.from_input(args.deployer_principal_id)
            for kind, role, scope, scope_name in (
                    ("deployer-claude", "cognitive-services-user", args.account_id, args.account_scope_name),
                    ("deployer-secrets", "key-vault-secrets-user", args.vault_id, args.vault_scope_name)):
                self.assignments.append(azure_native.authorization.RoleAssignment(
                    f"{name}-{kind}",
                    role_assignment_name=deployer.apply(
                        lambda p, scope_name=scope_name, role=role: role_assignment_name(scope_name, p, role)),
                    scope=scope,
                    principal_id=deployer,
                    role_definition_id=sub.apply(lambda s, role=role: arm.role_definition_id(s, role)),
                    description="claude-foundry: the deploying identity (access.deployer_access)",
                    opts=child_opts(self),
                ))
        self.register_outputs({"count": len(self.assignments)})
