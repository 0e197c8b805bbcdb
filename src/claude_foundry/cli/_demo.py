"""``claude-foundry demo``: the whole chain on the embedded local sandbox, in one command.

Start the sandbox, ``up --local`` the stack (default ``stacks/dev.yaml``), read the contract back from its
Key Vault through the runtime, smoke-test every deployment, print the report, stop. No Azure needed.

The sandbox's state (what was deployed, and the traffic the smoke test made) stays in a per-user state directory
(``--state-dir``, default :func:`~claude_foundry.cli._local.demo_state_dir`), so a second demo finds its
resources in place (nothing to change) and ``claude-foundry usage STACK --local --state-dir DIR`` (the last line
the demo prints) reports the smoke's tokens and cost.
"""

from __future__ import annotations

import argparse
import os
import shlex
import time
from pathlib import Path

from claude_foundry.cli._target import add_operation_timeout


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="deploy -> Key Vault -> smoke, all on the embedded local sandbox",
                       description="Run the whole chain on the embedded local sandbox: start it, deploy the "
                       "stack to it (the same Pulumi program, applied locally), read the contract back from "
                       "its Key Vault through the runtime, smoke-test every deployment, stop. A local "
                       "rehearsal: `pulumi up` against Azure is the real path.")
    p.add_argument("stack_file", nargs="?", metavar="STACK_FILE",
                   help="default: stacks/dev.yaml, or the packaged example stack outside this repository")
    p.add_argument("--report-json", type=Path, help="write the smoke report as JSON")
    p.add_argument("--report-junit", type=Path, help="write the smoke report as JUnit XML")
    p.add_argument("--stream", action="store_true", help="also smoke-test a streaming call per deployment")
    p.add_argument("--state-dir", type=Path, default=None,
                   help="where the embedded sandbox and the local deploy state are kept between runs (default: "
                        "$XDG_STATE_HOME/claude-foundry/demo, i.e. ~/.local/state/claude-foundry/demo; never the "
                        "current directory); `usage STACK --local --state-dir DIR` reads the smoke's usage there")
    add_operation_timeout(p)
    p.set_defaults(func=run)


def default_stack() -> str:
    """stacks/dev.yaml in a checkout; else the example stack shipped in the package."""
    from importlib import resources

    if Path("stacks/dev.yaml").is_file():
        return "stacks/dev.yaml"
    return str(resources.files("claude_foundry").joinpath("data/example-stack.yaml"))


def run(args: argparse.Namespace) -> int:
    from claude_foundry._azure.target import sandbox_target
    from claude_foundry._client.runtime import FoundryRuntime
    from claude_foundry._client.smoke import run_smoke
    from claude_foundry._rehearse import up_local
    from claude_foundry.cli import OPTION_EXTRAS, install_hint, missing_modules
    from claude_foundry.cli._local import LOCAL_NOTE, demo_state_dir, embedded_sandbox, make_reporter, print_result
    from claude_foundry.cli._smoke import render_report
    from claude_foundry.cli._ui import make_console
    from claude_foundry.program.spec import load_spec

    started = time.monotonic()
    stack_file = args.stack_file or default_stack()
    spec = load_spec(stack_file)
    console = make_console()
    console.print(f"[bold]{LOCAL_NOTE}[/]")
    state_dir: Path = args.state_dir or demo_state_dir()
    with embedded_sandbox(state_dir, console) as connection, sandbox_target(connection) as target:
        console.rule(f"1/3 deploy {stack_file} (up --local)")
        reporter = make_reporter(console)
        with reporter.live("applying to the sandbox"):
            deploy = up_local(spec, target, state_dir=state_dir, report=reporter,
                              operation_timeout=args.operation_timeout)
        print_result(console, deploy.result, "up")
        if not deploy.result.ok or not deploy.vault_url:
            return 1
        console.rule("2/3 read the contract from Key Vault (runtime)")
        with FoundryRuntime.from_key_vault(deploy.vault_url, prefix=deploy.secret_prefix,
                                           credential=target.credential, ca_bundle=target.ca_bundle,
                                           use_cache=False) as runtime:
            console.print(f"vault        {deploy.vault_url}")
            console.print(f"endpoint     {runtime.base_url}")
            console.print(f"auth         {runtime.auth}")
            console.print("deployments  " + ", ".join(f"{n} → {d.model}" for n, d in runtime.deployments.items()))
            for other in runtime.stack.accounts[1:]:  # contract version 2: the stack's other accounts
                console.print(f"and account  {other.account} ({other.region}): {other.base_url}, "
                              + ", ".join(sorted(other.deployments)))
            console.rule("3/3 smoke-test every deployment")
            report = run_smoke(runtime, stream=args.stream)
        render_report(report, console)
        if args.report_json:
            report.write_json(args.report_json)
        if args.report_junit:
            report.write_junit(args.report_junit)
    verdict = "[green]demo passed[/]" if report.passed else "[red]demo failed[/]"
    console.print(f"{verdict} in {time.monotonic() - started:.1f}s: {report.summary()}")
    from claude_foundry._catalogue import ENV_CATALOGUE, load_catalogue

    # the models above were judged against this catalogue: say how old it is (`lifecycle` reports the dates)
    console.print(f"catalogue    {os.environ.get(ENV_CATALOGUE) or 'bundled'}, {load_catalogue().age_words()}",
                  soft_wrap=True)
    # the next step, exactly: the smoke's tokens and cost per deployment, read back from the sandbox kept above
    extras = OPTION_EXTRAS[("usage", "--local")]
    if missing_modules(extras):
        console.print(f"usage needs  {install_hint(extras)}", markup=False, highlight=False, soft_wrap=True)
    console.print("next         " + shlex.join(["claude-foundry", "usage", stack_file, "--local", "--state-dir",
                                                str(state_dir)]), markup=False, highlight=False, soft_wrap=True)
    return 0 if report.passed else 1
