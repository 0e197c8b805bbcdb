"""Library functions return data; the CLI renders it (docs/architecture.md, issue 21 item 4).

The library packages (``ops``, ``client``, ``program``, ``azure``) are read as source (AST) and must not print
(``print(...)``), import Rich, carry Rich markup (``[bold]``, ``[/]``…), take a ``console`` parameter, or raise an
exception whose message names a CLI flag (``--grace``): they name the parameter (``InvalidArgument``), and
``claude_foundry.cli.PARAMETER_FLAGS`` words it as the flag. Exceptions to these rules are listed in ``ALLOWED``
with the reason.
"""

from __future__ import annotations

import argparse
import ast
import re
from pathlib import Path

import pytest

import claude_foundry
from claude_foundry._errors import ArgumentProblem, InvalidArgument, OperationFailed, Parameter, UserError
from claude_foundry.cli import PARAMETER_FLAGS, build_parser, error_text, exit_code, main

SRC = Path(claude_foundry.__file__).parent
LIBRARY = ("_ops", "_client", "program", "_azure")
#: Rich's style tags as they appear in markup: ``[bold]``, ``[green]``, ``[/]``, ``[dim]— ...``.
MARKUP = re.compile(r"\[/\]|\[/?(?:bold|dim|italic|underline|reverse|blink|strike|green|red|yellow|blue|magenta|"
                    r"cyan|white|black)\b[^\]]*\]")
#: A CLI flag at the start of a message or after a space, quote, backquote or parenthesis: ``--grace``.
FLAG = re.compile(r"(?:^|[\s'\"`(])--[a-z][a-z0-9-]*")

#: (path relative to ``src/claude_foundry``, rule) -> why it is allowed. A message naming a parameter builds it
#: from parts (``errors.Parameter``) and the CLI words it with ``PARAMETER_FLAGS``, as rotate and bootstrap do.
ALLOWED: dict[tuple[str, str], str] = {
    ("_azure/target.py", "flag"): "a missing sandbox connection file names the command that writes one "
                                 "(`claude-foundry sandbox --connection-file FILE`): another command's flag, the "
                                 "same words for a library caller (sandboxes are started from the CLI), not a "
                                 "parameter of the call that failed",
}

