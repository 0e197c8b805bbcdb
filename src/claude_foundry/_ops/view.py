"""What the stack's program says should exist, by role: the input every ops function compares with Azure."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from claude_foundry import _contract as contract
from claude_foundry._azure import arm
from claude_foundry._azure.resource import ArmResource
from claude_foundry._azure.target import Target
from claude_foundry._errors import UserError


@dataclass
class AccountView:
    """One Foundry account of the stack as planned: ``key`` is the stack's name for it
    (:data:`~claude_foundry._contract.PRIMARY_ACCOUNT` for ``foundry:``), ``name`` the account (and custom subdomain)
    name."""

    key: str
    name: str
    location: str
    account: ArmResource
    deployments: dict[str, ArmResource]  # deployment name -> planned

    def path(self, detail: str = "") -> str:
        """``detail`` as said of this account where the first account keeps the one-account names
        (:func:`~claude_foundry._contract.account_label`): ``detail`` for it, ``<key>/<detail>`` (or ``<key>``)
        for another."""
        return "/".join(p for p in (contract.account_label(self.key, ""), detail) if p)

    @property
    def words(self) -> str:
        """The account in words, with the stack's key and its region: ``<name> (<key>, <location>)``."""
        return f"{self.name} ({self.key}, {self.location})"

    @property
    def label(self) -> str:
        """How messages name it: ``account <name>``, with the stack's key and region for any but the first."""
        return f"account {self.words}" if contract.account_label(self.key) else f"account {self.name}"


@dataclass
class StackView:
    """What the program says should exist, by role (each an :class:`ArmResource` of the plan). ``accounts`` holds
    every account of the stack in order (key -> account, ``foundry:`` first, never empty)."""

    spec: Any
    target: Target
    resource_group: ArmResource | None
    accounts: dict[str, AccountView]  # key -> account, the first first
    vault: ArmResource | None
    secrets: dict[str, ArmResource]  # secret name -> planned
    role_assignments: list[ArmResource] = field(default_factory=list)
    diagnostic_settings: list[ArmResource] = field(default_factory=list)
    budget: ArmResource | None = None  # with ``budget:`` in the stack

    def __post_init__(self) -> None:
        if not self.accounts:
            raise ValueError("a StackView holds at least one account")

    @property
    def first(self) -> AccountView:
        """The stack's first account (``foundry:``)."""
        return next(iter(self.accounts.values()))

    @property
    def rg_name(self) -> str:
        return self.spec.resource_group

    @property
    def rg_id(self) -> str:
        return arm.resource_group_id(self.target.subscription_id, self.spec.resource_group)


def stack_view(spec: Any, target: Target) -> StackView:
    """Run the real program under mocks with the target's ids and sort its ARM resources by role."""
    from claude_foundry.program._plan import plan_for_target

    items = [r.arm for r in plan_for_target(spec, target).resources if r.arm is not None]
    planned = {i.name: i for i in items if i.token == arm.ACCOUNT}
    accounts: dict[str, AccountView] = {}
    for acct in spec.all_accounts():
        res = planned.get(acct.name)
        if res is None:  # pragma: no cover - the program always makes one per account
            raise UserError(f"the stack's plan has no Foundry account {acct.name}")
        accounts[acct.key] = AccountView(acct.key, acct.name, acct.location, res,
                                         {i.name: i for i in items if i.is_under(res.id + "/deployments")})
    return StackView(
        spec=spec, target=target,
        resource_group=next((i for i in items if i.token == arm.RESOURCE_GROUP), None), accounts=accounts,
        vault=next((i for i in items if i.token == arm.VAULT), None),
        secrets={i.name: i for i in items if i.token == arm.SECRET},
        role_assignments=[i for i in items if i.token == arm.ROLE_ASSIGNMENT],
        diagnostic_settings=[i for i in items if i.token == arm.DIAGNOSTIC_SETTING],
        budget=next((i for i in items if i.token == arm.BUDGET), None),
    )
