"""``claude-foundry init``: flags and their checks, placeholders when stdin is not a terminal, questions when it
is, refusal to overwrite, ``--force``, ``--dry-run``, the files written, ``--pulumi-template``; and the scaffold
as the single source of this repository's workflow templates and policy pack."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

from claude_foundry import cli
from claude_foundry.cli import _init as init

ROOT = Path(__file__).resolve().parents[2]
SCAFFOLD = ROOT / "src" / "claude_foundry" / "scaffold"

FILES = {
    ".github/workflows/deploy-stack.yml", ".github/workflows/deploy.yml", ".github/workflows/drift.yml",
    ".github/workflows/lifecycle.yml",
    ".github/workflows/pull-request.yml", ".github/workflows/rotate.yml", ".gitignore", "Pulumi.dev.yaml",
    "Pulumi.prod.yaml", "Pulumi.yaml", "README.md", "docs/ci.md", "infra/__main__.py", "policy/PulumiPolicy.yaml",
    "policy/__main__.py", "policy/requirements.txt", "requirements.txt", "schema/stack.schema.json",
    "scripts/bootstrap", "scripts/test", "stacks/dev.yaml", "stacks/prod.yaml", "stacks/shared/base.yaml",
    "tests/test_program.py",
}
FLAGS = ["--organization", "Fabrikam Ltd", "--country", "SE", "--industry", "finance", "--location", "eastus2",
         "--prefix", "fab"]


@pytest.fixture
def not_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(init, "stdin_is_terminal", lambda: False)


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main(["init", *argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def written(directory: Path) -> set[str]:
    return {p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file()}


# --- the scaffold is the single source -----------------------------------------------------------------------


@pytest.mark.parametrize("name", init.WORKFLOWS)
def test_repository_workflows_are_the_scaffolds(name: str):
    """Edit src/claude_foundry/scaffold/dot-github/workflows/<name>, then copy it to .github/workflows/ (its
    @CF_<NAME>@ tokens, if any, rendered with the placeholders, which are this repository's own values)."""
    source = (SCAFFOLD / "dot-github" / "workflows" / name).read_text(encoding="utf-8")
    expected = init.render(source, init.tokens(init.PLACEHOLDERS))
    assert (ROOT / ".github" / "workflows" / name).read_text(encoding="utf-8") == expected, (
        f".github/workflows/{name} differs from the scaffold's copy: the scaffold is the source")


def test_repository_policy_pack_is_the_scaffolds():
    assert (SCAFFOLD / "policy" / "__main__.py.tmpl").read_text(encoding="utf-8") == \
        (ROOT / "policy" / "__main__.py").read_text(encoding="utf-8")
    repo = yaml.safe_load((ROOT / "policy" / "PulumiPolicy.yaml").read_text(encoding="utf-8"))
    assert yaml.safe_load((SCAFFOLD / "policy" / "PulumiPolicy.yaml").read_text(encoding="utf-8")) == repo


def test_rotation_shares_the_deploy_concurrency_group():
    def concurrency(name: str) -> dict:
        return yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text(encoding="utf-8"))["concurrency"]

    assert concurrency("rotate.yml") == concurrency("deploy.yml") == {"group": "deploy", "cancel-in-progress": False}


def test_init_needs_only_the_cli_extra():
    """init renders YAML stacks and validates them before writing anything: pyyaml, [cli]; nothing of an
    operator's extra (no Pulumi, no management SDK, no sandbox)."""
    assert "init" in cli.COMMANDS
    assert cli.COMMAND_EXTRAS["init"] == ("cli",)


# --- files written -----------------------------------------------------------------------------------------


def test_placeholders_when_stdin_is_not_a_terminal(tmp_path: Path, not_a_terminal, capsys):
    code, out, err = run([str(tmp_path)], capsys)
    assert code == 0, err
    assert written(tmp_path) == FILES
    assert "placeholders for organization, country, industry, location, prefix" in err
    base = yaml.safe_load((tmp_path / "stacks" / "shared" / "base.yaml").read_text(encoding="utf-8"))
    assert base["location"] == "eastus2"
    assert base["foundry"]["model_provider"] == {"organization_name": "Contoso", "country_code": "US",
                                                 "industry": "technology"}
    dev = yaml.safe_load((tmp_path / "stacks" / "dev.yaml").read_text(encoding="utf-8"))
    assert (dev["foundry"]["name"], dev["key_vault"]["name"]) == ("contoso-claude-dev", "kv-contoso-dev")
    readme = (tmp_path / "README.md").read_text(encoding="utf-8")
    assert "organisation `Contoso`, country `US`, industry `technology`, location `eastus2`, prefix `contoso`" in readme
    for rel in FILES:
        assert "@CF_" not in (tmp_path / rel).read_text(encoding="utf-8"), rel
    for rel in ("scripts/bootstrap", "scripts/test"):
        assert (tmp_path / rel).stat().st_mode & 0o111, rel
    for rel in ("infra/__main__.py", "policy/__main__.py", "tests/test_program.py"):
        ast.parse((tmp_path / rel).read_text(encoding="utf-8"), rel)
    project = yaml.safe_load((tmp_path / "Pulumi.yaml").read_text(encoding="utf-8"))
    assert project["name"] == "contoso-claude"
    assert project["main"] == "infra/"
    assert project["runtime"]["options"]["virtualenv"] == ".venv"
    assert "template" not in project
    assert "wrote 24 files" in out


