"""The extras match roles: with a module an extra brings missing, every command either works (the core ones) or
exits 2 naming ``pip install 'claude-foundry[<extra>]'`` — never a traceback. Also: ``cli.EXTRA_MODULES`` agrees
with pyproject.toml, and each workflow job installs exactly the extras its commands need. Fast, no network."""

from __future__ import annotations

import importlib.abc
import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from claude_foundry import cli

ROOT = Path(__file__).resolve().parents[2]
STACK = str(ROOT / "stacks" / "dev.yaml")
WORKFLOWS = ROOT / ".github" / "workflows"

#: Every import name an extra brings (what a light install lacks).
OPTIONAL = ("rich", "yaml", "pulumi", "pulumi_azure_native", "starlette", "uvicorn", "azure.mgmt.resource",
            "azure.mgmt.cognitiveservices", "claude_foundry_sandbox")


class _Blocker(importlib.abc.MetaPathFinder):
    """Makes the named modules (and their submodules) unimportable, as if not installed."""

    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = names

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> None:
        if any(fullname == n or fullname.startswith(n + ".") for n in self.names):
            raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)


@pytest.fixture
def block(monkeypatch):
    def _block(*names: str) -> None:
        monkeypatch.setattr(sys, "meta_path", [_Blocker(names), *sys.meta_path])
        for mod in list(sys.modules):  # already imported ones too
            if any(mod == n or mod.startswith(n + ".") for n in names):
                monkeypatch.setitem(sys.modules, mod, None)

    return _block


def hint(extras: str) -> str:
    return f"pip install 'claude-foundry[{extras}]'"


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    code = cli.main(argv)  # a traceback would be an exception escaping here
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


@pytest.fixture
def connection_file(tmp_path: Path) -> str:
    """A sandbox connection file nobody serves (nothing here gets as far as a request)."""
    path = tmp_path / "conn.json"
    path.write_text(json.dumps({
        "arm_endpoint": "https://127.0.0.1:9", "authority": "https://127.0.0.1:9", "tenant_id": "t",
        "client_id": "c", "client_secret": "s", "principal_id": "p",
        "subscription_id": "00000000-0000-0000-0000-000000000000", "ca_bundle": str(tmp_path / "ca.pem"),
        "foundry_base_url_template": "https://127.0.0.1:9/{name}/anthropic"}), encoding="utf-8")
    return str(path)


# --- commands that need an extra: exit 2 naming it -------------------------------------------------------

LOCAL = (["up", "--local", STACK], ["down", "--local", STACK], ["demo", STACK])
OPS = (["preflight", STACK], ["verify", STACK], ["rotate-keys", STACK])
#: Commands (and flags) that read a stack file: pyyaml comes with [cli], not with the core install.
READS_YAML = (["validate", STACK], ["lifecycle", STACK], ["init", "somewhere", "--dry-run"],
              ["smoke", "--stack", STACK], ["env", "--stack", STACK])
CASES = [
    *[(argv, "yaml", "cli") for argv in READS_YAML],
    *[(["plan", STACK], m, "infra") for m in ("pulumi", "pulumi_azure_native", "rich", "yaml")],
    *[(["sandbox"], m, "sandbox") for m in ("claude_foundry_sandbox", "starlette", "uvicorn", "azure.mgmt.resource")],
    *[(argv, m, "infra,sandbox") for argv in LOCAL for m in ("pulumi", "claude_foundry_sandbox", "starlette",
                                                             "uvicorn", "rich")],
    *[(argv, m, "ops") for argv in OPS for m in ("pulumi", "pulumi_azure_native", "azure.mgmt.resource",
                                                 "azure.mgmt.cognitiveservices", "rich", "yaml")],
]


@pytest.mark.parametrize(("argv", "missing", "extras"), CASES, ids=lambda v: v if isinstance(v, str) else v[0])
def test_missing_extra_module_exits_2_naming_the_extra(argv, missing, extras, block, capsys):
    block(missing)
    code, _, err = run_cli(argv, capsys)
    assert code == 2, err
    assert hint(extras) in err
    assert missing in err


@pytest.mark.parametrize("argv", [["plan", STACK], ["sandbox"], *LOCAL, *OPS, *READS_YAML],
                         ids=lambda a: " ".join(a[:2]))
