"""Policy rules (claude_foundry.program.policy) over real plans: each rule fails a bad plan and passes a good one."""

from __future__ import annotations

import copy
import json
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from claude_foundry import cli
from claude_foundry._azure import arm
from claude_foundry.program import _armmap as armmap
from claude_foundry.program import policy as pol
from claude_foundry.program._plan import Plan, plan
from claude_foundry.program.spec import Spec, load_spec
from claude_foundry_sandbox.testing import extends_line

pytest.importorskip("pulumi")
pytest.importorskip("pulumi_azure_native")

ROOT = Path(__file__).resolve().parents[2]
STACKS = ROOT / "stacks"


@pytest.fixture(scope="module")
def dev_plan() -> Plan:
    return plan(load_spec(STACKS / "dev.yaml"))


@pytest.fixture(scope="module")
def prod_plan() -> Plan:
    return plan(load_spec(STACKS / "prod.yaml"))


@pytest.fixture
def spec_file(tmp_path: Path) -> Callable[[str, str], Path]:
    counter = iter(range(1000))

    def make(base: str, overrides: str) -> Path:
        path = tmp_path / f"stack{next(counter)}.yaml"
        path.write_text(extends_line(STACKS / (base + '.yaml')) + textwrap.dedent(overrides), encoding="utf-8")
        return path

    return make


@pytest.fixture
def plan_of(spec_file) -> Callable[[str, str], Plan]:
    def make(base: str, overrides: str) -> Plan:
        spec: Spec = load_spec(spec_file(base, overrides))
        return plan(spec)

    return make


def views(p: Plan) -> list[pol.PolicyResource]:
    return pol.resources_of_plan(p)


def edited(p: Plan, type_token: str, mutate: Callable[[dict[str, Any]], None],
           name: str | None = None) -> list[pol.PolicyResource]:
    """The plan's resources with ``mutate`` applied to a copy of the inputs of those of ``type_token``."""
    out = []
    for r in views(p):
        if r.type == type_token and (name is None or r.name == name):
            props = copy.deepcopy(dict(r.props))
            mutate(props)
            r = pol.PolicyResource(r.type, r.name, props, r.urn, r.protect, r.property_dependencies)
        out.append(r)
    return out


def found(violations: list[pol.Violation], rule: str, level: str | None = None) -> list[pol.Violation]:
    return [v for v in violations if v.rule == rule and (level is None or v.enforcement == level)]


def mandatory(violations: list[pol.Violation]) -> list[pol.Violation]:
    return [v for v in violations if v.mandatory]


# --- the shipped stacks ---------------------------------------------------------------------------------


def test_dev_has_no_mandatory_violation_and_four_advisories(dev_plan):
    violations = pol.check_plan(dev_plan)
    assert mandatory(violations) == []
    assert sorted(v.rule for v in violations) == sorted([pol.R_LOCAL_AUTH, pol.R_PUBLIC_NETWORK, pol.R_ALERTS,
                                                         pol.R_BUDGET])
    assert all(v.resource == "claude-foundry-foundry-account" for v in violations)


def test_prod_passes_every_rule_but_the_dashboard_advisory(prod_plan):
    # stacks/prod.yaml predates monitoring.dashboard (its golden plan must not change): only that advice
    assert [(v.rule, v.enforcement, v.resource) for v in pol.check_plan(prod_plan)] == [
        (pol.R_DASHBOARD, pol.ADVISORY, "claude-foundry-foundry-account")]


def test_prod_with_a_dashboard_passes_every_rule(plan_of):
    assert pol.check_plan(plan_of("prod", "monitoring: {dashboard: true}\n")) == []


