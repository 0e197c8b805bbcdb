"""``AccountRef``: one Foundry account of a stack, the one shape in which the components see accounts.

A stack is an ordered list of accounts: ``foundry:`` first (key :data:`~claude_foundry._contract.PRIMARY_ACCOUNT`,
what ``env`` and a version 1 reader pick), then ``accounts:`` in the order written. The spec side is pure data
(:meth:`~claude_foundry.program.spec.Spec.all_accounts`, a list of
:class:`~claude_foundry.program.spec._schema.ResolvedAccount`); the program adds, once, the Pulumi resource of each
account (:meth:`FoundryAccount.ref`) and passes the list to every component, which loops over it.

The only thing that tells the first account from the others is its logical-name suffix (:attr:`AccountRef.suffix`):
empty for the first, ``-<key>`` for the others (:func:`claude_foundry._contract.account_label`), so that the URNs of
existing stacks stay what they were.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi

from claude_foundry import _contract as contract
from claude_foundry.program.components._common import check_input, check_type
from claude_foundry.program.spec._schema import DeploymentSpec, FoundrySpec

#: The logical-name part of an account's key: ``""`` for the stack's first account, ``<sep><key>`` for the others.
account_label = contract.account_label


@dataclass(frozen=True, kw_only=True)
class AccountRef:
    """One account: what the spec says of it (``key``, ``name``, ``location``, ``foundry`` settings including its
    network, ``deployments``) and its Pulumi side (``id``, ``account_name`` — the Account's ``.name`` Output —
    and ``resource``, the ``cognitiveservices.Account`` that reads of it wait for).

    ``resource_group_name`` is the resource group as role-assignment names read it (a plain string when known).
    Build one with :meth:`FoundryAccount.ref`; for an account of your own, give ``id`` and ``name`` (and
    ``account_name``/``resource`` when you have them)."""

    key: str = contract.PRIMARY_ACCOUNT
    name: str
    location: str
    id: pulumi.Input[str]
    foundry: FoundrySpec | None = None
    deployments: Mapping[str, DeploymentSpec] = field(default_factory=dict)
    account_name: pulumi.Input[str] | None = None
    resource: pulumi.Resource | None = None
    resource_group_name: pulumi.Input[str] | None = None

    def __post_init__(self) -> None:
        check_type("AccountRef", "key", self.key, str,
                   f"a str (the account's key: {contract.PRIMARY_ACCOUNT} or an accounts: key)")
        check_type("AccountRef", "name", self.name, str, "a str (the account's name)")
        check_type("AccountRef", "location", self.location, str, "a str (an Azure region)")
        check_input("AccountRef", "id", self.id)
        check_input("AccountRef", "account_name", self.account_name, optional=True)
        check_input("AccountRef", "resource_group_name", self.resource_group_name, optional=True)
        if self.foundry is not None:
            check_type("AccountRef", "foundry", self.foundry, FoundrySpec, "a FoundrySpec")
        if self.resource is not None:
            check_type("AccountRef", "resource", self.resource, pulumi.Resource, "a pulumi.Resource")
        if not self.key or not self.name:
            raise ValueError("AccountRef.key and AccountRef.name must not be empty")

    @property
    def first(self) -> bool:
        """The stack's first account (``foundry:``): the one whose children keep the one-account logical names."""
        return not self.label()

    def label(self, sep: str = "-") -> str:
        """Logical-name part of this account: ``""`` for the first account, ``<sep><key>`` for the others."""
        return account_label(self.key, sep)

    @property
    def suffix(self) -> str:
        """``""`` for the first account, ``-<key>`` for the others (what logical names end with)."""
        return self.label("-")

    @property
    def name_input(self) -> pulumi.Input[str]:
        """The account's name as an input: the Account's ``.name`` Output when known (so a read waits for it)."""
        return self.account_name if self.account_name is not None else self.name

    def scope_name(self) -> pulumi.Input[str]:
        """``<resource group>/<account>``: the scope part of role-assignment names."""
        rg = self.resource_group_name
        if rg is None:
            raise ValueError(f"AccountRef {self.key!r}: resource_group_name is needed for role assignment names")
        if isinstance(rg, str):
            return f"{rg}/{self.name}"
        return pulumi.Output.concat(rg, "/", self.name)


def check_accounts(owner: str, accounts: object) -> tuple[AccountRef, ...]:
    """``accounts`` as a tuple of :class:`AccountRef` (at least one, keys unique); ``TypeError``/``ValueError``
    naming ``<owner>.accounts`` otherwise."""
    if isinstance(accounts, AccountRef):
        accounts = (accounts,)
    if isinstance(accounts, str | bytes | Mapping) or not isinstance(accounts, Sequence):
        raise TypeError(f"{owner}.accounts must be a list of AccountRef (FoundryAccount.ref()), "
                        f"got {type(accounts).__name__}")
    out = tuple(accounts)
    bad = [a for a in out if not isinstance(a, AccountRef)]
    if bad:
        raise TypeError(f"{owner}.accounts must hold AccountRef (FoundryAccount.ref()), got {type(bad[0]).__name__}")
    if not out:
        raise ValueError(f"{owner}.accounts must name at least one account")
    keys = [a.key for a in out]
    if len(set(keys)) != len(keys):
        raise ValueError(f"{owner}.accounts: each account's key must be unique (got {keys})")
    return out
