"""``catalogue refresh`` from a recorded models-list response in the REST API's exact shape: what it merges, what
it reports, and a new model reaching a stack with no code change."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from stacktext import one_deployment_stack

from claude_foundry import _catalogue as catmod
from claude_foundry._catalogue import load_catalogue, load_catalogue_file
from claude_foundry._ops import refresh
from claude_foundry.cli import main
from claude_foundry.program.spec import load_spec

RECORDED = Path(__file__).resolve().parents[1] / "data" / "models-list-eastus2.json"
TODAY = dt.date(2026, 12, 1)


@pytest.fixture
def live() -> dict[str, list[refresh.LiveModel]]:
    return {"eastus2": refresh.parse_models_list(json.loads(RECORDED.read_text(encoding="utf-8")))}


def test_parse_reads_the_rest_shape(live: dict[str, list[refresh.LiveModel]]) -> None:
    by_name = {(m.name, m.version): m for m in live["eastus2"]}
    assert by_name[("claude-opus-6", "2")].skus == ("GlobalStandard", "DataZoneStandard")
    assert by_name[("claude-opus-4-5", "1")].lifecycle == "Deprecating"
    assert by_name[("claude-opus-4-5", "1")].retirement == dt.date(2027, 2, 1)
    assert by_name[("gpt-4o", "2024-11-20")].format == "OpenAI"


def test_merge_adds_new_models_follows_lifecycle_and_drops_what_is_not_listed(live) -> None:
    base = load_catalogue()
    result = refresh.merge(base, live, today=TODAY, via="recorded")
    cat = result.catalogue
    new = cat.models["claude-opus-6"]
    assert new.family == "opus"
    assert new.versions["2"].hosting == "azure"  # version 2 = Hosted on Azure
    assert new.versions["2"].locations == ["eastus2"]
    assert new.capabilities.effort == ()  # conservative until someone reads the model's docs
    assert "conservative defaults" in (new.source.note if new.source else "")
    assert "gpt-4o" not in cat.models  # only format Anthropic
    opus45 = cat.models["claude-opus-4-5"]
    assert opus45.status_of("1") == "deprecated"
    assert opus45.retirement_of("1") == dt.date(2027, 2, 1)
    # sonnet-4-5 still listed in eastus2: kept; haiku-4-5 not listed there any more: eastus2 dropped, rest kept
    assert "eastus2" in cat.models["claude-sonnet-4-5"].versions["1"].locations
    assert "eastus2" not in cat.models["claude-haiku-4-5"].versions["2"].locations
    assert "swedencentral" in cat.models["claude-haiku-4-5"].versions["2"].locations
    # a version whose locations were "not stated" and that eastus2 does not list: everywhere but eastus2
    unstated = cat.models["claude-sonnet-5-5"].versions["2"]
    assert unstated.locations_stated
    assert "eastus2" not in unstated.locations
    assert "westus3" in unstated.locations
    assert cat.snapshot.date == TODAY
    assert cat.snapshot.refreshes[-1].locations == ["eastus2"]
    assert "+ model claude-opus-6 (family opus)" in result.changes
    assert "~ claude-opus-4-5 version 1: status deprecated -> deprecated" not in result.changes
    assert "~ claude-opus-4-5 version 1: retires 2027-02-01" in result.changes
    assert "- claude-haiku-4-5 version 2 no longer listed in eastus2" in result.changes


def test_merging_the_same_list_twice_changes_nothing_the_second_time(live) -> None:
    once = refresh.merge(load_catalogue(), live, today=TODAY).catalogue
    twice = refresh.merge(once, live, today=TODAY)
    assert twice.changes == []


def test_refresh_cli_writes_a_snapshot_that_brings_a_new_model_to_a_stack(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "team-catalogue.json"
    assert main(["catalogue", "refresh", "-l", "eastus2", "--from-json", str(RECORDED), "-o", str(out)]) == 0
    printed = capsys.readouterr()
    assert "+ model claude-opus-6" in printed.out
    assert f"wrote {out}" in printed.err
    assert "claude-opus-6" in load_catalogue_file(out).models
    stack = tmp_path / "stack.yaml"
    stack.write_text(one_deployment_stack("newest: {model: claude-opus-6, sku: DataZoneStandard}"), encoding="utf-8")
    # before the refresh: a Claude id newer than the snapshot validates with a warning (Anthropic-hosted assumed)
    warnings: list = []
    before = load_spec(stack, warnings=warnings)
    assert before.deployments["newest"].version == "1"
    assert any("claude-opus-6 is not in the catalogue snapshot of" in w.message for w in warnings)
    monkeypatch.setenv(catmod.ENV_CATALOGUE, str(out))
    catmod._load.cache_clear()
    try:
        spec = load_spec(stack)
    finally:
        catmod._load.cache_clear()
    assert (spec.deployments["newest"].version, spec.deployments["newest"].resolved_hosting) == ("2", "azure")


@pytest.mark.parametrize(("argv", "fragment"), [
    (["-l", "eastus2", "--from-json", "x.json"], "say where to write the snapshot"),
    (["-l", "eastus2", "-l", "westus3", "--from-json", str(RECORDED), "--dry-run"], "exactly one --location"),
    (["-l", "eastus2", "--from-json", str(RECORDED), "--sandbox", "c.json", "--dry-run"], "are exclusive"),
])
def test_refresh_usage_errors_exit_2(argv: list[str], fragment: str, capsys: pytest.CaptureFixture[str],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(catmod.ENV_CATALOGUE, raising=False)
    assert main(["catalogue", "refresh", *argv]) == 2
    assert fragment in capsys.readouterr().err


def test_a_recorded_non_models_list_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"error": {"code": "AuthorizationFailed"}}', encoding="utf-8")
    assert main(["catalogue", "refresh", "-l", "eastus2", "--from-json", str(bad), "--dry-run"]) == 2
    assert "not a models-list response" in capsys.readouterr().err


def test_show_lists_every_model(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["catalogue", "show"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in load_catalogue().models)
    # the catalogue's age, and the lifecycle of the models that have one
    assert out.splitlines()[0].startswith("catalogue: bundled, snapshot of 2026-09-21, lifecycle dates checked ")
    assert "days old" in out.splitlines()[0]
    line = next(x for x in out.splitlines() if x.split()[0] == "claude-sonnet-4-5")
    assert "retired 2026-11-30, replacement claude-sonnet-5-5" in line
