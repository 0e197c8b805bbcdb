"""``claude-foundry``: thin commands over the library.

Each command lives in ``claude_foundry.cli.<name>`` with ``register(subparsers)``; a command's heavy
imports (Pulumi, the sandbox) happen inside its ``run`` so that ``claude-foundry validate`` stays fast and
the core install (``pip install claude-foundry``) can run the commands that need no extra.

A command that needs an extra (:data:`COMMAND_EXTRAS`) is checked before it runs: when a module that extra
brings is missing, it exits 2 naming ``pip install 'claude-foundry[<extra>]'``. Any other missing third-party
module a command trips over ends the same way (never a traceback).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from collections.abc import Sequence

from claude_foundry import __version__
from claude_foundry._errors import ExtraMissing, OperationFailed, UserError
from claude_foundry._errors import install_hint as install_hint  # the CLI's too (doctor, lifecycle, scripts)

#: Command modules, in the order ``--help`` lists them.
COMMANDS = (
    "validate",
    "plan",
    "sandbox",
    "up",
    "down",
    "smoke",
    "env",
    "demo",
    "doctor",
    "preflight",
    "verify",
    "usage",
    "rotate_keys",
    "migrate",
    "catalogue",
    "lifecycle",
    "ci",
    "init",
    "schema",
    "completion",
)

#: What each extra of pyproject.toml brings that the commands import (the import names probed before a command
#: runs). Keep in step with ``[project.optional-dependencies]``; tests/unit/test_extras.py checks it.
#: ``yaml`` (pyyaml) reads stack files: [cli] brings it, so every operator extra does; the core install lacks it.
EXTRA_MODULES: dict[str, tuple[str, ...]] = {
    "cli": ("rich", "shtab", "yaml"),
    "infra": ("rich", "yaml", "pulumi", "pulumi_azure_native"),
    "ops": ("rich", "yaml", "pulumi", "pulumi_azure_native", "azure.mgmt.resource", "azure.mgmt.cognitiveservices",
            "azure.mgmt.monitor", "azure.mgmt.costmanagement", "matplotlib"),
    "sandbox": ("rich", "yaml", "claude_foundry_sandbox", "starlette", "uvicorn", "cryptography",
                "azure.mgmt.resource", "azure.mgmt.cognitiveservices"),
}

#: The extras each command needs beyond the core install (a command not listed needs only the core).
#: doctor needs only the core (it reports which extras are missing; its eligibility step is skipped without [ops]);
#: validate, lifecycle and init read stack files (YAML: [cli]); preflight/verify/rotate-keys plan the stack
#: in-process under Pulumi mocks, hence [ops] includes [infra]; up/down/demo apply that plan to the sandbox.
COMMAND_EXTRAS: dict[str, tuple[str, ...]] = {
    "validate": ("cli",),
    "lifecycle": ("cli",),
    "init": ("cli",),
    "plan": ("infra",),
    "sandbox": ("sandbox",),
    "up": ("infra", "sandbox"),
    "down": ("infra", "sandbox"),
    "demo": ("infra", "sandbox"),
    "preflight": ("ops",),
    "verify": ("ops",),
    "usage": ("ops",),
    "rotate_keys": ("ops",),
    "migrate": ("ops",),
    "ci": ("ops",),
    "completion": ("cli",),
}


#: What a subcommand or flag of a core command needs: ``(command, word) -> extras``. A flag reads Azure's live
#: models list through the management SDKs, or a stack file (``--stack``: YAML); it is checked before the command
#: runs, as the command's own extras are. ``catalogue refresh`` needs [ops] only when it reads Azure (not with
#: ``--from-json``): a missing module ends in the same message where it is imported. tests/unit/test_extras.py
#: holds workflows to the table.
OPTION_EXTRAS: dict[tuple[str, str], tuple[str, ...]] = {
    ("catalogue", "refresh"): ("ops",),
    ("lifecycle", "--subscription"): ("ops",),
    ("lifecycle", "--sandbox"): ("ops",),
    ("smoke", "--stack"): ("cli",),
    ("env", "--stack"): ("cli",),
    ("usage", "--local"): ("ops", "sandbox"),  # the embedded sandbox on a local rehearsal's state directory
}


def _importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # a parent package missing, or a module blocked in sys.modules
        return False


def missing_modules(extras: Sequence[str]) -> list[str]:
    """The import names of ``extras`` that this install lacks, in a stable order."""
    wanted = dict.fromkeys(m for e in extras for m in EXTRA_MODULES.get(e, ()))
    return [m for m in wanted if not _importable(m)]


def _extra_of(module: str) -> tuple[str, ...]:
    """The smallest extra that brings ``module`` (a dotted import name), or () when none does."""
    for extra, modules in EXTRA_MODULES.items():  # ordered smallest first
        for m in modules:
            if module == m or module.startswith(m + ".") or ("." in module and m.startswith(module + ".")):
                return (extra,)
    return ()


def _needs(command: str, extras: Sequence[str], missing: str) -> str:
    return str(ExtraMissing(f"`claude-foundry {command}`", extras, missing))


def require_extras(command: str, args: argparse.Namespace | None = None) -> None:
    """Raise :class:`ExtraMissing` (exit 2) naming the extra to install when ``command`` needs one that is not
    (fully) installed, or one of its flags given in ``args`` does (:data:`OPTION_EXTRAS`)."""
    extras = COMMAND_EXTRAS.get(command.replace("-", "_"), ())
    missing = missing_modules(extras)
    if missing:
        raise ExtraMissing(f"`claude-foundry {command}`", extras, ", ".join(missing))
    for (name, word), needed in OPTION_EXTRAS.items():
        if name != command or not word.startswith("--") or not getattr(args, word[2:].replace("-", "_"), None):
            continue
        missing = missing_modules(needed)
        if missing:
            raise ExtraMissing(f"`claude-foundry {command} {word}`", needed, ", ".join(missing))


def _missing_module_message(command: str, exc: ModuleNotFoundError) -> str:
    name = exc.name or "a module"
    return _needs(command, COMMAND_EXTRAS.get(command.replace("-", "_"), ()) or _extra_of(name), name)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="claude-foundry",
        description="Claude on Microsoft Foundry as infrastructure as code: validate, plan, deploy "
        "(pulumi up, or a local rehearsal against the embedded sandbox), smoke-test and operate.",
    )
    parser.add_argument("--version", action="version", version=f"claude-foundry {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMANDS:
        importlib.import_module(f"claude_foundry.cli._{name}").register(sub)
    return parser


#: ``azure.target.azure_target``'s ``subscription_id``: ``--subscription`` of every command that takes it.
_SUBSCRIPTION = {"subscription_id": "--subscription"}
#: ``azure.caller.wait_for``'s bound on an ARM long-running operation.
_OPERATION_TIMEOUT = {"operation_timeout": "--operation-timeout"}

#: The one table from library parameters to flags, per command: the library names the parameter of an argument it
#: refuses (:class:`~claude_foundry._errors.InvalidArgument`, ``ops.rotate.RotationWarning``) or that a message
#: names (:class:`~claude_foundry._errors.Parameter`: a bound to raise, a target to choose), the CLI says the flag.
PARAMETER_FLAGS: dict[str, dict[str, str]] = {
    "rotate-keys": {"grace": "--grace", "accounts": "--account", "stop_after": "--stop-after",
                    "break_lease": "--break-lease", **_SUBSCRIPTION},
    "migrate": {"drain": "--drain", "accounts": "--account", **_SUBSCRIPTION, **_OPERATION_TIMEOUT},
    "usage": {"since": "--since", "until": "--until", "chart": "--chart", "format": "--format", **_SUBSCRIPTION},
    "ci": {"repo": "--repo", "resource_group": "--resource-group", "location": "--location",
           "environments": "--environments", "deploy_resource_groups": "--deploy-resource-group",
           "identity_name": "--identity-name", "storage_account": "--storage-account", "container": "--container",
           "key_vault": "--key-vault", "key_name": "--key-name", **_SUBSCRIPTION},
    # client.targets.RuntimeTarget's fields and resolve_runtime's bounds (the Key Vault reads, a fresh role)
    "smoke": {"vault_url": "--vault-url", "base_url": "--base-url", "resource": "--resource",
              "contract_file": "--contract", "deployments": "--deployments", "auth": "--entra",
              "vault_timeout": "--vault-timeout", "role_propagation_timeout": "--role-propagation-timeout"},
    "env": {"vault_url": "--vault-url", "vault_timeout": "--vault-timeout"},
    "up": _OPERATION_TIMEOUT, "down": _OPERATION_TIMEOUT, "demo": _OPERATION_TIMEOUT,
    **dict.fromkeys(("doctor", "preflight", "verify", "catalogue", "lifecycle"), _SUBSCRIPTION),
}


def error_text(exc: UserError, command: str | None) -> str:
    """How the CLI words an error of ``command``: each parameter the library's words name (an argument it refuses,
    a bound to raise) called by its flag."""
    return exc.naming(PARAMETER_FLAGS.get(command or "", {}))


def exit_code(exc: UserError) -> int:
    """The exit code of an error the CLI reports (the one place exit codes are decided): 1 when an operation or
    check against Azure failed, 2 for a mistake the user can fix."""
    return 1 if isinstance(exc, OperationFailed) else 2


def main(argv: Sequence[str] | None = None) -> int:
    from claude_foundry._client._redact import install_log_redaction

    install_log_redaction()  # keys and tokens never reach a log line, whatever ANTHROPIC_LOG or logging says
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        require_extras(args.command, args)
        return int(args.func(args) or 0)
    except UserError as exc:
        print(f"error: {error_text(exc, args.command)}", file=sys.stderr)
        return exit_code(exc)
    except ModuleNotFoundError as exc:  # a module an extra brings (or a broken install): name what to install
        if not exc.name or exc.name.split(".")[0] == "claude_foundry":
            raise  # our own module missing is a bug, not an install to fix
        print(f"error: {_missing_module_message(args.command, exc)}", file=sys.stderr)
        return 2
    except Exception as exc:  # Azure SDK errors reach here as words, not tracebacks
        from claude_foundry._azure.errors import describe_azure

        message = describe_azure(exc)
        if message is None:
            raise
        print(f"error: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