def test_dashboard_rule_is_production_only_and_follows_every_account(dev_plan, plan_of):
    assert found(pol.check_plan(dev_plan), pol.R_DASHBOARD) == []
    accounts = ("accounts:\n  west: {name: contoso-claude-prod-w, location: westus3, network: {ip_rules: []}}\n")
    without = pol.check_plan(plan_of("prod", accounts))
    assert sorted(v.resource for v in found(without, pol.R_DASHBOARD, pol.ADVISORY)) == [
        "claude-foundry-foundry-account", "claude-foundry-foundry-west-account"]
    with_one = plan_of("prod", accounts + "monitoring: {dashboard: true}\n")
    assert found(pol.check_plan(with_one), pol.R_DASHBOARD) == []
    # a workbook of another resource group that names neither account does not count
    other = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/elsewhere"
    moved = edited(with_one, arm.WORKBOOK, lambda p: p.update(sourceId=other, serializedData="{}"))
    assert len(found(pol.evaluate(moved), pol.R_DASHBOARD)) == 2
    # one that names the account in its content does; an unknown content (a preview) is never flagged
    named = edited(with_one, arm.WORKBOOK, lambda p: p.update(
        sourceId=other, serializedData=json.dumps({"resourceIds": [
            other.replace("elsewhere", "rg-claude-prod") + "/providers/Microsoft.CognitiveServices/accounts/"
            "contoso-claude-prod"]})))
    assert [v.resource for v in found(pol.evaluate(named), pol.R_DASHBOARD)] == ["claude-foundry-foundry-west-account"]
    unknown = edited(with_one, arm.WORKBOOK, lambda p: p.update(sourceId=other, serializedData=pol.UNKNOWN))
    assert found(pol.evaluate(unknown), pol.R_DASHBOARD) == []


def test_rules_have_unique_ids_and_known_levels():
    assert len({r.id for r in pol.RULES}) == len(pol.RULES)
    for rule in pol.RULES:
        assert rule.scope in ("resource", "stack")
        assert set(rule.levels) <= set(pol.LEVELS)


# --- production ----------------------------------------------------------------------------------------


def test_production_is_the_environment_name_or_protect(dev_plan, prod_plan):
    dev_account = next(r for r in views(dev_plan) if r.type == armmap.ACCOUNT)
    prod_account = next(r for r in views(prod_plan) if r.type == armmap.ACCOUNT)
    assert not dev_account.production
    assert prod_account.production
    assert prod_account.environment == "prod"
    assert pol.PolicyResource(armmap.ACCOUNT, "a", {}, urn="urn:pulumi:production::p::t::a").production
    assert pol.PolicyResource(armmap.ACCOUNT, "a", {"tags": {"environment": "prod"}}).production
    assert pol.PolicyResource(armmap.ACCOUNT, "a", {}, protect=True).production
    assert not pol.PolicyResource(armmap.ACCOUNT, "a", {}, urn="urn:pulumi:staging::p::t::a").production


def test_protect_makes_a_dev_stack_production(plan_of):
    violations = pol.check_plan(plan_of("dev", "protect: true\n"))
    assert found(violations, pol.R_LOCAL_AUTH, pol.MANDATORY)
    assert found(violations, pol.R_VAULT_PURGE, pol.MANDATORY)
    assert found(violations, pol.R_PUBLIC_NETWORK, pol.MANDATORY)


# --- allowed-location ------------------------------------------------------------------------------------


def test_account_outside_the_catalogue_locations_fails(dev_plan):
    resources = edited(dev_plan, armmap.ACCOUNT, lambda p: p.update(location="westeurope"))
    v = found(pol.evaluate(resources), pol.R_LOCATION, pol.MANDATORY)
    assert [x.resource for x in v] == ["claude-foundry-foundry-account"]
    assert "westeurope" in v[0].message
    assert found(pol.check_plan(dev_plan), pol.R_LOCATION) == []


def test_configured_locations_narrow_every_located_resource(dev_plan):
    narrowed = pol.evaluate(views(dev_plan), pol.PolicyConfig(allowed_locations=("West US 2",)))
    names = {v.resource for v in found(narrowed, pol.R_LOCATION, pol.MANDATORY)}
    assert {"claude-foundry-foundry-account", "claude-foundry-vault-vault", "claude-foundry-rg"} <= names
    ok = pol.evaluate(views(dev_plan), pol.PolicyConfig(allowed_locations=("eastus2",)))
    assert found(ok, pol.R_LOCATION) == []


# --- allowed-model / model-location ---------------------------------------------------------------------


def _model(p: dict[str, Any]) -> dict[str, Any]:
    return p["properties"]["model"]


