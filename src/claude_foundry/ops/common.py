"""Shared by the ops commands: target flags, the planned view of a stack, raw ARM calls."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field
from typing import Any

from claude_foundry.azure import arm
from claude_foundry.azure.target import Target
from claude_foundry.errors import UserError
from claude_foundry.program import armmap

# One spelling of the type tokens and API versions: the ARM mapping the plan uses.
RESOURCE_GROUP_API_VERSION = armmap.API_VERSIONS[armmap.RESOURCE_GROUP]
ROLE_ASSIGNMENT_API_VERSION = armmap.API_VERSIONS[armmap.ROLE_ASSIGNMENT]
PERMISSIONS_API_VERSION = "2022-04-01"
MARKETPLACE_API_VERSION = "2021-01-01"

T_ACCOUNT = armmap.ACCOUNT
T_DEPLOYMENT = armmap.GENERIC_RESOURCE
T_VAULT = armmap.VAULT
T_SECRET = armmap.SECRET
T_ROLE = armmap.ROLE_ASSIGNMENT
T_DIAG = armmap.DIAGNOSTIC_SETTING
T_RG = armmap.RESOURCE_GROUP


def add_target_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("stack_file", metavar="STACK_FILE", help="the stack file (stacks/<env>.yaml)")
    g = p.add_argument_group("target (default: real Azure with DefaultAzureCredential)")
    g.add_argument("--sandbox", metavar="CONNECTION_FILE",
                   help="the local sandbox instead of Azure (its connection file)")
    g.add_argument("--subscription", metavar="ID",
                   help="Azure subscription id (default: $AZURE_SUBSCRIPTION_ID)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")


def resolve_target(args: argparse.Namespace) -> Target:
    from claude_foundry.azure.target import azure_target, sandbox_target

    if getattr(args, "sandbox", None):
        if getattr(args, "subscription", None):
            raise UserError("--sandbox and --subscription are exclusive")
        return sandbox_target(args.sandbox)
    return azure_target(getattr(args, "subscription", None))


def load_stack(path: str) -> Any:
    from claude_foundry.program.spec import load_spec

    return load_spec(path)


# --- the planned view ------------------------------------------------------------------------------


@dataclass
class PlannedArm:
    """One ARM resource the program would create: id, api-version, request body."""

    name: str  # logical name
    type: str  # Pulumi type token
    id: str
    api_version: str
    body: dict[str, Any]


@dataclass
class StackView:
    """What the program says should exist, by role."""

    spec: Any
    target: Target
    resource_group: PlannedArm | None
    account: PlannedArm
    deployments: dict[str, PlannedArm]  # deployment name -> planned
    vault: PlannedArm | None
    secrets: dict[str, PlannedArm]  # secret name -> planned
    role_assignments: list[PlannedArm] = field(default_factory=list)
    diagnostic_settings: list[PlannedArm] = field(default_factory=list)

    @property
    def rg_name(self) -> str:
        return self.spec.resource_group

    @property
    def account_name(self) -> str:
        return self.spec.foundry.name

    @property
    def rg_id(self) -> str:
        return arm.resource_group_id(self.target.subscription_id, self.spec.resource_group)


def stack_view(spec: Any, target: Target) -> StackView:
    """Run the real program under mocks with the target's ids and sort its ARM resources by role."""
    from claude_foundry.rehearse import plan_for_target

    planned = plan_for_target(spec, target)
    items = [PlannedArm(r.name, r.type, r.arm.id, r.arm.api_version, r.arm.body)
             for r in planned.resources if r.arm is not None]
    account = next((i for i in items if i.type == T_ACCOUNT), None)
    if account is None:  # pragma: no cover - the program always makes one
        raise UserError("the stack's plan has no Foundry account")
    deployments = {i.id.rsplit("/", 1)[-1]: i for i in items
                   if i.id.lower().startswith(account.id.lower() + "/deployments/")}
    secrets = {i.id.rsplit("/", 1)[-1]: i for i in items if i.type == T_SECRET}
    return StackView(
        spec=spec, target=target,
        resource_group=next((i for i in items if i.type == T_RG), None),
        account=account, deployments=deployments,
        vault=next((i for i in items if i.type == T_VAULT), None), secrets=secrets,
        role_assignments=[i for i in items if i.type == T_ROLE],
        diagnostic_settings=[i for i in items if i.type == T_DIAG],
    )


# --- raw ARM ---------------------------------------------------------------------------------------


class ArmCaller:
    """Raw ARM requests through the Target's credential and pipeline (``ResourceManagementClient.send_request``)."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.client = target.resource_client()

    def call(self, method: str, path: str, api_version: str, body: Any = None) -> tuple[int, Any]:
        from azure.core.rest import HttpRequest

        sep = "&" if "?" in path else "?"
        url = f"{self.target.arm_endpoint}{path}{sep}api-version={api_version}"
        kwargs: dict[str, Any] = {}
        if body is not None:
            kwargs["json"] = body
        response = self.client.send_request(HttpRequest(method, url, **kwargs))
        try:
            data = response.json() if response.content else None
        except ValueError:
            data = None
        return response.status_code, data

    def close(self) -> None:
        self.client.close()


def arm_error_text(status: int, data: Any) -> str:
    """``status code: message`` from an ARM error body, never the request."""
    err = (data or {}).get("error") if isinstance(data, dict) else None
    if isinstance(err, dict):
        return f"{status} {err.get('code', 'Error')}: {err.get('message', '')}".strip()
    return f"HTTP {status}"


def describe(exc: BaseException) -> str:
    from claude_foundry.rehearse import describe_arm_error

    return describe_arm_error(exc)


def status_of(exc: BaseException) -> int | None:
    return getattr(exc, "status_code", None)


def run_report_command(args: argparse.Namespace, runner: Any, passed: Any) -> int:
    """The body of ``preflight`` and ``verify``: plan the stack for the target, run the checks, print a
    table (or ``--json``); exit 0 when ``passed(report)``, else 1."""
    from claude_foundry.cli.ui import make_console

    spec = load_stack(args.stack_file)
    with resolve_target(args) as target:
        report = runner(stack_view(spec, target))
    if args.json:
        print(dumps(report.to_json()))
    else:
        report.render(make_console(soft_wrap=False))
    return 0 if passed(report) else 1


def dumps(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True, default=str)
