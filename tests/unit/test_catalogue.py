"""The catalogue as the platform documents it: hostings, SKUs per version, lifecycle, Entra-only models, and the
refusals and warnings validation derives from it (file, line, field, what is allowed)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from claude_foundry import _catalogue as catmod
from claude_foundry._catalogue import CatalogueError, dump_catalogue, load_catalogue, load_catalogue_file
from claude_foundry.cli import exit_code
from claude_foundry.program.spec import SpecError, load_spec

STACK = """\
environment: dev
location: {location}
resource_group: rg-claude-dev
foundry:
  name: contoso-claude-dev
  disable_local_auth: {entra}
  model_provider: {{organization_name: Contoso, country_code: US, industry: technology}}
deployments:
  d1: {deployment}
key_vault: {{name: kv-contoso-claude-dev}}
"""


def stack(tmp_path: Path, deployment: str, location: str = "eastus2", entra: bool = False) -> Path:
    path = tmp_path / "stack.yaml"
    path.write_text(STACK.format(deployment=deployment, location=location, entra=str(entra).lower()),
                    encoding="utf-8")
    return path


def errors(path: Path) -> list[str]:
    with pytest.raises(SpecError) as info:
        load_spec(path)
    return [str(i) for i in info.value.issues]


# --- the bundled snapshot ---------------------------------------------------------------------------


def test_bundled_snapshot_is_dated_and_every_entry_says_where_it_came_from() -> None:
    cat = load_catalogue()
    assert cat.snapshot.date >= dt.date(2026, 9, 21)
    assert any(s.path and s.path.endswith("concepts-claude-models-content.md") for s in cat.snapshot.sources)
    assert len(cat.models) >= 17
    for name, model in cat.models.items():
        assert model.source is not None, name
        assert model.source.path or model.source.url, name  # Microsoft's page, or Anthropic's for a new model
        assert model.source.date, name
        if model.stage in ("deprecated", "retired"):  # Anthropic's lifecycle facts say where they came from
            assert model.lifecycle_source is not None, name
            assert model.lifecycle_source.url, name
        assert model.versions, name
        for version, info in model.versions.items():
            # the documented numbering: 1 = Anthropic's infrastructure, 2 = Azure
            assert info.hosting == {"1": "anthropic", "2": "azure"}[version], (name, version)


def test_data_zone_only_for_the_azure_hosted_versions_the_docs_name() -> None:
    cat = load_catalogue()
    with_dz = {(n, v) for n, m in cat.models.items() for v, i in m.versions.items() if "DataZoneStandard" in i.skus}
    assert with_dz == {(m, "2") for m in ("claude-haiku-4-5", "claude-haiku-5-5", "claude-opus-4-8", "claude-opus-5",
                                          "claude-opus-5-5", "claude-sonnet-5", "claude-sonnet-5-5")}
    assert all("GlobalStandard" in i.skus for m in cat.models.values() for i in m.versions.values())


def test_lifecycle_facts() -> None:
    cat = load_catalogue()
    assert cat.models["claude-opus-4-1"].retirement == dt.date(2026, 8, 5)
    assert cat.models["claude-opus-4-5"].status == "deprecated"
    # as of 2026-12-07 (shared/FACTS.md, "Lifecycle"), each with its source
    sonnet45 = cat.models["claude-sonnet-4-5"]
    assert (sonnet45.status, sonnet45.stage, sonnet45.retirement, sonnet45.replacement) == (
        "retired", "retired", dt.date(2026, 11, 30), "claude-sonnet-5-5")
    assert "platform.claude.com" in (sonnet45.lifecycle_source.url or "")
    opus45 = cat.models["claude-opus-4-5"]
    assert (opus45.stage, opus45.retirement, opus45.retirement_tentative, opus45.replacement) == (
        "deprecated", dt.date(2027, 1, 22), True, "claude-opus-5-5")
    assert "secondary source" in opus45.lifecycle_source.note
    fable52 = cat.models["claude-fable-5-2"]
    assert fable52.launched == dt.date(2026, 11, 9)
    assert {"hosting", "locations", "quota"} <= set(fable52.unverified)
    assert cat.snapshot.lifecycle_checked == dt.date(2026, 12, 7)
    assert {n for n, m in cat.models.items() if m.entra_only} == {
        "claude-mythos-5-1", "claude-mythos-5", "claude-mythos-preview"}
    assert {n for n, m in cat.models.items() if m.status == "preview"} == {"claude-fable-5", "claude-fable-5-1"}


def test_dump_and_load_round_trip_keeps_unstated_locations_unstated(tmp_path: Path) -> None:
    cat = load_catalogue()
    path = tmp_path / "cat.json"
    path.write_text(dump_catalogue(cat), encoding="utf-8")
    again = load_catalogue_file(path)
    assert again == cat
    raw = json.loads(path.read_text(encoding="utf-8"))
    assert raw["models"]["claude-sonnet-5-5"]["versions"]["2"]["locations"] is None
    assert not again.models["claude-sonnet-5-5"].versions["2"].locations_stated


def test_the_bundled_catalogue_is_json_as_refresh_writes_it() -> None:
    """One format for the bundled snapshot and a refreshed copy: the file is what :func:`dump_json` writes of its
    own data (so a refresh of it diffs by what changed), read without a YAML reader."""
    text = catmod.bundled_catalogue_text()
    assert catmod.dump_json(json.loads(text)) == text
    assert catmod.BUNDLED.endswith(".json")


@pytest.mark.parametrize(("content", "fragment"), [
    (None, "catalogue file not found"),
    ('{"models": [', "cannot read the catalogue"),
    ("models: {}\n", "a catalogue file is JSON"),  # YAML (what a catalogue was before) is named as not JSON
    ('{"models": {}}\n', "not a claude-foundry catalogue"),
])
def test_a_bad_catalogue_file_is_a_user_error_naming_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        content: str | None, fragment: str) -> None:
    path = tmp_path / "team-catalogue.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    monkeypatch.setenv(catmod.ENV_CATALOGUE, str(path))
    catmod._load.cache_clear()
    try:
        with pytest.raises(CatalogueError) as info:
            load_catalogue()
    finally:
        catmod._load.cache_clear()
    assert str(path) in str(info.value)
    assert fragment in str(info.value)
    assert exit_code(info.value) == 2


# --- hosting and version ----------------------------------------------------------------------------


def test_hosting_chooses_the_version_and_azure_is_the_default(tmp_path: Path) -> None:
    assert load_spec(stack(tmp_path, "{model: claude-haiku-4-5}")).deployments["d1"].version == "2"
    spec = load_spec(stack(tmp_path, "{model: claude-haiku-4-5, hosting: anthropic}"))
    assert spec.deployments["d1"].version == "1"
    assert spec.deployments["d1"].resolved_hosting == "anthropic"
    assert load_spec(stack(tmp_path, "{model: claude-sonnet-4-6}")).deployments["d1"].version == "1"


def test_a_hosting_the_model_lacks_is_refused(tmp_path: Path) -> None:
    path = stack(tmp_path, "{model: claude-sonnet-4-6, hosting: azure}")
    assert errors(path) == [f"{path}:9: deployments.d1.hosting: claude-sonnet-4-6 is not offered Hosted on Azure; "
                            "it is offered: anthropic (version 1)"]


def test_a_version_that_contradicts_the_hosting_is_refused(tmp_path: Path) -> None:
    path = stack(tmp_path, "{model: claude-haiku-4-5, hosting: azure, version: '1'}")
    assert errors(path) == [f"{path}:9: deployments.d1.version: version 1 of claude-haiku-4-5 is Hosted on Anthropic "
                            "infrastructure, but hosting says azure: drop one of them"]


@pytest.mark.parametrize(("deployment", "location", "fragment"), [
    ("{model: claude-sonnet-4-6, sku: DataZoneStandard}", "eastus2",
     "deployments.d1.sku: claude-sonnet-4-6 version 1 (Hosted on Anthropic infrastructure) is offered as "
     "GlobalStandard, not DataZoneStandard"),
    ("{model: claude-opus-4-8, hosting: anthropic, sku: DataZoneStandard}", "eastus2",
     "not DataZoneStandard; DataZoneStandard is offered for version 2 (Hosted on Azure)"),
    ("{model: claude-opus-4-8, sku: DataZoneStandard}", "swedencentral",
     "deployments.d1.sku: DataZoneStandard keeps data inside its data zone (us); swedencentral is in eu"),
    ("{model: claude-fable-5}", "centralus",
     "deployments.d1.sku: claude-fable-5 version 1 is not offered in centralus; locations: eastus2, swedencentral"),
])
def test_combinations_azure_refuses(tmp_path: Path, deployment: str, location: str, fragment: str) -> None:
    errs = errors(stack(tmp_path, deployment, location))
    assert len(errs) == 1, errs
    assert fragment in errs[0], errs


def test_data_zone_of_an_azure_hosted_version_in_the_us_is_fine(tmp_path: Path) -> None:
    spec = load_spec(stack(tmp_path, "{model: claude-opus-4-8, sku: DataZoneStandard}"))
    assert (spec.deployments["d1"].version, spec.deployments["d1"].sku) == ("2", "DataZoneStandard")


# --- lifecycle and auth -----------------------------------------------------------------------------


def test_a_retired_model_is_refused(tmp_path: Path) -> None:
    path = stack(tmp_path, "{model: claude-opus-4-1}")
    errs = errors(path)
    assert len(errs) == 1
    # Anthropic named no replacement for opus-4-1: the current models of its family instead
    assert errs[0].startswith(f"{path}:9: deployments.d1.model: claude-opus-4-1 retired on 2026-08-05; no "
                              "replacement named by Anthropic yet; current models of its family: claude-opus-")


def test_the_retired_original_example_is_refused_with_its_date_and_replacement(tmp_path: Path) -> None:
    # claude-sonnet-4-5 (the project's original example model) on purpose: it retired on 2026-11-30
    path = stack(tmp_path, "{model: claude-sonnet-4-5}")
    errs = errors(path)
    assert len(errs) == 1, errs
    assert errs[0].startswith(f"{path}:9: deployments.d1.model: claude-sonnet-4-5 retired on 2026-11-30; its "
                              "replacement is claude-sonnet-5-5")


def test_a_deprecated_model_warns_with_what_is_known(tmp_path: Path) -> None:
    # claude-opus-4-5 on purpose: deprecated, retiring 2027-01-22 (tentative)
    warnings: list = []
    load_spec(stack(tmp_path, "{model: claude-opus-4-5}"), warnings=warnings)
    assert [w.message for w in warnings] == [
        "claude-opus-4-5 is deprecated; it retires on 2027-01-22 (tentative: reported by a secondary source, not "
        "yet on Anthropic's deprecations page); its replacement is claude-opus-5-5"]


def test_a_model_newer_than_the_snapshot_warns_naming_the_snapshot_and_preflight(tmp_path: Path) -> None:
    warnings: list = []
    spec = load_spec(stack(tmp_path, "{model: claude-sonnet-6}"), warnings=warnings)
    dep = spec.deployments["d1"]
    assert (dep.model, dep.version, dep.capacity) == ("claude-sonnet-6", "1", 25)  # Anthropic's infrastructure
    assert len(warnings) == 1
    assert "claude-sonnet-6 is not in the catalogue snapshot of 2026-09-21" in warnings[0].message
    assert "`claude-foundry preflight` confirms it against Azure's live models list" in warnings[0].message
    azure = load_spec(stack(tmp_path, "{model: claude-sonnet-6, hosting: azure}")).deployments["d1"]
    assert azure.version == "2"


def test_an_announced_model_without_microsofts_details_validates_with_a_warning(tmp_path: Path) -> None:
    warnings: list = []
    spec = load_spec(stack(tmp_path, "{model: claude-fable-5-2}"), warnings=warnings)
    assert spec.deployments["d1"].version == "1"
    assert len(warnings) == 1
    assert "Microsoft has not published its offer details" in warnings[0].message
    assert "unverified" in warnings[0].message
    assert "preflight" in warnings[0].message


@pytest.mark.parametrize("typo", ["claude-sonet-5-5", "claude-sonnet-5.5", "claude-sonnett-5-5",
                                  "claude-sonnet-5-5-20261001", "Claude-Sonnet-5-5"])
def test_a_near_miss_of_a_known_model_is_an_error_with_did_you_mean(tmp_path: Path, typo: str) -> None:
    errs = errors(stack(tmp_path, f"{{model: {typo}}}"))
    assert len(errs) == 1, errs
    assert f"unknown model '{typo}': did you mean claude-sonnet-5-5?" in errs[0]


def test_an_id_that_is_no_claude_model_is_an_error(tmp_path: Path) -> None:
    errs = errors(stack(tmp_path, "{model: gpt-4o}"))
    assert len(errs) == 1
    assert "unknown model 'gpt-4o'; known: claude-" in errs[0]


def test_the_catalogue_says_its_age() -> None:
    words = load_catalogue().age_words(dt.date(2026, 12, 7))
    assert words.startswith("snapshot of 2026-09-21, lifecycle dates checked 2026-12-07 (77 days old")


def test_a_preview_model_warns(tmp_path: Path) -> None:
    warnings: list = []
    load_spec(stack(tmp_path, "{model: claude-fable-5}"), warnings=warnings)
    assert len(warnings) == 1
    assert "is in preview on Foundry" in warnings[0].message


def test_an_entra_only_model_in_a_key_stack_is_refused(tmp_path: Path) -> None:
    path = stack(tmp_path, "{model: claude-mythos-5}")
    assert errors(path) == [
        f"{path}:9: deployments.d1.model: claude-mythos-5 accepts Microsoft Entra ID only, but this stack enables "
        "key auth and exports a key: set foundry.disable_local_auth: true (or deploy it from an Entra-only stack)"]
    warnings: list = []
    spec = load_spec(stack(tmp_path, "{model: claude-mythos-5}", entra=True), warnings=warnings)
    assert spec.auth_mode == "entra"
    assert ["gated research preview" in w.message for w in warnings] == [True]


def test_deployment_defaults_hold_the_hosting_and_leave_the_content_filter_out(tmp_path: Path) -> None:
    dep = load_spec(stack(tmp_path, "{model: claude-haiku-4-5}")).deployments["d1"]
    assert dep.version_upgrade_option == "NoAutoUpgrade"
    assert dep.rai_policy is None