def _props(p: dict[str, Any]) -> dict[str, Any]:
    return p["properties"]


@pytest.mark.parametrize(("change", "text"), [
    ({"name": "claude-sonet-5-5"}, "not in the catalogue"),
    ({"version": "42"}, "version '42'"),
    ({"format": "OpenAI"}, "format must be 'Anthropic'"),
])
def test_unknown_model_version_or_format_fails(dev_plan, change, text):
    resources = edited(dev_plan, armmap.GENERIC_RESOURCE, lambda p: _model(p).update(change),
                       name="claude-foundry-deployments-fast")
    v = found(pol.evaluate(resources), pol.R_MODEL, pol.MANDATORY)
    assert [x.resource for x in v] == ["claude-foundry-deployments-fast"]
    assert text in v[0].message
    assert found(pol.check_plan(dev_plan), pol.R_MODEL) == []


def test_non_claude_deployments_are_not_judged(dev_plan):
    def gpt(p: dict[str, Any]) -> None:
        _model(p).update(name="gpt-4o", format="OpenAI", version="2024-11-20")
        del _props(p)["modelProviderData"]

    resources = edited(dev_plan, armmap.GENERIC_RESOURCE, gpt, name="claude-foundry-deployments-fast")
    assert mandatory(pol.evaluate(resources)) == []


def test_model_not_offered_in_the_account_location_fails(dev_plan):
    # claude-fable-5 (version 1) is offered in eastus2 and swedencentral only, not centralus
    def fable(p: dict[str, Any]) -> None:
        p["properties"]["model"].update(name="claude-fable-5", version="1")

    resources = edited(dev_plan, armmap.GENERIC_RESOURCE, fable, name="claude-foundry-deployments-fast")
    moved = [pol.PolicyResource(r.type, r.name, {**dict(r.props), "location": "centralus"}, r.urn, r.protect,
                                r.property_dependencies) if r.type == armmap.ACCOUNT else r for r in resources]
    v = found(pol.evaluate(moved), pol.R_MODEL_LOCATION, pol.MANDATORY)
    assert [x.resource for x in v] == ["claude-foundry-deployments-fast"]
    assert "claude-fable-5 version 1 is not offered in centralus; locations: eastus2, swedencentral" in v[0].message
    assert found(pol.evaluate(resources), pol.R_MODEL_LOCATION) == []
    assert found(pol.check_plan(dev_plan), pol.R_MODEL_LOCATION) == []


def test_data_zone_sku_of_an_anthropic_hosted_version_fails(dev_plan):
    # DataZoneStandard exists only for the Azure-hosted (version 2) deployments of a few models
    def anthropic_hosted_in_data_zone(p):
        p["sku"].update(name="DataZoneStandard")
        p["properties"]["model"].update(version="1")

    resources = edited(dev_plan, armmap.GENERIC_RESOURCE, anthropic_hosted_in_data_zone,
                       name="claude-foundry-deployments-my-claude-deployment")
    v = found(pol.evaluate(resources), pol.R_MODEL_LOCATION, pol.MANDATORY)
    assert len(v) == 1
    assert "claude-sonnet-5-5 version 1 (Hosted on Anthropic infrastructure) is offered as GlobalStandard, not " \
           "DataZoneStandard" in v[0].message


# --- model-provider-data ------------------------------------------------------------------------------


@pytest.mark.parametrize(("mutate", "text"), [
    (lambda m: m.pop("modelProviderData"), "missing"),
    (lambda m: m["modelProviderData"].update(countryCode="us"), "countryCode"),
    (lambda m: m["modelProviderData"].update(countryCode="XX"), "countryCode"),
    (lambda m: m["modelProviderData"].update(industry="Technology"), "industry"),
    (lambda m: m["modelProviderData"].update(organizationName="  "), "organizationName"),
    (lambda m: m["modelProviderData"].pop("organizationName"), "organizationName"),
])
def test_incomplete_model_provider_data_fails(dev_plan, mutate, text):
    resources = edited(dev_plan, armmap.GENERIC_RESOURCE, lambda p: mutate(_props(p)),
                       name="claude-foundry-deployments-my-claude-deployment")
    v = found(pol.evaluate(resources), pol.R_PROVIDER_DATA, pol.MANDATORY)
    assert [x.resource for x in v] == ["claude-foundry-deployments-my-claude-deployment"]
    assert text in v[0].message