def test_light_install_names_the_extra(argv, block, capsys):
    """Everything optional missing at once (the core install)."""
    block(*OPTIONAL)
    code, _, err = run_cli(argv, capsys)
    assert code == 2
    extras = cli.COMMAND_EXTRAS.get(argv[0].replace("-", "_")) or cli.OPTION_EXTRAS[(argv[0], argv[1])]
    assert hint(",".join(extras)) in err


@pytest.mark.parametrize("argv", OPS, ids=lambda a: a[0])
def test_a_missing_module_deep_in_a_command_still_names_the_extra(argv, block, capsys, monkeypatch,
                                                                 connection_file):
    """Past the up-front check (as if an extra were half installed): the import failing deep inside the
    command (here the plan under Pulumi mocks) ends in exit 2 naming the extra, too."""
    monkeypatch.setattr(cli, "require_extras", lambda command, args=None: None)
    block("pulumi", "pulumi_azure_native")
    code, _, err = run_cli([*argv, "--sandbox", connection_file], capsys)
    assert code == 2, err
    assert hint("ops") in err


def test_unlisted_command_names_the_extra_of_the_module(monkeypatch, capsys):
    from claude_foundry.cli import _smoke as smoke

    def fails(*args: Any, **kwargs: Any) -> Any:
        raise ModuleNotFoundError("No module named 'azure.mgmt.cognitiveservices'", name="azure.mgmt.cognitiveservices")

    monkeypatch.setattr(smoke, "build_runtime", fails)
    code, _, err = run_cli(["env", "--vault-url", "https://kv.vault.azure.net"], capsys)
    assert code == 2
    assert hint("ops") in err


def test_our_own_missing_module_is_a_bug_not_an_install(monkeypatch):
    from claude_foundry.cli import _smoke as smoke

    def fails(*args: Any, **kwargs: Any) -> Any:
        raise ModuleNotFoundError("No module named 'claude_foundry.nope'", name="claude_foundry.nope")

    monkeypatch.setattr(smoke, "build_runtime", fails)
    with pytest.raises(ModuleNotFoundError):
        cli.main(["env", "--vault-url", "https://kv.vault.azure.net"])


# --- core commands: work with every extra missing ------------------------------------------------------------


def test_parser_builds_without_any_extra(block):
    block(*OPTIONAL)
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    assert {"validate", "smoke", "env", "schema"} <= set(sub.choices)


def test_schema_works_on_the_core_install(block, capsys):
    block(*OPTIONAL)
    code, out, _ = run_cli(["schema"], capsys)
    assert code == 0
    assert json.loads(out)["title"]
    code, out, _ = run_cli(["schema", "--reference"], capsys)
    assert code == 0
    assert "## DeploymentSpec" in out


def test_validate_works_with_cli_alone(block, capsys):
    """[cli] is all that validate needs (pyyaml): no Pulumi, no management SDK, no sandbox."""
    block(*(m for m in OPTIONAL if m not in cli.EXTRA_MODULES["cli"]))
    code, out, _ = run_cli(["validate", STACK], capsys)
    assert code == 0
    assert "ok" in out


def test_load_spec_without_pyyaml_is_one_user_error_naming_the_extra(block, monkeypatch):
    """The library, not only the CLI: reading a stack file on the core install raises ExtraMissing (a UserError),
    never an ImportError; a stack built in code needs no YAML reader."""
    from claude_foundry._errors import ExtraMissing, UserError
    from claude_foundry.program.spec import load_spec, spec_from_mapping

    block("yaml")
    monkeypatch.delitem(sys.modules, "claude_foundry.program.spec._yamlfile", raising=False)
    with pytest.raises(ExtraMissing) as info:
        load_spec(STACK)
    assert isinstance(info.value, UserError)
    assert str(info.value) == ("reading a stack file (YAML) needs claude-foundry[cli] (yaml not installed): "
                               f"{hint('cli')}")
    assert cli.exit_code(info.value) == 2
    spec = spec_from_mapping({
        "environment": "dev", "location": "eastus2", "resource_group": "rg-claude-dev",
        "foundry": {"name": "contoso-claude-dev", "model_provider": {
            "organization_name": "Contoso", "country_code": "US", "industry": "technology"}},
        "deployments": {"fast": {"model": "claude-haiku-4-5"}}, "key_vault": {"name": "kv-contoso-claude-dev"}})
    assert list(spec.deployments) == ["fast"]