def test_flags_fill_every_value(tmp_path: Path, not_a_terminal, capsys):
    code, _, err = run([str(tmp_path), *FLAGS], capsys)
    assert code == 0, err
    assert "placeholders" not in err
    base = yaml.safe_load((tmp_path / "stacks" / "shared" / "base.yaml").read_text(encoding="utf-8"))
    assert base["foundry"]["model_provider"] == {"organization_name": "Fabrikam Ltd", "country_code": "SE",
                                                 "industry": "finance"}
    prod = yaml.safe_load((tmp_path / "stacks" / "prod.yaml").read_text(encoding="utf-8"))
    assert (prod["foundry"]["name"], prod["key_vault"]["name"]) == ("fab-claude-prod", "kv-fab-prod")
    assert "claude-foundry[infra]==" in (tmp_path / "requirements.txt").read_text(encoding="utf-8")


@pytest.mark.parametrize("organization", ["Acme: Corp #1", "O'Brien & Sons", "- yes", "null"])
def test_organisation_is_quoted_for_yaml(organization: str, tmp_path: Path, not_a_terminal, capsys):
    code, _, err = run([str(tmp_path), "--organization", organization], capsys)
    assert code == 0, err
    base = yaml.safe_load((tmp_path / "stacks" / "shared" / "base.yaml").read_text(encoding="utf-8"))
    assert base["foundry"]["model_provider"]["organization_name"] == organization
    assert organization in yaml.safe_load((tmp_path / "Pulumi.yaml").read_text(encoding="utf-8"))["description"]


@pytest.mark.parametrize("prefix", ["a", "a-1", "9lives", "x" * init.MAX_PREFIX])
def test_every_allowed_prefix_makes_valid_stacks(prefix: str):
    values = {**init.PLACEHOLDERS, "prefix": prefix}
    init.check_stacks(init.scaffold_files(values))  # raises on any problem


@pytest.mark.parametrize(("flag", "value", "allowed"), [
    ("--country", "us", "ISO-3166 alpha-2"),
    ("--country", "USA", "ISO-3166 alpha-2"),
    ("--industry", "Technology", "must be lower case"),
    ("--industry", "mining", "technology, finance"),
    ("--location", "mars", "eastus2"),
    ("--prefix", "Contoso", "lower-case letters, digits and hyphens"),
    ("--prefix", "a--b", "lower-case letters, digits and hyphens"),
    ("--prefix", "-a", "lower-case letters, digits and hyphens"),
    ("--prefix", "x" * (init.MAX_PREFIX + 1), f"1-{init.MAX_PREFIX}"),
    ("--organization", " ", "non-empty"),
    ("--organization", "a\nb", "one line"),
])
def test_bad_flag_exits_2_naming_it(flag, value, allowed, tmp_path: Path, not_a_terminal, capsys):
    code, _, err = run([str(tmp_path), f"{flag}={value}"], capsys)
    assert code == 2
    assert f"error: {flag} " in err
    assert allowed in err
    assert written(tmp_path) == set()


def test_every_bad_flag_is_named_at_once(tmp_path: Path, not_a_terminal, capsys):
    code, _, err = run([str(tmp_path), "--country", "xx", "--prefix", "UP"], capsys)
    assert code == 2
    assert "--country" in err
    assert "--prefix" in err


def test_questions_on_a_terminal_reask_until_valid(tmp_path: Path, monkeypatch, capsys):
    monkeypatch.setattr(init, "stdin_is_terminal", lambda: True)
    answers = iter(["Northwind", "de", "DE", "", "westus9", "eastus2", "North_Wind", "nw"])
    prompts: list[str] = []

    def ask(prompt: str) -> str:
        prompts.append(prompt)
        return next(answers)

    monkeypatch.setattr("builtins.input", ask)
    code, _, err = run([str(tmp_path)], capsys)
    assert code == 0, err
    assert len(prompts) == 8
    assert prompts[0].startswith("Organisation")
    assert prompts[0].endswith("[Contoso]: ")
    assert "country must be an ISO-3166 alpha-2 country code" in err
    assert "location must be a location where Claude is offered" in err
    assert "prefix must be" in err
    assert "placeholders" not in err
    base = yaml.safe_load((tmp_path / "stacks" / "shared" / "base.yaml").read_text(encoding="utf-8"))
    assert base["foundry"]["model_provider"] == {"organization_name": "Northwind", "country_code": "DE",
                                                 "industry": "technology"}  # empty answer: the default
    assert yaml.safe_load((tmp_path / "stacks" / "dev.yaml").read_text(encoding="utf-8"))["foundry"]["name"] == \
        "nw-claude-dev"