def test_provider_data_inside_model_is_in_the_wrong_place(dev_plan):
    def nest(p: dict[str, Any]) -> None:
        _model(p)["modelProviderData"] = _props(p).pop("modelProviderData")

    resources = edited(dev_plan, armmap.GENERIC_RESOURCE, nest, name="claude-foundry-deployments-fast")
    v = found(pol.evaluate(resources), pol.R_PROVIDER_DATA, pol.MANDATORY)
    assert [x.resource for x in v] == ["claude-foundry-deployments-fast"]
    assert "belongs next to model" in v[0].message


def test_typed_deployment_of_claude_fails():
    res = pol.PolicyResource(pol.TYPED_DEPLOYMENT, "typed", {
        "accountName": "a", "properties": {"model": {"format": "Anthropic", "name": "claude-sonnet-4-6",
                                                     "version": "1"}}})
    assert [v.rule for v in pol.evaluate([res])] == [pol.R_PROVIDER_DATA]


# --- Key Vault ------------------------------------------------------------------------------------------


def test_vault_without_rbac_fails(prod_plan):
    resources = edited(prod_plan, armmap.VAULT, lambda p: p["properties"].update(enableRbacAuthorization=False))
    assert [v.resource for v in found(pol.evaluate(resources), pol.R_VAULT_RBAC, pol.MANDATORY)] == [
        "claude-foundry-vault-vault"]
    resources = edited(prod_plan, armmap.VAULT, lambda p: p["properties"].pop("enableRbacAuthorization"))
    assert found(pol.evaluate(resources), pol.R_VAULT_RBAC, pol.MANDATORY)


def test_prod_vault_without_purge_protection_fails(plan_of, dev_plan):
    violations = pol.check_plan(plan_of("prod", "key_vault: {purge_protection: false}\n"))
    assert [v.resource for v in found(violations, pol.R_VAULT_PURGE, pol.MANDATORY)] == [
        "claude-foundry-vault-vault"]
    assert found(pol.check_plan(dev_plan), pol.R_VAULT_PURGE) == []  # not production: not judged


# --- local auth -----------------------------------------------------------------------------------------


def test_local_auth_is_mandatory_in_prod_and_advisory_in_dev(plan_of, dev_plan):
    violations = pol.check_plan(plan_of("prod", "foundry: {disable_local_auth: false}\n"))
    assert [v.enforcement for v in found(violations, pol.R_LOCAL_AUTH)] == [pol.MANDATORY]
    assert [v.enforcement for v in found(pol.check_plan(dev_plan), pol.R_LOCAL_AUTH)] == [pol.ADVISORY]
    entra_dev = pol.check_plan(plan_of("dev", "foundry: {disable_local_auth: true}\n"))
    assert found(entra_dev, pol.R_LOCAL_AUTH) == []


# --- diagnostics ----------------------------------------------------------------------------------------


def test_no_diagnostics_fails(plan_of):
    violations = pol.check_plan(plan_of("dev", "diagnostics: {enabled: false}\n"))
    v = found(violations, pol.R_DIAGNOSTICS, pol.MANDATORY)
    assert [x.resource for x in v] == ["claude-foundry-foundry-account"]


def test_short_workspace_retention_fails(dev_plan):
    resources = edited(dev_plan, armmap.WORKSPACE, lambda p: p.update(retentionInDays=7))
    v = found(pol.evaluate(resources), pol.R_DIAGNOSTICS, pol.MANDATORY)
    assert [x.resource for x in v] == ["claude-foundry-diagnostics-account"]
    assert "7 days" in v[0].message


def test_setting_without_logs_fails(dev_plan):
    resources = edited(dev_plan, armmap.DIAGNOSTIC_SETTING, lambda p: p.update(logs=[]),
                       name="claude-foundry-diagnostics-account")
    assert found(pol.evaluate(resources), pol.R_DIAGNOSTICS, pol.MANDATORY)


