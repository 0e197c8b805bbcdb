"""A spec built in code: ``spec_from_mapping`` makes the checks and messages of a stack file, and no
``Spec`` entry point skips the catalogue."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

import claude_foundry
from claude_foundry.program.spec import Spec, SpecError, load_spec, spec_from_mapping, spec_json_schema

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def data() -> dict:
    """stacks/dev.yaml merged with what it extends, as a plain mapping."""
    merged = yaml.safe_load((ROOT / "stacks" / "shared" / "base.yaml").read_text(encoding="utf-8"))
    dev = yaml.safe_load((ROOT / "stacks" / "dev.yaml").read_text(encoding="utf-8"))
    dev.pop("extends")
    merged.update({k: v for k, v in dev.items() if k != "foundry"})
    merged["foundry"] = {**merged["foundry"], **dev["foundry"]}
    return merged


def problems(data: dict, **kwargs) -> list[str]:
    with pytest.raises(SpecError) as info:
        spec_from_mapping(data, **kwargs)
    return str(info.value).splitlines()


def test_a_mapping_gives_the_spec_its_file_gives(data):
    assert spec_from_mapping(data) == load_spec(ROOT / "stacks" / "dev.yaml")
    assert claude_foundry.spec_from_mapping is spec_from_mapping  # the front door's is the one home's
    assert "spec_from_mapping" in claude_foundry.__all__


def test_unknown_location_and_model_name_source_and_field(data):
    data["location"] = "mars"
    data["deployments"]["fast"] = {"model": "claude-haiku-4.5"}
    lines = problems(data, source="team/program.py")
    assert any(line.startswith("team/program.py: location: Claude is not offered in 'mars'") for line in lines)
    assert any(line.startswith("team/program.py: deployments.fast.model: ") and "claude-haiku-4.5" in line
               for line in lines), lines


def test_every_problem_at_once_one_line_each_default_source(data):
    data["foundry"]["model_provider"]["country_code"] = "XX"
    data["key_vault"]["name"] = "kv"
    data["surprise"] = 1
    lines = problems(data)
    assert len(lines) == 3
    assert all(line.startswith("<mapping>: ") for line in lines)
    assert {line.split(": ")[1] for line in lines} == {"foundry.model_provider.country_code", "key_vault.name",
                                                       "surprise"}


def test_pasted_key_refused_without_echo(data):
    data["tags"] = {"note": "sk-ant-api03-abcdefghijklmnop"}
    lines = problems(data)
    assert any(line.startswith("<mapping>: tags.note: this value looks like a key") for line in lines)
    assert "abcdefghijklmnop" not in "\n".join(lines)


def test_not_a_mapping():
    assert problems(["environment", "dev"]) == ["<mapping>: the top level must be a mapping of fields, got a list"]


def test_the_mapping_is_not_changed(data):
    before = copy.deepcopy(data)
    spec_from_mapping(data)
    assert data == before


@pytest.mark.parametrize("build", [
    Spec.model_validate,
    lambda d: Spec(**d),
    lambda d: Spec.model_validate_json(json.dumps(d)),
], ids=["model_validate", "constructor", "model_validate_json"])
def test_no_entry_point_skips_the_catalogue(data, build):
    spec = build(data)
    assert all(d.version not in (None, "None") and d.capacity for d in spec.deployments.values())
    assert spec == spec_from_mapping(data)
    bad = {**data, "location": "mars"}
    with pytest.raises(ValidationError) as info:
        build(bad)
    assert [e["loc"] for e in info.value.errors()] == [("location",)]
    bad = {**data, "deployments": {"x1": {"model": "claude-haiku-4.5"}}}
    with pytest.raises(ValidationError) as info:
        build(bad)
    assert ("deployments", "x1", "model") in [e["loc"] for e in info.value.errors()]


def test_json_schema_still_generates():
    schema = spec_json_schema()
    assert {"location", "deployments", "extends"} <= set(schema["properties"])


def test_deployment_names_that_would_collide_after_stripping_are_refused() -> None:
    data = yaml.safe_load(Path(__file__).resolve().parents[2].joinpath("stacks", "shared", "base.yaml").read_text())
    data.update({"environment": "dev", "resource_group": "rg-x", "key_vault": {"name": "kv-x-dev"},
                 "deployments": {"fast": {"model": "claude-haiku-4-5"}, "fast ": {"model": "claude-sonnet-4-6"}}})
    data["foundry"] = {**data["foundry"], "name": "contoso-x-dev"}
    with pytest.raises(SpecError, match="deployment name 'fast '"):
        spec_from_mapping(data)
