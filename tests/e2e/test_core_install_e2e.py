"""The core install (``pip install claude-foundry``: no pyyaml, no extra) against the sandbox: the runtime, smoke
(against Key Vault, the environment and a contract file), env export, ``schema`` and ``doctor`` work; what reads a
stack file exits 2 naming ``[cli]``, and the library's ``load_spec`` raises one ``UserError`` saying the same.

Each command runs in a fresh interpreter whose import system refuses pyyaml and every module an extra brings (as
if they were not installed), so nothing this process imported earlier can hide a module-level ``import yaml``.
tests/unit/test_extras.py holds the same commands in-process; scripts/bench_install.py checks a real core install.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from seeding import MODELS, seed_stack

from claude_foundry import _contract as c

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("clean_runtime_env")]

ROOT = Path(__file__).resolve().parents[2]
STACK = "stacks/dev.yaml"

#: What the core install lacks: pyyaml ([cli]) and every module an extra brings (cli.EXTRA_MODULES).
ABSENT = ("yaml", "rich", "shtab", "pulumi", "pulumi_azure_native", "azure.mgmt", "starlette", "uvicorn",
          "claude_foundry_sandbox")

#: A fresh interpreter with ABSENT unimportable; then ``claude-foundry ARGS`` (or ``--python CODE``), and a check
#: that no absent module got imported on the way.
DRIVER = """
import importlib.abc, sys
ABSENT = tuple(sys.argv[1].split(","))

class Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        if any(fullname == n or fullname.startswith(n + ".") for n in ABSENT):
            raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)
        return None

sys.meta_path.insert(0, Absent())
if sys.argv[2] == "--python":
    exec(sys.argv[3])
    code = 0
else:
    from claude_foundry.cli import main
    code = main(sys.argv[2:])
loaded = sorted(m for m in sys.modules if any(m == n or m.startswith(n + ".") for n in ABSENT))
assert not loaded, loaded
sys.exit(code)
"""


def core(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``claude-foundry ARGV`` as on the core install (cwd: the repository, for its stack files)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "CLAUDE_FOUNDRY_"))}
    result = subprocess.run([sys.executable, "-c", DRIVER, ",".join(ABSENT), *argv], cwd=ROOT,  # noqa: S603
                            env={**base, **(env or {})}, capture_output=True, text=True, timeout=180, check=False)
    assert "Traceback" not in result.stderr, result.stderr
    return result


@pytest.fixture(scope="module")
def stack(sandbox: Any, credential: Any) -> Any:
    return seed_stack(sandbox, credential, {"sonnet": MODELS["sonnet"], "haiku": MODELS["haiku"]}, prefix="cf-core")


def test_smoke_and_env_from_key_vault(stack: Any, conn_file: str, tmp_path: Path) -> None:
    vault = ["--vault-url", stack.vault_url, "--prefix", stack.prefix, "--sandbox", conn_file]
    result = core("smoke", *vault)
    assert result.returncode == 0, result.stderr
    assert "2/2 deployments passed" in result.stdout
    result = core("env", *vault)
    assert result.returncode == 0, result.stderr
    assert "export ANTHROPIC_DEFAULT_HAIKU_MODEL=haiku" in result.stdout
    assert stack.current_key() not in result.stdout + result.stderr


def test_smoke_from_a_contract_file_and_from_the_environment(stack: Any, conn_file: str, tmp_path: Path) -> None:
    ca = stack.sandbox.connection["ca_bundle"]
    exported = core("env", "--vault-url", stack.vault_url, "--prefix", stack.prefix, "--sandbox", conn_file,
                    "--format", "json")
    assert exported.returncode == 0, exported.stderr
    contract = tmp_path / "contract.json"
    contract.write_text(exported.stdout, encoding="utf-8")
    key = {c.ENV_API_KEY: stack.current_key()}
    result = core("smoke", "--contract", str(contract), "--ca-bundle", ca, "-q", env=key)
    assert result.returncode == 0, result.stderr
    assert "2/2 deployments passed" in result.stdout
    result = core("smoke", "--base-url", stack.base_url, "--deployments", "haiku", "--ca-bundle", ca, "-q", env=key)
    assert result.returncode == 0, result.stderr
    assert "1/1 deployments passed" in result.stdout


def test_the_runtime_calls_a_deployment(stack: Any, conn_file: str) -> None:
    code = (
        "from claude_foundry import FoundryRuntime\n"
        "import os\n"
        f"rt = FoundryRuntime.from_env(dict(os.environ), ca_bundle={stack.sandbox.connection['ca_bundle']!r})\n"
        "with rt.client('haiku') as client:\n"
        "    answer = client.messages.create(model='haiku', max_tokens=8,"
        " messages=[{'role': 'user', 'content': 'x'}])\n"
        "print(answer.stop_reason)\n"
    )
    env = {c.ENV_BASE_URL: stack.base_url, c.ENV_API_KEY: stack.current_key(),
           c.ENV_DEPLOYMENTS: json.dumps({"haiku": {"model": MODELS["haiku"], "version": "1", "family": "haiku"}})}
    result = core("--python", code, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() in ("end_turn", "max_tokens")


def test_schema_and_doctor(conn_file: str) -> None:
    result = core("schema")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["properties"]["deployments"]
    result = core("doctor", "--sandbox", conn_file, "--format", "json")
    assert result.returncode in (0, 1), result.stderr  # 1: this machine may lack the Pulumi CLI
    report = json.loads(result.stdout)
    extras = next(s for s in report["steps"] if s["name"] == "extras")
    assert "yaml" in json.dumps(extras)


@pytest.mark.parametrize("argv", [["validate", STACK], ["lifecycle", STACK], ["smoke", "--stack", STACK],
                                  ["env", "--stack", STACK]], ids=lambda a: " ".join(a[:2]))
def test_what_reads_a_stack_file_names_the_cli_extra(argv: list[str]) -> None:
    result = core(*argv)
    assert result.returncode == 2, result.stderr
    assert "pip install 'claude-foundry[cli]'" in result.stderr
    assert "yaml not installed" in result.stderr


def test_load_spec_is_one_user_error() -> None:
    code = (
        "from claude_foundry import UserError, load_spec\n"
        "try:\n"
        f"    load_spec({STACK!r})\n"
        "except UserError as exc:\n"
        "    print(type(exc).__name__, exc)\n"
    )
    result = core("--python", code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ("ExtraMissing reading a stack file (YAML) needs claude-foundry[cli] (yaml not "
                                     "installed): pip install 'claude-foundry[cli]'")