def test_setting_on_the_vault_only_does_not_count(dev_plan):
    resources = [r for r in views(dev_plan) if r.name != "claude-foundry-diagnostics-account"]
    assert found(pol.evaluate(resources), pol.R_DIAGNOSTICS, pol.MANDATORY)


def test_existing_workspace_passes(plan_of):
    wid = ("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-logs/providers/"
           "Microsoft.OperationalInsights/workspaces/central-logs")
    p = plan_of("dev", f"diagnostics: {{workspace_id: {wid}}}\n")
    assert not p.of_type(armmap.WORKSPACE)
    assert found(pol.check_plan(p), pol.R_DIAGNOSTICS) == []


def test_diagnostics_match_through_property_dependencies_when_ids_are_unknown(dev_plan):
    """In a preview the account id is unknown; the setting's resourceUri dependency still ties them."""
    resources = edited(dev_plan, armmap.DIAGNOSTIC_SETTING,
                       lambda p: p.update(resourceUri=pol.UNKNOWN, workspaceId=pol.UNKNOWN))
    assert found(pol.evaluate(resources), pol.R_DIAGNOSTICS) == []
    short = [r if r.type != armmap.WORKSPACE else
             pol.PolicyResource(r.type, r.name, {**r.props, "retentionInDays": 7}, r.urn, r.protect)
             for r in resources]
    assert found(pol.evaluate(short), pol.R_DIAGNOSTICS, pol.MANDATORY)


# --- public network -------------------------------------------------------------------------------------


def test_open_public_network_is_mandatory_in_prod(plan_of):
    violations = pol.check_plan(plan_of("prod", "foundry: {network: {ip_rules: []}}\n"))
    assert [v.enforcement for v in found(violations, pol.R_PUBLIC_NETWORK)] == [pol.MANDATORY]


def test_the_allow_tag_keeps_open_prod_network_advisory(plan_of):
    violations = pol.check_plan(plan_of("prod", f"""\
        foundry: {{network: {{ip_rules: []}}}}
        tags: {{{pol.ALLOW_PUBLIC_NETWORK_TAG}: "true"}}
        """))
    assert [v.enforcement for v in found(violations, pol.R_PUBLIC_NETWORK)] == [pol.ADVISORY]


def test_an_explicit_public_network_in_the_spec_keeps_open_prod_network_advisory(plan_of):
    violations = pol.check_plan(plan_of("prod", "foundry: {network: {ip_rules: [], public_network_access: true}}\n"))
    assert [v.enforcement for v in found(violations, pol.R_PUBLIC_NETWORK)] == [pol.ADVISORY]
    assert "allowed by the tag" in found(violations, pol.R_PUBLIC_NETWORK)[0].message


def test_closed_or_ip_restricted_networks_pass(plan_of, prod_plan):
    assert found(pol.check_plan(prod_plan), pol.R_PUBLIC_NETWORK) == []  # ip rules
    closed = pol.check_plan(plan_of("dev", "foundry: {network: {public_network_access: false}}\n"))
    assert found(closed, pol.R_PUBLIC_NETWORK) == []


def test_open_network_is_advisory_in_dev(dev_plan):
    assert [v.enforcement for v in found(pol.check_plan(dev_plan), pol.R_PUBLIC_NETWORK)] == [pol.ADVISORY]


# --- unknown values (preview) ---------------------------------------------------------------------------


def test_unknown_values_are_never_flagged():
    string_unknown = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
    account = pol.from_pulumi(armmap.ACCOUNT, {
        "accountName": "a", "location": "eastus2", "tags": {"environment": "prod"},
        "properties": {"disableLocalAuth": "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7",
                       "publicNetworkAccess": string_unknown}}, urn="urn:pulumi:prod::p::t::acc")
    assert account.props["properties"]["disableLocalAuth"] is pol.UNKNOWN
    assert pol.evaluate([account], rules=[pol.RULES_BY_ID[pol.R_LOCAL_AUTH],
                                          pol.RULES_BY_ID[pol.R_PUBLIC_NETWORK]]) == []