def test_flags_are_not_asked_again_and_eof_names_the_flag(tmp_path: Path, monkeypatch, capsys):
    monkeypatch.setattr(init, "stdin_is_terminal", lambda: True)
    prompts: list[str] = []

    def ask(prompt: str) -> str:
        prompts.append(prompt)
        raise EOFError

    monkeypatch.setattr("builtins.input", ask)
    code, _, err = run([str(tmp_path), "--organization", "X", "--country", "US", "--industry", "media"], capsys)
    assert code == 2
    assert "no answer for location: pass --location" in err
    assert [p.split(" ")[0] for p in prompts] == ["Azure"]
    assert written(tmp_path) == set()


# --- overwriting ------------------------------------------------------------------------------------------


def test_refuses_existing_files_and_writes_nothing(tmp_path: Path, not_a_terminal, capsys):
    (tmp_path / "README.md").write_text("ours\n", encoding="utf-8")
    (tmp_path / "stacks").mkdir()
    (tmp_path / "stacks" / "dev.yaml").write_text("ours\n", encoding="utf-8")
    code, _, err = run([str(tmp_path)], capsys)
    assert code == 2
    assert "2 file(s) exist; nothing written (--force overwrites them)" in err
    assert str(tmp_path / "README.md") in err
    assert str(tmp_path / "stacks" / "dev.yaml") in err
    assert written(tmp_path) == {"README.md", "stacks/dev.yaml"}
    assert (tmp_path / "README.md").read_text(encoding="utf-8") == "ours\n"


def test_force_overwrites(tmp_path: Path, not_a_terminal, capsys):
    (tmp_path / "README.md").write_text("ours\n", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("kept\n", encoding="utf-8")
    code, _, err = run([str(tmp_path), "--force"], capsys)
    assert code == 0, err
    assert written(tmp_path) == FILES | {"notes.txt"}
    assert (tmp_path / "README.md").read_text(encoding="utf-8").startswith("# contoso-claude")
    assert not list(tmp_path.rglob("*.tmp"))


def test_a_directory_in_the_way_is_refused_even_with_force(tmp_path: Path, not_a_terminal, capsys):
    (tmp_path / "README.md").mkdir()
    code, _, err = run([str(tmp_path), "--force"], capsys)
    assert code == 2
    assert "in the way" in err
    assert written(tmp_path) == set()


def test_dry_run_lists_and_writes_nothing(tmp_path: Path, not_a_terminal, capsys):
    (tmp_path / "README.md").write_text("ours\n", encoding="utf-8")
    code, out, _ = run([str(tmp_path / "new"), "--dry-run"], capsys)
    assert code == 0
    assert not (tmp_path / "new").exists()
    listed = {line.split(maxsplit=1)[1] for line in out.splitlines()}
    assert listed == {str(tmp_path / "new" / rel) for rel in FILES}
    assert all(line.startswith("new ") for line in out.splitlines())
    code, out, _ = run([str(tmp_path), "--dry-run"], capsys)
    assert code == 2  # what the real run would do
    assert f"exists    {tmp_path / 'README.md'}" in out
    code, out, _ = run([str(tmp_path), "--dry-run", "--force"], capsys)
    assert code == 0
    assert f"overwrite {tmp_path / 'README.md'}" in out
    assert written(tmp_path) == {"README.md"}


def test_dir_that_is_a_file_exits_2(tmp_path: Path, not_a_terminal, capsys):
    (tmp_path / "f").write_text("", encoding="utf-8")
    code, _, err = run([str(tmp_path / "f")], capsys)
    assert code == 2
    assert "is not a directory" in err


# --- pulumi new ----------------------------------------------------------------------------------------


def test_pulumi_template(tmp_path: Path, not_a_terminal, capsys):
    code, _, err = run([str(tmp_path), "--pulumi-template"], capsys)
    assert code == 0, err
    assert written(tmp_path) == FILES - {"Pulumi.dev.yaml"}
    project = yaml.safe_load((tmp_path / "Pulumi.yaml").read_text(encoding="utf-8"))
    assert (project["name"], project["description"]) == ("${PROJECT}", "${DESCRIPTION}")
    assert project["template"]["config"]["claude-foundry:spec"]["default"] == "stacks/dev.yaml"
    assert project["main"] == "infra/"
