"""The checked-in JSON Schema and field reference are generated from the model and must be current."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from claude_foundry.cli import main
from claude_foundry.program._reference import reference_markdown, schema_json
from claude_foundry.program.spec._schema import Spec

ROOT = Path(__file__).resolve().parents[2]


def test_checked_in_schema_is_current() -> None:
    assert (ROOT / "schema/stack.schema.json").read_text(encoding="utf-8") == schema_json(), (
        "schema/stack.schema.json is stale: run `claude-foundry schema -o schema/stack.schema.json`")


def test_checked_in_reference_is_current() -> None:
    assert (ROOT / "docs/reference.md").read_text(encoding="utf-8") == reference_markdown(), (
        "docs/reference.md is stale: run `claude-foundry schema --reference -o docs/reference.md`")


def test_reference_documents_every_field() -> None:
    text = reference_markdown()
    for name, field in Spec.model_fields.items():
        assert f"| `{name}` |" in text
        assert field.description, f"Spec.{name} has no description"
    assert "| `organization_name` |" in text
    assert "| `deployer_access` |" in text


def test_schema_rejects_unknown_fields_and_allows_extends() -> None:
    schema = json.loads(schema_json())
    assert schema["additionalProperties"] is False
    assert "extends" in schema["properties"]
    assert set(schema["required"]) >= {"environment", "location", "foundry", "deployments", "key_vault"}


def test_stack_files_point_editors_at_the_schema() -> None:
    for path in sorted((ROOT / "stacks").rglob("*.yaml")):
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith("# yaml-language-server: $schema="), path
        target = (path.parent / first.split("$schema=", 1)[1]).resolve()
        assert target == (ROOT / "schema/stack.schema.json").resolve(), path


def test_schema_check_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stale = tmp_path / "s.json"
    stale.write_text("{}", encoding="utf-8")
    assert main(["schema", "-o", str(stale), "--check"]) == 1
    assert "is stale" in capsys.readouterr().err
    assert main(["schema", "-o", str(stale)]) == 0
    assert main(["schema", "-o", str(stale), "--check"]) == 0