# --- claude-foundry plan --policy ----------------------------------------------------------------------


def test_plan_policy_exit_codes_and_output(spec_file, capsys):
    assert cli.main(["plan", str(STACKS / "dev.yaml"), "--policy"]) == 0
    out = capsys.readouterr().out
    assert "ADVISORY" in out
    assert pol.R_PUBLIC_NETWORK in out
    assert "0 mandatory, 4 advisory" in out

    bad = spec_file("prod", "foundry: {disable_local_auth: false}\n")
    assert cli.main(["plan", str(bad), "--policy"]) == 1
    captured = capsys.readouterr()
    assert "MANDATORY" in captured.out
    assert pol.R_LOCAL_AUTH in captured.out
    assert "mandatory policy violation" in captured.err


def test_plan_policy_json_and_allowed_locations(capsys):
    assert cli.main(["plan", str(STACKS / "prod.yaml"), "--policy", "--json",
                     "--allowed-location", "swedencentral"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["stack"] == "prod"
    assert data["mandatory"] >= 1
    assert {v["rule"] for v in data["violations"] if v["enforcement"] == pol.MANDATORY} == {pol.R_LOCATION}
    assert cli.main(["plan", str(STACKS / "prod.yaml"), "--policy", "--json"]) == 0  # advisories never fail
    assert [(v["rule"], v["enforcement"]) for v in json.loads(capsys.readouterr().out)["violations"]] == [
        (pol.R_DASHBOARD, pol.ADVISORY)]


# --- alerts and budget ----------------------------------------------------------------------------------

ALERTS_AND_BUDGET = "alerts: {emails: [oncall@contoso.com]}\nbudget: {amount: 100}\n"


def test_alerts_and_budget_are_mandatory_in_prod(plan_of):
    violations = pol.check_plan(plan_of("prod", "alerts: null\nbudget: null\nmonitoring: {dashboard: true}\n"))
    assert [(v.rule, v.enforcement) for v in violations] == [(pol.R_ALERTS, pol.MANDATORY),
                                                             (pol.R_BUDGET, pol.MANDATORY)]
    assert all(v.resource == "claude-foundry-foundry-account" for v in violations)
    assert "alerts:" in violations[0].message
    assert "budget:" in violations[1].message
    off = pol.check_plan(plan_of("prod", "alerts: {enabled: false}\nbudget: {enabled: false, amount: 1}\n"))
    assert {v.rule for v in mandatory(off)} == {pol.R_ALERTS, pol.R_BUDGET}


def test_alerts_and_budget_are_advisory_in_dev_and_pass_when_on(dev_plan, plan_of):
    assert [v.enforcement for v in found(pol.check_plan(dev_plan), pol.R_ALERTS)] == [pol.ADVISORY]
    assert [v.enforcement for v in found(pol.check_plan(dev_plan), pol.R_BUDGET)] == [pol.ADVISORY]
    on = pol.check_plan(plan_of("dev", ALERTS_AND_BUDGET))
    assert found(on, pol.R_ALERTS) == []
    assert found(on, pol.R_BUDGET) == []


def test_protect_makes_missing_alerts_and_budget_mandatory(plan_of):
    violations = pol.check_plan(plan_of("dev", "protect: true\n"))
    assert found(violations, pol.R_ALERTS, pol.MANDATORY)
    assert found(violations, pol.R_BUDGET, pol.MANDATORY)


def test_alerts_without_receivers_or_disabled_fail(prod_plan):
    def no_receivers(p: dict[str, Any]) -> None:
        p["emailReceivers"] = []

    v = found(pol.evaluate(edited(prod_plan, arm.ACTION_GROUP, no_receivers)), pol.R_ALERTS, pol.MANDATORY)
    assert len(v) == 1
    assert "notify nobody" in v[0].message
    v = found(pol.evaluate(edited(prod_plan, arm.METRIC_ALERT, lambda p: p.update(enabled=False))), pol.R_ALERTS)
    assert [x.enforcement for x in v] == [pol.MANDATORY]
    elsewhere = "/subscriptions/x/resourceGroups/other/providers/Microsoft.CognitiveServices/accounts/other"
    v = found(pol.evaluate(edited(prod_plan, arm.METRIC_ALERT, lambda p: p.update(scopes=[elsewhere]))),
              pol.R_ALERTS)
    assert len(v) == 1  # an alert on another account does not count (no dependency on this one either)


def test_a_budget_elsewhere_or_without_notifications_fails(prod_plan):
    other = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-other"
    v = found(pol.evaluate(edited(prod_plan, arm.BUDGET, lambda p: p.update(scope=other))), pol.R_BUDGET)
    assert [x.enforcement for x in v] == [pol.MANDATORY]
    sub_scope = "/subscriptions/00000000-0000-0000-0000-000000000000"
    assert found(pol.evaluate(edited(prod_plan, arm.BUDGET, lambda p: p.update(scope=sub_scope))), pol.R_BUDGET) == []
    v = found(pol.evaluate(edited(prod_plan, arm.BUDGET, lambda p: p.update(notifications={}))), pol.R_BUDGET)
    assert len(v) == 1
    assert "no enabled notification" in v[0].message


def test_alerts_and_budget_seen_as_outputs_or_unknown(prod_plan):
    """The Pulumi path: a stack policy sees a budget's outputs (no scope, an id) and, in a preview, unknowns."""
    def as_outputs(p: dict[str, Any]) -> None:
        scope = p.pop("scope")
        p["id"] = f"{scope}/providers/Microsoft.Consumption/budgets/{p['budgetName']}"

    assert found(pol.evaluate(edited(prod_plan, arm.BUDGET, as_outputs)), pol.R_BUDGET) == []
    unknown = edited(prod_plan, arm.BUDGET, lambda p: p.update(scope=pol.UNKNOWN, notifications=pol.UNKNOWN))
    assert found(pol.evaluate(unknown), pol.R_BUDGET) == []
    unknown = edited(prod_plan, arm.METRIC_ALERT, lambda p: p.update(scopes=pol.UNKNOWN, actions=pol.UNKNOWN))
    assert found(pol.evaluate(unknown), pol.R_ALERTS) == []


def test_global_alert_resources_pass_narrowed_locations(prod_plan):
    ok = pol.evaluate(views(prod_plan), pol.PolicyConfig(allowed_locations=("eastus2",)))
    assert found(ok, pol.R_LOCATION) == []


# --- public network: private access (private_network) in production ------------------------------------

PRIVATE = "private_network: {address_space: 10.40.0.0/16, subnet_prefix: 10.40.1.0/24}\n"


def test_private_prod_passes_the_network_rule_and_every_other(plan_of):
    p = plan_of("prod", "foundry: {network: {ip_rules: []}}\nmonitoring: {dashboard: true}\n" + PRIVATE)
    account = next(r for r in views(p) if r.type == armmap.ACCOUNT)
    assert account.get("properties.publicNetworkAccess") == "Disabled"
    assert pol.private_access(account) is True
    assert pol.check_plan(p) == []


def test_public_prod_without_the_waiver_fails_and_names_private_network(plan_of):
    violations = found(pol.check_plan(plan_of("prod", "foundry: {network: {ip_rules: []}}\n")), pol.R_PUBLIC_NETWORK)
    assert [v.enforcement for v in violations] == [pol.MANDATORY]
    assert "private_network" in violations[0].message


def test_the_waiver_still_keeps_public_prod_advisory(plan_of):
    v = found(pol.check_plan(plan_of("prod", "foundry: {network: {ip_rules: [], public_network_access: true}}\n")),
              pol.R_PUBLIC_NETWORK)
    assert [x.enforcement for x in v] == [pol.ADVISORY]
    assert pol.ALLOW_PUBLIC_NETWORK_TAG in v[0].message


def test_private_access_is_unknown_during_a_preview():
    unknown = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # pulumi-policy's unknown string
    account = pol.from_pulumi(armmap.ACCOUNT, {"properties": {"publicNetworkAccess": unknown}},
                              urn="urn:pulumi:prod::p::t::acc")
    assert pol.private_access(account) is None
    assert pol.RULES_BY_ID[pol.R_PUBLIC_NETWORK].run_resource(account) == []