def _strings(node: ast.AST) -> list[str]:
    """The literal text of every string in ``node`` (f-strings: their constant parts)."""
    return [n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def problems_in(source: str) -> list[tuple[int, str, str]]:
    """(line, rule, what) for each breach of the rules in one module's source."""
    tree = ast.parse(source)
    out: list[tuple[int, str, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print":
            out.append((node.lineno, "print", "print(...)"))
        elif isinstance(node, ast.Import):
            out += [(node.lineno, "rich", a.name) for a in node.names if a.name.split(".")[0] == "rich"]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "rich":
            out.append((node.lineno, "rich", node.module or ""))
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            params = [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]
            out += [(node.lineno, "console", f"{node.name}({a.arg})") for a in params if a.arg == "console"]
        elif isinstance(node, ast.Raise) and node.exc is not None:
            out += [(node.lineno, "flag", text) for text in _strings(node.exc) if FLAG.search(text)]
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and MARKUP.search(node.value):
            out.append((node.lineno, "markup", node.value[:60]))
    return out


def _modules() -> list[Path]:
    return sorted(p for package in LIBRARY for p in (SRC / package).rglob("*.py"))


def test_the_scan_reads_every_library_package() -> None:
    modules = _modules()
    for package in LIBRARY:
        assert any(p.parent == SRC / package for p in modules), package
    assert SRC / "_ops" / "rotate.py" in modules


def test_library_modules_return_data_and_leave_printing_to_the_cli() -> None:
    found, used = [], set()
    for path in _modules():
        rel = path.relative_to(SRC).as_posix()
        for line, rule, what in problems_in(path.read_text(encoding="utf-8")):
            if (rel, rule) in ALLOWED:
                used.add((rel, rule))
            else:
                found.append(f"{rel}:{line}: {rule}: {what}")
    assert not found, "\n".join(found)
    assert used == set(ALLOWED), f"no longer needed, drop from ALLOWED: {set(ALLOWED) - used}"


@pytest.mark.parametrize(("source", "rule"), [
    ("print('x')", "print"),
    ("import rich.console", "rich"),
    ("from rich.table import Table", "rich"),
    ("def render(self, console): pass", "console"),
    ("def f(*, console=None): pass", "console"),
    ("x = f'[bold]rotation {n}[/] of'", "markup"),  # two parts, each markup: listed once per part
    ("x = '  [dim]waiting'", "markup"),
    ("raise UserError(f'--grace must be finite, not {g!r}')", "flag"),
    ("raise OperationFailed(f'break it: claude-foundry rotate-keys {f} --break-lease')", "flag"),
    ("raise UserError('\\n'.join(['--repo: bad']))", "flag"),
])
def test_the_scan_catches_each_rule(source: str, rule: str) -> None:
    assert {r for _, r, _ in problems_in(source)} == {rule}


@pytest.mark.parametrize("source", [
    "raise InvalidArgument(ArgumentProblem('grace', ' must be a finite number'))",
    "raise UserError('rotate them in groups (a-b--c is a name)')",
    "x = {'fix': 'az keyvault recover --name kv'}",  # a command to run, not raised, not our flag
    "x = 'deployments[0]'",
    "raise OperationFailed('raise the timeout (', Parameter('vault_timeout'), ')')",
])
def test_the_scan_leaves_data_alone(source: str) -> None:
    assert problems_in(source) == []


# --- the CLI words parameters as flags ------------------------------------------------------------------------


def _options(parser: argparse.ArgumentParser, command: str) -> set[str]:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))  # argparse has no public walk
    found = sub.choices[command]
    options: set[str] = set()
    stack = [found]
    while stack:
        p = stack.pop()
        for action in p._actions:
            options.update(action.option_strings)
            if isinstance(action, argparse._SubParsersAction):
                stack.extend(action.choices.values())
    return options


def test_every_flag_in_the_table_is_a_flag_of_its_command() -> None:
    parser = build_parser()
    for command, flags in PARAMETER_FLAGS.items():
        assert set(flags.values()) <= _options(parser, command), command


def test_every_field_bootstrap_validates_has_its_flag() -> None:
    from claude_foundry._ops import bootstrap

    fields = {*bootstrap._RULES, "deploy_resource_groups"}
    assert fields <= set(PARAMETER_FLAGS["ci"])
    assert fields <= {f.name for f in bootstrap.BootstrapConfig.__dataclass_fields__.values()}


def test_an_invalid_argument_names_the_parameter_and_the_cli_the_flag() -> None:
    exc = InvalidArgument(ArgumentProblem("grace", " must be a finite number of seconds >= 0, not nan"),
                          ArgumentProblem("accounts", "", before="rotate them in groups with "))
    assert str(exc) == "grace must be a finite number of seconds >= 0, not nan\nrotate them in groups with accounts"
    assert error_text(exc, "rotate-keys") == ("--grace must be a finite number of seconds >= 0, not nan\n"
                                              "rotate them in groups with --account")
    assert error_text(exc, "validate") == str(exc)  # a command without the parameter: the library's words
    assert error_text(UserError("plain"), "rotate-keys") == "plain"
    assert isinstance(exc, UserError)


def test_a_message_naming_a_parameter_says_the_flag_through_the_cli() -> None:
    exc = OperationFailed("Key Vault https://kv did not answer within 2s: raise the Key Vault timeout (",
                          Parameter("vault_timeout"), ")")
    assert str(exc) == "Key Vault https://kv did not answer within 2s: raise the Key Vault timeout (vault_timeout)"
    assert error_text(exc, "smoke") == ("Key Vault https://kv did not answer within 2s: raise the Key Vault "
                                        "timeout (--vault-timeout)")
    assert error_text(exc, "validate") == str(exc)  # a command without the flag: the library's words
    assert exit_code(exc) == 1  # still an operation that failed
    said = UserError("no key: pass ", Parameter("auth", said='auth="entra"'), " to use a token")
    assert str(said) == 'no key: pass auth="entra" to use a token'
    assert error_text(said, "smoke") == "no key: pass --entra to use a token"
    assert said.parts[1] == Parameter("auth", said='auth="entra"')
    assert UserError("plain").naming({"plain": "--plain"}) == "plain"


class _Unfinished:
    """An SDK poller whose operation is still running when the wait is over."""

    def result(self, timeout: float) -> None:
        return None

    def done(self) -> bool:
        return False


class _ForbiddenByRbac(Exception):
    status_code = 403

    def __str__(self) -> str:
        return "(Forbidden) Caller is not authorized. Code: ForbiddenByRbac"


def _no_subscription() -> None:
    from claude_foundry._azure.target import azure_target

    azure_target(None)


def _operation_unfinished() -> None:
    from claude_foundry._azure.caller import wait_for

    wait_for(_Unfinished(), "deployment d", 5)


@pytest.mark.parametrize(("make", "command", "library", "cli"), [
    (_no_subscription, "preflight",
     "no subscription: pass subscription_id or set AZURE_SUBSCRIPTION_ID",
     "no subscription: pass --subscription or set AZURE_SUBSCRIPTION_ID"),
    (_operation_unfinished, "up",
     "deployment d did not finish within 5 s (operation_timeout); it may still be running in ARM",
     "deployment d did not finish within 5 s (--operation-timeout); it may still be running in ARM"),
])
def test_azure_hints_name_the_parameter_and_the_cli_the_flag(make, command: str, library: str, cli: str,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AZURE_SUBSCRIPTION_ID", "ARM_SUBSCRIPTION_ID"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(UserError) as caught:
        make()
    assert library in str(caught.value)
    assert "--" not in str(caught.value)
    assert cli in error_text(caught.value, command)


def test_a_vault_denial_after_waiting_names_the_role_propagation_bound() -> None:
    from claude_foundry._client.targets import _vault_error

    exc = _vault_error("https://kv.vault.azure.net", _ForbiddenByRbac(), waited=30)
    assert str(exc).endswith("still denied after waiting 30s, raise role_propagation_timeout if the assignment is "
                             "that new)")
    assert error_text(exc, "smoke").endswith("raise --role-propagation-timeout if the assignment is that new)")
    assert str(_vault_error("https://kv.vault.azure.net", _ForbiddenByRbac())).endswith(
        "(access.secret_readers; role assignments take minutes to apply)")


def _named_parameters() -> set[str]:
    """Every ``Parameter("name", ...)`` the library packages build."""
    found = set()
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Parameter" \
                    and node.args and isinstance(node.args[0], ast.Constant):
                found.add(node.args[0].value)
    return found


def test_every_parameter_a_message_names_has_a_flag() -> None:
    named = _named_parameters()
    assert {"vault_timeout", "operation_timeout", "subscription_id", "vault_url"} <= named
    flagged = {p for flags in PARAMETER_FLAGS.values() for p in flags}
    assert named <= flagged, f"no command says these as a flag: {named - flagged}"


def test_bootstrap_refuses_by_field_and_the_cli_says_the_flag(capsys: pytest.CaptureFixture[str]) -> None:
    from claude_foundry._ops.bootstrap import BootstrapConfig, plan_bootstrap

    config = BootstrapConfig("o/r", "rg", "eastus2", ("dev",), {"dev": "rg-dev."}, key_vault="1kv")
    with pytest.raises(InvalidArgument) as exc:
        plan_bootstrap(config, "00000000-0000-0000-0000-000000000000")
    assert [p.parameter for p in exc.value.problems] == ["key_vault", "deploy_resource_groups"]
    assert "--" not in str(exc.value)
    code = main(["ci", "bootstrap", "--repo", "o/r", "--resource-group", "rg", "--location", "eastus2",
                 "--environments", "dev", "--deploy-resource-group", "dev=rg-dev.", "--key-vault", "1kv",
                 "--dry-run", "--offline"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: --key-vault: '1kv' is not allowed (")
    assert "\n--deploy-resource-group: 'rg-dev.' of environment 'dev' is not allowed (" in err


def test_rotation_events_render_as_the_cli_lines() -> None:
    """Each kind of event is a line of its own (the e2e golden test holds the text of real runs; this one the kinds
    a run rarely shows, and that no kind falls through to the plain fallback)."""
    from claude_foundry._ops import rotate as r
    from claude_foundry.cli._rotate_keys import event_line

    stale = r.RotationEvent(r.RUN_STALE, rotation_id="run-1", when="2026-01-01T00:00:00Z",
                            seconds=r.RUN_RESUME_WINDOW)
    assert event_line(stale) == ("[yellow]the unfinished rotation run run-1 was last updated 2026-01-01T00:00:00Z, "
                                 "over 7 days ago: starting a new run[/]")
    warning = r.RotationWarning("broke the rotation lease of [red]someone[/]", "break_lease")
    assert warning == "broke the rotation lease of [red]someone[/] (break_lease)"  # the library's words
    line = event_line(r.RotationEvent(r.WARNING, warning=warning))
    assert line.endswith(" (--break-lease)[/]")
    assert "\\[red]" in line  # a holder's name is data, never markup
    kinds = [r.RUN_START, r.RUN_CONTINUE, r.RUN_STALE, r.START, r.RESUME, r.STEP, r.WAIT_GRACE, r.WAIT_REREAD,
             r.STOPPED, r.DONE]
    for kind in kinds:
        assert not event_line(r.RotationEvent(kind, accounts=("a", "b"))).startswith(f"{kind}:"), kind