def _report() -> Any:
    from claude_foundry._client.smoke import DeploymentResult, SmokeReport

    return SmokeReport(resource="contoso", base_url="https://contoso.services.ai.azure.com/anthropic", auth="key",
                       results=[DeploymentResult(name="fast", model="claude-haiku-4-5", passed=True, status=200,
                                                 attempts=1, diagnosis="answered", request_id="req-1"),
                                DeploymentResult(name="big", model="claude-opus-4-6", status=404, attempts=3,
                                                 diagnosis="deployment 'big' not found")])


@pytest.mark.parametrize("quiet", [False, True])
def test_smoke_prints_plain_lines_without_rich(quiet, block, capsys, monkeypatch):
    from claude_foundry._client import smoke
    from claude_foundry.cli import _smoke as smoke_cli

    block(*OPTIONAL)
    monkeypatch.setattr(smoke_cli, "build_runtime", lambda args, **kw: (object(), None))
    monkeypatch.setattr(smoke, "run_smoke", lambda *args, **kwargs: _report())
    code, out, _ = run_cli(["smoke", "--resource", "contoso", "--deployments", "fast,big",
                            *(["-q"] if quiet else [])], capsys)
    assert code == 1  # one deployment failed
    assert "1/2 deployments passed" in out
    assert out.count("deployment 'big' not found") == 1
    assert ("PASS  fast" in out) is not quiet
    assert ("FAIL  big" in out) is not quiet


def test_env_works_on_the_core_install(block, capsys, monkeypatch):
    from claude_foundry import _contract as c
    from claude_foundry.cli import _smoke as smoke_cli

    class Runtime:
        contract = c.Contract(resource="contoso", base_url="https://contoso.services.ai.azure.com/anthropic",
                              deployments={"fast": c.DeploymentInfo(model="claude-haiku-4-5", version="1",
                                                                    family="haiku")})
        stack = c.StackContract((contract,))

    block(*OPTIONAL)
    monkeypatch.setattr(smoke_cli, "build_runtime", lambda args, **kw: (Runtime(), None))
    code, out, _ = run_cli(["env", "--vault-url", "https://kv.vault.azure.net"], capsys)
    assert code == 0
    assert "CLAUDE_CODE_USE_FOUNDRY" in out


# --- the declarations agree with pyproject.toml ---------------------------------------------------------

#: distribution name -> import name, for what the extras bring.
DIST_IMPORTS = {"rich": "rich", "pyyaml": "yaml", "pulumi": "pulumi", "pulumi-azure-native": "pulumi_azure_native",
                "azure-mgmt-resource": "azure.mgmt.resource",
                "azure-mgmt-cognitiveservices": "azure.mgmt.cognitiveservices", "starlette": "starlette",
                "uvicorn": "uvicorn", "cryptography": "cryptography", "shtab": "shtab",
                "claude-foundry-sandbox": "claude_foundry_sandbox", "azure-mgmt-monitor": "azure.mgmt.monitor",
                "azure-mgmt-costmanagement": "azure.mgmt.costmanagement", "matplotlib": "matplotlib"}
REQ_RE = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?")


def pyproject(where: Path = ROOT) -> dict[str, Any]:
    tomllib = pytest.importorskip("tomllib")
    return tomllib.loads((where / "pyproject.toml").read_text(encoding="utf-8"))["project"]


#: This repository's second distribution (sandbox/): an extra naming it brings its dependencies too.
SANDBOX_DIST = "claude-foundry-sandbox"


