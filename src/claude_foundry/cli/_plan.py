"""``claude-foundry plan STACK_FILE [--json]``: what the Pulumi program would create, offline (mocks)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from claude_foundry._errors import OperationFailed, UserError

INSTALL_HINT = "pip install 'claude-foundry[infra]'"

#: Inputs worth showing per type in the listing (everything is in --json).
_KEY_INPUTS = {
    "azure-native:resources:ResourceGroup": ("resourceGroupName", "location"),
    "azure-native:cognitiveservices:Account": ("accountName", "kind", "sku.name", "properties.customSubDomainName",
                                               "properties.disableLocalAuth", "properties.publicNetworkAccess",
                                               "properties.networkAcls.defaultAction"),
    "azure-native:resources:Resource": ("resourceName", "apiVersion", "sku.name", "sku.capacity",
                                        "properties.model.name", "properties.model.version",
                                        "properties.modelProviderData.organizationName",
                                        "properties.modelProviderData.countryCode",
                                        "properties.modelProviderData.industry"),
    "azure-native:keyvault:Vault": ("vaultName", "properties.enablePurgeProtection",
                                    "properties.softDeleteRetentionInDays"),
    "azure-native:keyvault:Secret": ("secretName", "properties.value"),
    "azure-native:operationalinsights:Workspace": ("workspaceName", "retentionInDays"),
    "azure-native:monitor:DiagnosticSetting": ("name", "resourceUri", "workspaceId"),
    "azure-native:authorization:RoleAssignment": ("principalId", "principalType", "roleDefinitionId", "scope"),
    "azure-native:authorization:ManagementLockByScope": ("level", "scope"),
}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plan", help="list the resources a stack would create (offline, no Azure)",
                       description="Run the Pulumi program for a stack file under mocks (no Pulumi CLI, no "
                       "Azure) and print every resource: type, logical name, key inputs (secrets masked) "
                       "and dependencies. Exit 2 on an invalid stack file.")
    p.add_argument("stack_file", metavar="STACK_FILE")
    p.add_argument("--json", action="store_true", help="print JSON (resources and outputs)")
    p.add_argument("--policy", action="store_true",
                   help="check the plan against the policy rules (docs/policy.md) instead of listing it: print "
                   "every violation; exit 1 on a mandatory one")
    p.add_argument("--allowed-location", action="append", metavar="LOCATION", dest="allowed_locations",
                   help="with --policy: narrow the allowed locations (repeatable; default: the catalogue's)")
    p.set_defaults(func=run)


def _get(d: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(d, dict) or part not in d:
            return None
        d = d[part]
    return d


def _short(urn: str) -> str:
    return urn.rsplit("::", 1)[-1]


def run(args: argparse.Namespace) -> int:
    from claude_foundry.program.spec import load_spec

    spec = load_spec(args.stack_file)  # SpecError is a UserError: exit 2 with every problem
    try:
        import pulumi  # noqa: F401
        import pulumi_azure_native  # noqa: F401
    except ModuleNotFoundError as exc:
        raise UserError(f"`plan` runs the Pulumi program and needs the infra extra ({exc.name} is not "
                        f"installed): {INSTALL_HINT}") from None
    from claude_foundry.program._plan import plan

    result = plan(spec)
    if getattr(args, "policy", False):
        return _run_policy(result, args)
    if args.json:
        json.dump({"project": result.project, "stack": result.stack, "resources": result.to_json(),
                   "outputs": result.outputs_json()}, sys.stdout, indent=2, sort_keys=False)
        sys.stdout.write("\n")
        return 0
    _print_tree(result)
    return 0


def _run_policy(result, args: argparse.Namespace) -> int:
    from claude_foundry.program import policy

    locations = tuple(args.allowed_locations) if args.allowed_locations else None
    violations = policy.check_plan(result, policy.PolicyConfig(allowed_locations=locations))
    mandatory, advisory = policy.summary(violations)
    if args.json:
        json.dump({"project": result.project, "stack": result.stack, "mandatory": mandatory, "advisory": advisory,
                   "violations": [v.to_json() for v in violations]}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        for line in policy.format_violations(violations):
            print(line)
        print(f"{result.project}/{result.stack}: {mandatory} mandatory, {advisory} advisory policy violation(s)")
    if mandatory:
        raise OperationFailed(f"{mandatory} mandatory policy violation(s) in {args.stack_file}")
    return 0


def _print_tree(result) -> None:
    from rich.tree import Tree

    from claude_foundry.cli._ui import make_console

    console = make_console()
    children: dict[str | None, list] = {}
    for r in result.resources:
        children.setdefault(r.parent, []).append(r)
    custom = [r for r in result.resources if r.custom]
    root = Tree(f"[bold]{result.project}/{result.stack}[/bold]: {len(custom)} resources")

    def add(node: Tree, parent: str | None) -> None:
        for r in children.get(parent, []):
            label = f"[cyan]{r.type}[/cyan] [bold]{r.name}[/bold]"
            if r.protect:
                label += " [red](protected)[/red]"
            branch = node.add(label)
            if r.custom:
                inputs = r.masked_inputs()
                for key in _KEY_INPUTS.get(r.type, ()):
                    value = _get(inputs, key)
                    if value is not None:
                        branch.add(f"{key} = {json.dumps(value)}")
                if r.arm is not None:
                    branch.add(f"[dim]id {r.arm.id} (api-version {r.arm.api_version})[/dim]")
                deps = [_short(d) for d in r.depends_on]
                if deps:
                    branch.add(f"[dim]depends on: {', '.join(deps)}[/dim]")
            add(branch, r.urn)

    add(root, None)
    console.print(root)
    outs = result.outputs_json()
    console.print("[bold]outputs[/bold]")
    for k, v in outs.items():
        console.print(f"  {k} = {json.dumps(v)}")
