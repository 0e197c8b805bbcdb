"""``claude-foundry ci bootstrap``: the Azure side of CI with GitHub Actions and OIDC, made through ARM.

One user-assigned managed identity per GitHub environment (federated on ``environment:<env>``) and one read
identity for pull-request previews and the drift check (``pull_request``, ``ref:refs/heads/main``); a storage
account and container for the Pulumi state; a Key Vault key for Pulumi's secrets provider; the stack resource
groups; and the least-privilege role assignments each identity needs. Idempotent: what exists is left alone.
``--dry-run`` prints what it would create or change and writes nothing (``--offline``: without reading Azure).
Then it prints the GitHub secrets and variables to set. Exit 0 done (or dry run), 2 bad flags, 1 Azure refused.
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from claude_foundry._errors import InvalidArgument, UserError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ci", help="set up CI: `ci bootstrap` makes the Azure side of GitHub Actions with OIDC",
                       description=__doc__.split("\n\n")[1] if __doc__ else None)
    cs = p.add_subparsers(dest="ci_command", metavar="SUBCOMMAND")
    cs.required = True
    b = cs.add_parser("bootstrap", help="identities with federated credentials, Pulumi state storage, secrets key, "
                      "least-privilege roles", description=__doc__.split("\n\n")[1] if __doc__ else None)
    b.add_argument("--repo", required=True, metavar="OWNER/REPO", help="the GitHub repository that deploys")
    b.add_argument("--resource-group", required=True, metavar="RG",
                   help="the platform resource group for the identities, state storage and key vault")
    b.add_argument("--location", required=True, metavar="LOCATION", help="Azure region, e.g. eastus2")
    b.add_argument("--environments", default="dev,prod", metavar="ENV,...",
                   help="GitHub environments that deploy (default: dev,prod)")
    b.add_argument("--deploy-resource-group", action="append", default=[], metavar="ENV=RG",
                   help="the stack resource group of an environment (default: resource_group of "
                        "STACKS_DIR/<env>.yaml); repeat per environment")
    b.add_argument("--stacks-dir", default="stacks", metavar="DIR",
                   help="where <env>.yaml stack files are read from (default: stacks)")
    b.add_argument("--identity-name", metavar="NAME",
                   help="base name of the identities: NAME-<env>, NAME-preview (default: id-<repo>-ci)")
    b.add_argument("--storage-account", metavar="NAME",
                   help="state storage account, 3-24 lower-case letters and digits, globally unique "
                        "(default: stpulumi<digest of the repo>)")
    b.add_argument("--container", default="pulumi-state", metavar="NAME",
                   help="state blob container (default: pulumi-state)")
    b.add_argument("--key-vault", metavar="NAME",
                   help="vault of the secrets-provider key, globally unique (default: kv-pulumi-<digest>)")
    b.add_argument("--key-name", default="pulumi-secrets", metavar="NAME",
                   help="the secrets-provider key (default: pulumi-secrets)")
    g = b.add_argument_group("target (default: real Azure with DefaultAzureCredential)")
    g.add_argument("--subscription", metavar="ID", help="Azure subscription id (default: $AZURE_SUBSCRIPTION_ID)")
    g.add_argument("--sandbox", metavar="CONNECTION_FILE", help="the local sandbox instead of Azure")
    b.add_argument("--dry-run", action="store_true", help="read what exists, print what would change, write nothing")
    b.add_argument("--offline", action="store_true",
                   help="with --dry-run: do not read Azure either; list everything as to create")
    b.add_argument("--json", action="store_true", help="print JSON instead of tables")
    b.set_defaults(func=run_bootstrap)


def config_from_args(args: argparse.Namespace) -> Any:
    """A :class:`claude_foundry._ops.bootstrap.BootstrapConfig` from the flags (exit 2 naming a bad one)."""
    from claude_foundry._ops.bootstrap import BootstrapConfig, stack_facts

    envs = tuple(e.strip() for e in args.environments.split(",") if e.strip())
    groups: dict[str, str] = {}
    for value in args.deploy_resource_group:
        env, sep, rg = value.partition("=")
        if not sep or not env.strip() or not rg.strip():
            raise UserError(f"--deploy-resource-group: '{value}' is not ENV=RG")
        if env.strip() not in envs:
            raise UserError(f"--deploy-resource-group: '{env.strip()}' is not one of --environments "
                            f"({', '.join(envs)})")
        groups[env.strip()] = rg.strip()
    from_stacks, protected = stack_facts(args.stacks_dir, tuple(e for e in envs if e not in groups))
    config = BootstrapConfig(
        repo=args.repo, resource_group=args.resource_group, location=args.location, environments=envs,
        deploy_resource_groups={**from_stacks, **groups}, protected=frozenset(protected),
        identity_name=args.identity_name, storage_account=args.storage_account, container=args.container,
        key_vault=args.key_vault, key_name=args.key_name)
    problems = config.problems()
    if problems:
        raise InvalidArgument(*problems)  # worded with the flags (cli.PARAMETER_FLAGS["ci"])
    return config


def run_bootstrap(args: argparse.Namespace) -> int:
    from claude_foundry._ops import bootstrap as ops

    if args.offline and not args.dry_run:
        raise UserError("--offline only goes with --dry-run")
    if args.sandbox and args.subscription:
        raise UserError("--sandbox and --subscription are exclusive")
    config = config_from_args(args)
    if args.offline:
        sub = args.subscription or os.environ.get("AZURE_SUBSCRIPTION_ID") or "<subscription-id>"
        result = ops.plan_bootstrap(config, sub)
        changed: list[ops.Item | ops.Grant] = [*result.items, *result.grants]
        for x in changed:
            x.action = ops.CREATE
    else:
        from claude_foundry.cli._target import resolve_target

        progress = None if args.json else (lambda message: print(f"  ... {message}", flush=True))
        with resolve_target(args) as target:
            result = ops.run_bootstrap(config, target, dry_run=args.dry_run, progress=progress)
    if args.json:
        print(json.dumps(result.to_json(), indent=2, sort_keys=True))
    else:
        print(render(result, offline=args.offline))
    return 0


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    widths[-1] = 0  # the last column runs on

    def line(cells: list[str]) -> str:
        return "  " + "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=False)).rstrip()

    return [line(headers), *(line(r) for r in rows)]


def render(result: Any, *, offline: bool = False) -> str:
    from claude_foundry._azure import arm

    c = result.config
    mode = ("dry run, offline: nothing read or written" if offline
            else "dry run: nothing written" if result.dry_run else "applied")
    out = [f"ci bootstrap of {c.repo} in subscription {result.subscription_id} ({mode})", "", "Resources"]
    out += _table(["ACTION", "KIND", "NAME", "WHY"],
                  [[i.action + (f" ({', '.join(i.differs)})" if i.differs else ""), i.kind, i.name, i.why]
                   for i in result.items])
    out += ["", "Role assignments (least privilege: each identity, only where it needs it)"]
    out += _table(["ACTION", "IDENTITY", "ROLE", "SCOPE", "WHY"],
                  [[g.action, g.identity, arm.CI_ROLE_NAMES[g.role], g.scope_label, g.why] for g in result.grants])
    out += ["", "GitHub secrets and variables (Settings -> Secrets and variables -> Actions)"]
    out += _table(["NAME", "WHERE", "VALUE", "WHAT"], [[r["name"], r["where"], r["value"], r["what"]]
                                                      for r in result.github()])
    out += ["", "Notes", *(f"  - {n}" for n in result.notes()), ""]
    n = result.changes()
    if result.dry_run:
        out.append(f"{n} to create or update" if n else "nothing to change: everything exists")
    else:
        out.append(f"{n} created or updated" if n else "nothing changed: everything existed")
    return "\n".join(out)