def closure(extras: set[str], project: dict[str, Any]) -> tuple[set[str], set[str]]:
    """(extras, distributions) that installing claude-foundry[extras] brings, self-references followed."""
    seen: set[str] = set()
    dists = {REQ_RE.match(r).group(1).lower() for r in project["dependencies"]}
    todo = list(extras)
    while todo:
        extra = todo.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for req in project["optional-dependencies"][extra]:
            name, sub = REQ_RE.match(req).groups()
            if name.lower() == project["name"]:
                todo += [s.strip() for s in (sub or "").split(",") if s.strip()]
            else:
                dists.add(name.lower())
                if name.lower() == SANDBOX_DIST:
                    dists |= {REQ_RE.match(r).group(1).lower() for r in pyproject(ROOT / "sandbox")["dependencies"]}
    return seen, dists


def test_core_holds_none_of_the_extras_packages():
    project = pyproject()
    core = {REQ_RE.match(r).group(1).lower() for r in project["dependencies"]}
    assert not core & (set(DIST_IMPORTS) - {"cryptography"})  # cryptography comes with azure-identity
    assert core >= {"anthropic", "azure-identity", "azure-keyvault-secrets"}


def test_extra_modules_match_pyproject():
    project = pyproject()
    assert set(cli.EXTRA_MODULES) <= set(project["optional-dependencies"])
    for extra, modules in cli.EXTRA_MODULES.items():
        _, dists = closure({extra}, project)
        brings = {DIST_IMPORTS[d] for d in dists if d in DIST_IMPORTS}
        assert set(modules) <= brings, (extra, set(modules) - brings)
    everything = closure({"test"}, project)[0]
    assert everything >= set(cli.EXTRA_MODULES)


def test_command_extras_name_known_commands_and_extras():
    for command, extras in cli.COMMAND_EXTRAS.items():
        assert command in cli.COMMANDS
        assert set(extras) <= set(cli.EXTRA_MODULES)


# --- workflows install exactly what their jobs use -------------------------------------------------------

BOOTSTRAP_RE = re.compile(r"scripts/bootstrap\s+(\"[^\"]*\"|'[^']*'|\S+)")
COMMAND_RE = re.compile(r"claude-foundry\s+([a-z][a-z-]*)")


def minimal(required: set[str], project: dict[str, Any]) -> set[str]:
    """The required extras none of the others already brings."""
    return {e for e in required if not any(e in closure({o}, project)[0] for o in required - {e})}


@pytest.mark.parametrize("path", sorted(WORKFLOWS.glob("*.yml")), ids=lambda p: p.name)
def test_each_job_installs_exactly_the_extras_it_uses(path: Path):
    project = pyproject()
    jobs = yaml.safe_load(path.read_text(encoding="utf-8"))["jobs"]
    for job_id, job in jobs.items():
        scripts = [s["run"] for s in job.get("steps", []) if "run" in s]
        text = "\n".join(scripts)
        installs = [m.strip("\"'") for m in BOOTSTRAP_RE.findall(text)]
        required: set[str] = set()
        for command in COMMAND_RE.findall(text):
            required |= set(cli.COMMAND_EXTRAS.get(command.replace("-", "_"), ()))
        for line in text.splitlines():  # a subcommand or flag that reads Azure's live list (cli.OPTION_EXTRAS)
            for (command, word), extras in cli.OPTION_EXTRAS.items():
                if re.search(rf"claude-foundry\s+{command}\b.*\s{re.escape(word)}\b", line):
                    required |= set(extras)
        if re.search(r"\bpulumi (up|preview|destroy|refresh)\b", text):
            required.add("infra")
        if re.search(r"(^|\s)scripts/test\b", text):
            required.add("test")
        uses_project = bool(COMMAND_RE.search(text)) or bool(required)
        if not uses_project:
            assert not installs, f"{path.name}:{job_id} installs claude-foundry but runs nothing of it"
            continue
        assert len(installs) == 1, f"{path.name}:{job_id}: one `scripts/bootstrap EXTRAS`, got {installs}"
        installed = {e for e in installs[0].split(",") if e}
        assert installed == minimal(required, project), (
            f"{path.name}:{job_id} installs [{installs[0]}]; its commands need {sorted(minimal(required, project))}")
        for line in text.splitlines():  # no other install of the project behind the extras' back
            if "pip install" in line:
                assert "-r policy/requirements.txt" in line, f"{path.name}:{job_id}: {line.strip()}"
        if "--policy-pack policy" in text:
            assert "-r policy/requirements.txt" in text, f"{path.name}:{job_id}: the policy pack's requirements"
