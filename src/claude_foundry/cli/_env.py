"""``claude-foundry env``: print (or write) the variables that point the SDK and Claude Code at a stack."""

from __future__ import annotations

import argparse
import os
import sys

from claude_foundry.cli._smoke import MAX_SECONDS, add_target_arguments
from claude_foundry.cli._target import bounded


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "env", help="export the stack's endpoint and deployment names as environment variables",
        description="Read the stack's contract from Key Vault and print ANTHROPIC_FOUNDRY_RESOURCE (or "
                    "ANTHROPIC_FOUNDRY_BASE_URL), CLAUDE_FOUNDRY_BASE_URL (the endpoint's base URL for clients "
                    "that take a URL: LiteLLM, LangChain, the Vercel AI SDK, curl), CLAUDE_CODE_USE_FOUNDRY=1 and "
                    "ANTHROPIC_DEFAULT_*_MODEL pinned to this stack's deployments, each with "
                    "_SUPPORTED_CAPABILITIES from the catalogue (what the model behind the deployment takes), "
                    "_NAME and _DESCRIPTION. With --sandbox (or --ca-bundle): NODE_EXTRA_CA_CERTS, and "
                    "SSL_CERT_FILE / REQUESTS_CA_BUNDLE naming a bundle of the system CAs plus the sandbox CA. "
                    "The key only with --with-key; never with Entra ID stacks.")
    add_target_arguments(p, full=False)
    p.add_argument("--deployment", metavar="NAME",
                   help="pin this deployment for its model family (default: newest model, then name)")
    p.add_argument("--account", metavar="NAME",
                   help="in a stack with several accounts (accounts:), point at this one (default: primary, the "
                        "stack's foundry:); the SDK and Claude Code take one endpoint")
    p.add_argument("--format", choices=("sh", "dotenv", "json", "claude-code", "claude-code-managed"),
                   help="sh (export lines, default), dotenv, json (the public contract + variables), "
                        "claude-code (a settings.json {\"env\": ...} block for .claude/settings.json), or "
                        "claude-code-managed (Claude Code's managed-settings.json for a whole team: Foundry, model "
                        "pins, capabilities, no credential — developers sign in with Entra ID; install it at "
                        "/etc/claude-code/, /Library/Application Support/ClaudeCode/ or "
                        "C:\\Program Files\\ClaudeCode\\, see docs/claude-code.md)")
    p.add_argument("--with-key", action="store_true",
                   help="include ANTHROPIC_FOUNDRY_API_KEY (key-auth stacks only; prefer --write)")
    p.add_argument("--write", metavar="FILE",
                   help="write to FILE (owner-only, 0600, atomically) instead of stdout; default format dotenv")
    p.add_argument("--vault-timeout", type=bounded(float, 0.1, MAX_SECONDS, "seconds"), default=None, metavar="S",
                   help="bound of each Key Vault secret read of the contract, retries included (the runtime's "
                        "default, 30 s)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from claude_foundry import _contract as c
    from claude_foundry._client import envexport
    from claude_foundry._errors import UserError
    from claude_foundry.cli._smoke import build_runtime

    if not args.vault_url and not args.stack and not os.environ.get(c.ENV_VAULT_URL):
        raise UserError(f"pass --vault-url URL or --stack STACK_FILE (or set {c.ENV_VAULT_URL})")
    fmt = args.format or ("dotenv" if args.write else "sh")
    if fmt == "claude-code" and args.with_key and not args.write:
        raise UserError("--format claude-code --with-key writes the key into a settings file: add --write FILE "
                        "(owner-only, e.g. .claude/settings.local.json, which Claude Code keeps out of git), or "
                        "leave the key out (Entra ID: ANTHROPIC_FOUNDRY_AUTH_TOKEN)")
    if fmt == "claude-code-managed" and args.with_key:
        raise UserError("--format claude-code-managed never holds a key: managed settings are read by every user of "
                        "a machine; developers sign in with Entra ID (az login, or ANTHROPIC_FOUNDRY_AUTH_TOKEN). "
                        "Leave out --with-key")
    if fmt == "json" and args.with_key:
        raise UserError("--format json is the public contract and never holds the key; use --format dotenv "
                        "--with-key --write FILE")
    # Entra auth for the runtime means: no key needed to build it; the contract still carries the key if any.
    runtime, _ = build_runtime(args, auth="entra",
                               **({} if args.vault_timeout is None else {"vault_timeout": args.vault_timeout}))
    stack = runtime.stack
    try:
        contract = stack.account(args.account) if args.account else runtime.contract
    except KeyError as exc:
        raise UserError(str(exc.args[0])) from None
    if len(stack.accounts) > 1:
        others = ", ".join(f"{a.account} ({a.region or a.resource})" for a in stack.accounts
                           if a.account != contract.account)
        print(f"note: this stack has {len(stack.accounts)} accounts; these variables point at {contract.account} "
              f"({contract.region or contract.resource}). Others: {others} (--account NAME; FailoverRuntime uses "
              "them all)", file=sys.stderr)
    if args.with_key and (contract.auth_mode == c.AUTH_MODE_ENTRA or not contract.api_key):
        print("note: this stack uses Entra ID (no key in Key Vault); nothing secret is exported — Claude Code "
              "and the SDK authenticate with your Azure credential", file=sys.stderr)
    ca_bundle = getattr(runtime, "ca_bundle", None)  # set only for the local sandbox (--sandbox, --ca-bundle)
    combined = None
    if ca_bundle:
        try:
            combined = envexport.write_combined_bundle(ca_bundle)
        except OSError as exc:
            raise UserError(f"cannot write the combined CA bundle beside {ca_bundle}: "
                            f"{exc.strerror or type(exc).__name__}") from None
    try:
        variables = envexport.env_vars(contract, deployment=args.deployment, with_key=args.with_key,
                                       ca_bundle=ca_bundle, combined_bundle=combined)
    except envexport.EnvExportError as exc:
        raise UserError(str(exc)) from None
    text = envexport.render_contract_json(contract, variables, stack) if fmt == "json" \
        else envexport.render(variables, fmt)
    if args.write:
        try:
            path = envexport.write_private(args.write, text)
        except OSError as exc:
            raise UserError(f"cannot write {args.write}: {exc.strerror or type(exc).__name__}") from None
        names = ", ".join(k for k in variables if k != c.ENV_API_KEY)
        extra = " and the key" if c.ENV_API_KEY in variables else ""
        print(f"wrote {path} (mode 0600): {names}{extra}", file=sys.stderr)
        return 0
    sys.stdout.write(text)
    return 0
