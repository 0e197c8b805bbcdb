"""``AccessAssignments``: role assignments for Claude callers (on the account) and secret readers (vault).

Each assignment's name is a uuid5 of (scope-identifying name, principal, role), so re-running the program
produces the same assignment instead of a duplicate (Azure refuses a second assignment of the same role to
the same principal on the same scope under another name).

Principals come from the spec (``access.claude_users`` / ``access.secret_readers``, plain object ids) and,
from a program of your own, from :class:`ClaudeUserArgs` / :class:`SecretReaderArgs` whose ``principal_id``
is any ``pulumi.Input[str]`` (e.g. ``identity.principal_id`` of a user-assigned identity created in the same
program).
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pulumi
import pulumi_azure_native as azure_native

from claude_foundry._azure import arm
from claude_foundry.program.components._accounts import AccountRef, check_accounts
from claude_foundry.program.components._common import (
    TYPE_PREFIX,
    check_input,
    check_sequence,
    check_type,
    child_opts,
    is_input,
)
from claude_foundry.program.spec._schema import AccessSpec

#: Namespace of the deterministic role assignment names (never change it: names would change).
ROLE_ASSIGNMENT_NAMESPACE = uuid.UUID("3b0b3f2e-8f0c-4a36-9a3e-6d1f4c2b7a10")

PrincipalType = Literal["ServicePrincipal", "User", "Group"]


def role_assignment_name(scope_name: str, principal_id: str, role: str) -> str:
    """Deterministic GUID name of a role assignment."""
    return str(uuid.uuid5(ROLE_ASSIGNMENT_NAMESPACE, f"{scope_name}|{principal_id.lower()}|{role}"))


@dataclass(frozen=True, kw_only=True)
class PrincipalArgs:
    """A principal of your program. ``key`` names its role assignment's logical name
    (``<access>-user-<key>`` / ``<access>-reader-<key>``); it defaults to the principal id when that is a
    plain string. Give one for an Output (it has no value yet): otherwise the position in the list is used,
    which changes (and replaces the assignment) when the list is reordered."""

    principal_id: pulumi.Input[str]
    principal_type: PrincipalType = "ServicePrincipal"
    key: str | None = None
    description: str = ""

    def __post_init__(self) -> None:
        owner = type(self).__name__
        check_input(owner, "principal_id", self.principal_id)
        check_object_id(owner, "principal_id", self.principal_id)
        if self.principal_type not in ("ServicePrincipal", "User", "Group"):
            raise ValueError(f"{owner}.principal_type must be ServicePrincipal, User or Group "
                             f"(got {self.principal_type!r})")
        if self.key is not None:
            check_type(owner, "key", self.key, str, "a str or None")
        check_type(owner, "description", self.description, str, "a str")
        role = getattr(self, "role", None)
        if role is not None and role not in ("cognitive-services-user", "azure-ai-user"):
            raise ValueError(f"{owner}.role must be cognitive-services-user or azure-ai-user (got {role!r})")


@dataclass(frozen=True, kw_only=True)
class ClaudeUserArgs(PrincipalArgs):
    """May call Claude with Entra ID tokens: Cognitive Services User (or Azure AI User) on the account."""

    role: Literal["cognitive-services-user", "azure-ai-user"] = "cognitive-services-user"


@dataclass(frozen=True, kw_only=True)
class SecretReaderArgs(PrincipalArgs):
    """May read the exported secrets: Key Vault Secrets User on the vault."""


@dataclass(frozen=True)
class _Grant:
    logical: str
    principal_id: pulumi.Input[str]
    principal_type: str | None
    role: str
    scope: pulumi.Input[str]
    scope_name: pulumi.Input[str]
    description: str | None


@dataclass(frozen=True, kw_only=True)
class AccessAssignmentsArgs:
    """Who may do what: the spec's ``access``, principals of your own, on every account and on the vault."""

    access: AccessSpec
    subscription_id: pulumi.Input[str]
    #: The stack's accounts, the first one first: every Claude user (and the deployer) gets the same role on each,
    #: logical names suffixed with :attr:`AccountRef.suffix`, assignment names from :meth:`AccountRef.scope_name`.
    accounts: Sequence[AccountRef]
    vault_id: pulumi.Input[str]
    vault_scope_name: pulumi.Input[str]
    #: Object id of the identity running the deploy (getClientConfig), granted access when
    #: ``access.deployer_access`` is on, so CI's smoke test right after ``pulumi up`` works as that identity.
    deployer_principal_id: pulumi.Input[str] | None = None
    #: Principals of your own program, besides the spec's (an object id or a ``*Args``).
    claude_users: Sequence[pulumi.Input[str] | ClaudeUserArgs] = ()
    secret_readers: Sequence[pulumi.Input[str] | SecretReaderArgs] = ()

    def __post_init__(self) -> None:
        owner = "AccessAssignmentsArgs"
        check_type(owner, "access", self.access, AccessSpec, "an AccessSpec (spec.access)")
        check_input(owner, "subscription_id", self.subscription_id)
        check_input(owner, "vault_id", self.vault_id)
        check_input(owner, "vault_scope_name", self.vault_scope_name)
        check_input(owner, "deployer_principal_id", self.deployer_principal_id, optional=True)
        object.__setattr__(self, "accounts", check_accounts(owner, self.accounts))
        object.__setattr__(self, "claude_users", check_principals(owner, "claude_users", self.claude_users,
                                                                   ClaudeUserArgs))
        object.__setattr__(self, "secret_readers", check_principals(owner, "secret_readers", self.secret_readers,
                                                                     SecretReaderArgs))


