"""Stack spec: loading, line marks, extends, and every kind of user mistake named precisely."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from claude_foundry import _contract as contract
from claude_foundry._catalogue import load_catalogue
from claude_foundry.cli import main
from claude_foundry.program.spec import SpecError, load_spec

ROOT = Path(__file__).resolve().parents[2]

GOOD = """\
environment: dev
location: eastus2
resource_group: rg-claude-dev
foundry:
  name: contoso-claude-dev
  model_provider:
    organization_name: Contoso
    country_code: US
    industry: technology
deployments:
  my-claude-deployment: {model: claude-sonnet-4-6, capacity: 50}
  fast: {model: claude-haiku-4-5}
key_vault: {name: kv-contoso-claude-dev}
"""


def write(tmp_path: Path, text: str, name: str = "stack.yaml") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def errors_of(path: Path) -> list[str]:
    with pytest.raises(SpecError) as info:
        load_spec(path)
    return [str(i) for i in info.value.issues]


def test_good_spec_resolves_catalogue_defaults(tmp_path: Path) -> None:
    spec = load_spec(write(tmp_path, GOOD))
    assert spec.deployments["my-claude-deployment"].capacity == 50
    fast = spec.deployments["fast"]
    # haiku-4-5 has both hostings: the Azure-hosted version 2 is the default, as in the Foundry portal;
    # sonnet-4-6 is Anthropic-hosted only (version 1).
    assert (fast.version, fast.capacity, fast.sku) == ("2", 25, "GlobalStandard")
    assert spec.deployments["my-claude-deployment"].version == "1"
    assert fast.version_upgrade_option == "NoAutoUpgrade"
    assert fast.rai_policy is None
    assert spec.auth_mode == contract.AUTH_MODE_KEY
    assert spec.base_url() == "https://contoso-claude-dev.services.ai.azure.com/anthropic"
    assert spec.deployment_map()["fast"].family == "haiku"
    assert spec.secret_names.api_key == "claude-foundry-api-key"
    assert spec.diagnostics.enabled
    assert spec.diagnostics.retention_days == 30


@pytest.mark.parametrize("stack", sorted((ROOT / "stacks").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_stacks_are_valid(stack: Path) -> None:
    spec = load_spec(stack)
    assert spec.deployments


def test_error_names_file_line_field_and_allowed(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("fast: {model: claude-haiku-4-5}",
                                        "fast: {model: claude-haiku-4-5, capacity: 0}"))
    assert errors_of(path) == [f"{path}:12: deployments.fast.capacity: must be an integer >= 1 (got 0)"]


def test_all_errors_at_once_sorted_by_line(tmp_path: Path) -> None:
    text = GOOD.replace("environment: dev", "environment: Dev").replace(
        "industry: technology", "industry: Technology").replace("capacity: 50", "capacity: lots")
    errs = errors_of(write(tmp_path, text))
    assert len(errs) == 3
    assert ":1: environment:" in errs[0]
    assert ":9: foundry.model_provider.industry: must be lower case" in errs[1]
    assert ":11: deployments.my-claude-deployment.capacity: must be an integer (got 'lots')" in errs[2]


def test_unknown_field_lists_allowed_fields(tmp_path: Path) -> None:
    errs = errors_of(write(tmp_path, GOOD.replace("fast: {model: claude-haiku-4-5}",
                                                  "fast: {model: claude-haiku-4-5, capacty: 5}")))
    assert len(errs) == 1
    assert "deployments.fast.capacty: unknown field; allowed here: model, hosting, version, sku, capacity" in errs[0]


def test_duplicate_keys_are_refused(tmp_path: Path) -> None:
    errs = errors_of(write(tmp_path, GOOD + "location: swedencentral\n"))
    assert errs == [f"{tmp_path / 'stack.yaml'}:14: location: duplicate key (first given at line 2); "
                    "YAML would silently keep only the last one"]


@pytest.mark.parametrize(("text", "expected"), [
    ("", "the file is empty"),
    ("# only a comment\n", "the file is empty"),
    ("- a\n- b\n", "the top level must be a mapping of fields, got a list"),
    ("just a string\n", "the top level must be a mapping of fields, got a str"),
    ("a: [1, 2\n", "not valid YAML"),
])
def test_empty_or_non_mapping_file(tmp_path: Path, text: str, expected: str) -> None:
    errs = errors_of(write(tmp_path, text))
    assert len(errs) == 1
    assert expected in errs[0]


def test_missing_file() -> None:
    with pytest.raises(SpecError, match=r"nope\.yaml: file not found"):
        load_spec("nope.yaml")


@pytest.mark.parametrize(("old", "new", "fragment"), [
    ("name: contoso-claude-dev", "name: Contoso_Dev", "foundry.name: must be 2-63 characters"),
    ("name: contoso-claude-dev", "name: -leading", "foundry.name: must be 2-63 characters"),
    ("{name: kv-contoso-claude-dev}", "{name: kv--double}", "key_vault.name: must be 3-24 characters"),
    ("{name: kv-contoso-claude-dev}", "{name: 1kv}", "key_vault.name: must be 3-24 characters"),
    ("{name: kv-contoso-claude-dev}", "{name: kv-this-name-is-far-too-long}", "key_vault.name: must be"),
    ("  fast:", "  f:", "deployments: deployment name 'f': 2-64 characters"),
    ("claude-haiku-4-5}", "claude-haiku-4.5}",
     "deployments.fast.model: unknown model 'claude-haiku-4.5': did you mean claude-haiku-4-5?"),
    ("claude-haiku-4-5}", "claude-haiku-4-5, version: '7'}",
     "deployments.fast.version: claude-haiku-4-5 has no version '7'; versions: 1 (Hosted on Anthropic "
     "infrastructure), 2 (Hosted on Azure)"),
    ("location: eastus2", "location: westus2", "location: Claude is not offered in 'westus2'"),
    ("location: eastus2", "location: westeurope", "location: Claude is not offered in 'westeurope'"),
    ("claude-haiku-4-5}", "claude-haiku-4-5, sku: Standard}", "deployments.fast.sku: must be one of"),
    ("country_code: US", "country_code: XX", "foundry.model_provider.country_code: must be an ISO-3166"),
    ("country_code: US", "country_code: us", "(upper case)"),
    ("industry: technology", "industry: farming", "industry: must be one of technology, finance"),
    ("industry: technology", "industry: Finance", "industry: must be lower case"),
    ("organization_name: Contoso", "organization_name: ''", "organization_name: must not be empty"),
    ("capacity: 50", "capacity: 5.5", "capacity: must be an integer"),
    ("resource_group: rg-claude-dev", "resource_group: rg.", "resource_group: must be 1-90"),
])
def test_naming_and_catalogue_rules(tmp_path: Path, old: str, new: str, fragment: str) -> None:
    assert old in GOOD
    errs = errors_of(write(tmp_path, GOOD.replace(old, new, 1)))
    assert any(fragment in e for e in errs), errs


def test_sku_not_offered_in_location(tmp_path: Path) -> None:
    text = GOOD.replace("location: eastus2", "location: swedencentral").replace(
        "claude-haiku-4-5}", "claude-haiku-4-5, sku: DataZoneStandard}")
    errs = errors_of(write(tmp_path, text))
    assert errs == [f"{tmp_path / 'stack.yaml'}:12: deployments.fast.sku: DataZoneStandard keeps data inside its "
                    "data zone (us); swedencentral is in eu: use GlobalStandard or a location in us"]


@pytest.mark.parametrize("secret", [
    "0123456789abcdef0123456789abcdef",
    "sk-ant-api03-abcdefghijklmnop",
    "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.sig",
])
def test_pasted_secret_is_refused_without_echoing_it(tmp_path: Path, secret: str) -> None:
    errs = errors_of(write(tmp_path, GOOD.replace("cost", "cost") + f"tags: {{note: '{secret}'}}\n"))
    assert any("tags.note: this value looks like a key or token" in e for e in errs), errs
    assert all(secret not in e for e in errs)


def test_secret_field_name_is_refused(tmp_path: Path) -> None:
    key = "Zx" * 42
    errs = errors_of(write(tmp_path, GOOD.replace("  name: contoso-claude-dev",
                                                  f"  name: contoso-claude-dev\n  api_key: {key}")))
    assert any("foundry.api_key: keys and tokens never belong in a stack file" in e for e in errs)
    assert all(key not in e for e in errs)


def test_extends_deep_merges_and_keeps_marks(tmp_path: Path) -> None:
    write(tmp_path, GOOD, "shared/base.yaml")
    child = write(tmp_path, """\
        extends: shared/base.yaml
        environment: prod
        foundry:
          name: contoso-claude-prod
        deployments:
          fast: {model: claude-haiku-4-5, capacity: 0}
          deep: {model: claude-opus-4-5}
        """, "prod.yaml")
    errs = errors_of(child)
    assert errs == [f"{child}:6: deployments.fast.capacity: must be an integer >= 1 (got 0)"]
    child.write_text(child.read_text().replace("capacity: 0", "capacity: 7"))
    spec = load_spec(child)
    assert spec.foundry.name == "contoso-claude-prod"
    assert spec.foundry.model_provider.organization_name == "Contoso"  # merged from base
    assert set(spec.deployments) == {"my-claude-deployment", "fast", "deep"}
    assert spec.deployments["fast"].capacity == 7


def test_extends_error_in_base_points_at_base_file(tmp_path: Path) -> None:
    base = write(tmp_path, GOOD.replace("country_code: US", "country_code: ZZ"), "base.yaml")
    child = write(tmp_path, "extends: base.yaml\nenvironment: prod\n", "prod.yaml")
    errs = errors_of(child)
    assert errs == [f"{base}:8: foundry.model_provider.country_code: must be an ISO-3166 alpha-2 country code "
                    "such as US, DE, SE (got 'ZZ')"]


def test_extends_null_removes_a_deployment(tmp_path: Path) -> None:
    write(tmp_path, GOOD, "base.yaml")
    spec = load_spec(write(tmp_path, "extends: base.yaml\ndeployments:\n  fast: null\n", "c.yaml"))
    assert set(spec.deployments) == {"my-claude-deployment"}


def test_extends_cycle_and_missing_file(tmp_path: Path) -> None:
    write(tmp_path, "extends: b.yaml\n", "a.yaml")
    write(tmp_path, "extends: a.yaml\n", "b.yaml")
    errs = errors_of(tmp_path / "a.yaml")
    assert len(errs) == 1
    assert "extends: extends cycle:" in errs[0]
    assert errs[0].endswith("a.yaml")
    errs = errors_of(write(tmp_path, "extends: missing.yaml\n", "c.yaml"))
    assert len(errs) == 1
    assert ":1: extends: file not found:" in errs[0]
    assert "missing.yaml" in errs[0]


def test_network_rules(tmp_path: Path) -> None:
    base = GOOD.replace("  name: contoso-claude-dev", "  name: contoso-claude-dev\n  network:\n"
                        "    ip_rules: [203.0.113.0/24, nonsense]")
    errs = errors_of(write(tmp_path, base))
    assert any("foundry.network.ip_rules: must be IPv4 addresses or CIDR ranges" in e
               and "'nonsense'" in e for e in errs), errs


def test_diagnostics_rules(tmp_path: Path) -> None:
    errs = errors_of(write(tmp_path, GOOD + "diagnostics: {retention_days: 7}\n"))
    assert errs == [f"{tmp_path / 'stack.yaml'}:14: diagnostics.retention_days: must be an integer >= 30 (got 7)"]


def test_access_principal_must_be_guid(tmp_path: Path) -> None:
    errs = errors_of(write(tmp_path, GOOD + "access:\n  claude_users:\n    - principal_id: alice\n"))
    assert len(errs) == 1
    assert ":16: access.claude_users[0].principal_id: must be an object id (GUID)" in errs[0]


def test_retired_model_is_refused_and_due_one_warns(tmp_path: Path) -> None:
    import datetime as dt

    cat = load_catalogue()
    models = dict(cat.models)
    models["claude-haiku-4-5"] = cat.models["claude-haiku-4-5"].model_copy(
        update={"retirement": dt.date(2000, 1, 1)})
    models["claude-sonnet-4-6"] = cat.models["claude-sonnet-4-6"].model_copy(
        update={"retirement": dt.date(2999, 1, 1)})
    retiring = cat.model_copy(update={"models": models})
    path = write(tmp_path, GOOD)
    with pytest.raises(SpecError) as info:
        load_spec(path, retiring)
    assert [str(i) for i in info.value.issues] == [
        f"{path}:12: deployments.fast.model: claude-haiku-4-5 retired on 2000-01-01; no replacement named by "
        "Anthropic yet; current models of its family: claude-haiku-5-5 (requests to a retired model fail and Azure "
        "takes no new deployments of it)"]
    warnings: list = []
    load_spec(write(tmp_path, GOOD.replace("  fast: {model: claude-haiku-4-5}\n", "")), retiring,
              warnings=warnings)
    assert [w.message for w in warnings] == [
        "claude-sonnet-4-6 is due to retire; it retires on 2999-01-01; no replacement named by Anthropic yet; "
        "current models of its family: claude-sonnet-5-5, claude-sonnet-5"]


def test_validate_cli_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = write(tmp_path, GOOD, "good.yaml")
    bad = write(tmp_path, GOOD.replace("capacity: 50", "capacity: 0"), "bad.yaml")
    assert main(["validate", str(good)]) == 0
    assert "ok" in capsys.readouterr().out
    assert main(["validate", str(good), str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:11: deployments.my-claude-deployment.capacity: must be an integer >= 1 (got 0)" in err
    assert "Traceback" not in err



def test_packaged_example_stack_is_the_dev_stack(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from claude_foundry.cli._demo import default_stack

    monkeypatch.chdir(tmp_path)  # outside the repository: the demo falls back to the packaged example
    packaged = default_stack()
    assert packaged.endswith("example-stack.yaml")
    assert load_spec(packaged) == load_spec(ROOT / "stacks" / "dev.yaml")


def test_deployment_names_that_trip_clients_warn(tmp_path: Path) -> None:
    """Upper case, and a name that is another model's id, validate with a warning naming the trap."""
    from claude_foundry.program.spec import load_spec

    stack = tmp_path / "s.yaml"
    stack.write_text(
        "environment: dev\nlocation: eastus2\nresource_group: rg-x\n"
        "foundry:\n  name: contoso-claude-x\n  model_provider: {organization_name: Contoso, country_code: US, "
        "industry: technology}\n"
        "deployments:\n  Team-Chat: {model: claude-haiku-4-5}\n  claude-opus-4-8: {model: claude-haiku-4-5}\n"
        "  claude-haiku-4-5: {model: claude-haiku-4-5}\n  fast: {model: claude-haiku-4-5}\n"
        "key_vault: {name: kv-contoso-x}\n", encoding="utf-8")
    warnings: list = []
    spec = load_spec(stack, warnings=warnings)
    assert set(spec.deployments) == {"Team-Chat", "claude-opus-4-8", "claude-haiku-4-5", "fast"}
    by_path = {w.path: w.message for w in warnings}
    assert "upper case" in by_path["deployments.Team-Chat"]
    assert "'team-chat'" in by_path["deployments.Team-Chat"]
    assert "another model's id but serves claude-haiku-4-5" in by_path["deployments.claude-opus-4-8"]
    assert "deployments.claude-haiku-4-5" not in by_path  # named after the model it serves: fine
    assert "deployments.fast" not in by_path