def check_object_id(owner: str, field_name: str, value: object) -> None:
    """A plain-string principal id must be an object id (GUID): ``ValueError`` naming the field otherwise."""
    if isinstance(value, str):
        try:
            uuid.UUID(value)
        except ValueError:
            raise ValueError(f"{owner}.{field_name}: principal_id must be an object id (GUID) "
                             f"(got {value!r})") from None


def check_principals(owner: str, field_name: str, items: object, cls: type[PrincipalArgs]) -> tuple[Any, ...]:
    """A list of object ids (``pulumi.Input[str]``, a plain one a GUID) or ``cls`` instances, as a tuple."""
    check_sequence(owner, field_name, items)
    assert isinstance(items, list | tuple)
    for n, item in enumerate(items):
        if not (isinstance(item, cls) or is_input(item)):
            raise TypeError(f"{owner}.{field_name}[{n}] must be an object id (pulumi.Input[str]) or a "
                            f"{cls.__name__}, got {type(item).__name__}")
        check_object_id(owner, f"{field_name}[{n}]", item)
    return tuple(items)


def _wired(items: Sequence[pulumi.Input[str] | PrincipalArgs], cls: type[PrincipalArgs]) \
        -> list[tuple[str, PrincipalArgs]]:
    out = []
    for n, item in enumerate(items):
        args = item if isinstance(item, PrincipalArgs) else cls(principal_id=item)
        if isinstance(args.principal_id, str):
            try:
                args = dataclasses.replace(args, principal_id=str(uuid.UUID(args.principal_id)))
            except ValueError:
                raise ValueError(f"principal_id must be an object id (GUID) (got {args.principal_id!r})") from None
        key = args.key or (args.principal_id if isinstance(args.principal_id, str) else f"wired{n}")
        out.append((key, args))
    return out


def _grants(name: str, args: AccessAssignmentsArgs) -> list[_Grant]:
    vault_id, vault_name = args.vault_id, args.vault_scope_name
    accounts = [(a.suffix, a.id, a.scope_name()) for a in args.accounts]
    grants: list[_Grant] = []
    for suffix, account_id, account_name in accounts:
        grants += [_Grant(f"{name}-user-{u.principal_id}{suffix}", u.principal_id, u.principal_type, u.role,
                          account_id, account_name, u.description or None) for u in args.access.claude_users]
        grants += [_Grant(f"{name}-user-{key}{suffix}", u.principal_id, u.principal_type,
                          getattr(u, "role", "cognitive-services-user"), account_id, account_name,
                          u.description or None)
                   for key, u in _wired(args.claude_users, ClaudeUserArgs)]
    grants += [_Grant(f"{name}-reader-{r.principal_id}", r.principal_id, r.principal_type,
                      "key-vault-secrets-user", vault_id, vault_name, r.description or None)
               for r in args.access.secret_readers]
    grants += [_Grant(f"{name}-reader-{key}", r.principal_id, r.principal_type, "key-vault-secrets-user",
                      vault_id, vault_name, r.description or None)
               for key, r in _wired(args.secret_readers, SecretReaderArgs)]
    if args.access.deployer_access and args.deployer_principal_id is not None:
        why = "claude-foundry: the deploying identity (access.deployer_access)"
        grants += [_Grant(f"{name}-deployer-claude{suffix}", args.deployer_principal_id, None,
                          "cognitive-services-user", account_id, account_name, why)
                   for suffix, account_id, account_name in accounts]
        grants.append(_Grant(f"{name}-deployer-secrets", args.deployer_principal_id, None, "key-vault-secrets-user",
                             vault_id, vault_name, why))
    return grants


def _assignment_name(role: str) -> Callable[[list[Any]], str]:
    """The role assignment's name once its scope and principal are known (both wired as Outputs)."""
    return lambda scope_principal: role_assignment_name(scope_principal[0], scope_principal[1], role)


def _role_definition(role: str) -> Callable[[str], str]:
    return lambda subscription: arm.role_definition_id(subscription, role)


class AccessAssignments(pulumi.ComponentResource):
    """Cognitive Services User / Azure AI User on the account; Key Vault Secrets User on the vault; and, with
    ``deployer_access``, both for the identity that runs the deploy."""

    assignments: list[azure_native.authorization.RoleAssignment]

    def __init__(self, name: str, args: AccessAssignmentsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(f"{TYPE_PREFIX}AccessAssignments", name, None, opts)
        sub = pulumi.Output.from_input(args.subscription_id)
        self.assignments = []
        for g in _grants(name, args):
            if isinstance(g.scope_name, str) and isinstance(g.principal_id, str):
                ra_name: pulumi.Input[str] = role_assignment_name(g.scope_name, g.principal_id, g.role)
            else:
                ra_name = pulumi.Output.all(g.scope_name, g.principal_id).apply(_assignment_name(g.role))
            self.assignments.append(azure_native.authorization.RoleAssignment(
                g.logical,
                role_assignment_name=ra_name,
                scope=g.scope,
                principal_id=g.principal_id,
                principal_type=g.principal_type,
                role_definition_id=sub.apply(_role_definition(g.role)),
                description=g.description,
                opts=child_opts(self),
            ))
        self.register_outputs({"count": len(self.assignments)})
