"""The Pulumi policy pack (policy/) gives the same verdicts as ``claude-foundry plan --policy``.

There is no Pulumi CLI here: the pack's policy objects are imported and their validate callbacks are called
with pulumi-policy's own argument classes, the props wrapped in its unknown-checking proxy as the engine
hands them.
"""

from __future__ import annotations

import copy
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from claude_foundry.program import _armmap as armmap
from claude_foundry.program import policy as pol
from claude_foundry.program._plan import Plan, plan

pulumi_policy = pytest.importorskip("pulumi_policy")
from pulumi_policy import (  # noqa: E402
    PolicyCustomTimeouts,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy import PolicyResource as PulumiResource  # noqa: E402
from pulumi_policy.proxy import unknown_checking_proxy  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
PACK_DIR = ROOT / "policy"

Key = tuple[str, str, str]  # rule id, resource name, enforcement


@pytest.fixture(scope="module")
def pack() -> Any:
    spec = importlib.util.spec_from_file_location("claude_foundry_policy_pack", PACK_DIR / "__main__.py")
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)  # not __main__: builds the policies, starts no server
    finally:
        sys.modules.pop(spec.name, None)
    return module


def _opts(protect: bool) -> PolicyResourceOptions:
    return PolicyResourceOptions(protect=protect, ignore_changes=[], delete_before_replace=None, aliases=[],
                                 custom_timeouts=PolicyCustomTimeouts(0, 0, 0), additional_secret_outputs=[])


def _proxied(props: Any) -> Any:
    """Props as the engine hands them: plain values, unknowns as pulumi's sentinel strings, proxied."""
    def raw(v: Any) -> Any:
        if v is pol.UNKNOWN:
            return "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
        if isinstance(v, dict):
            return {k: raw(x) for k, x in v.items()}
        if isinstance(v, list):
            return [raw(x) for x in v]
        return v

    return unknown_checking_proxy(raw(copy.deepcopy(dict(props))))


def run_pack(pack: Any, resources: list[pol.PolicyResource],
             config: dict[str, dict[str, Any]] | None = None) -> tuple[set[Key], list[str]]:
    """Every policy of the pack over ``resources``: the (rule, resource, enforcement) it reports."""
    config = config or {}
    by_urn = {r.urn: r for r in resources}
    found: set[Key] = set()
    messages: list[str] = []
    for policy in pack.POLICIES:
        rule, level = pack.rule_of(policy.name)
        assert policy.enforcement_level.value == level

        if isinstance(policy, ResourceValidationPolicy):
            for r in resources:
                args = ResourceValidationArgs(r.type, _proxied(r.props), r.urn, r.name, _opts(r.protect), None,
                                              config.get(policy.name))

                def report(message: str, urn: str | None = None, _r: pol.PolicyResource = r, _rule: str = rule,
                           _level: str = level) -> None:
                    found.add((_rule, _r.name, _level))
                    messages.append(message)

                policy.validate(args, report)
        else:
            assert isinstance(policy, StackValidationPolicy)
            pres = {r.urn: PulumiResource(r.type, _proxied(r.props), r.urn, r.name, _opts(r.protect), None, None,
                                          [], {}) for r in resources}
            for r in resources:
                pres[r.urn].property_dependencies = {k: [pres[u] for u in v if u in pres]
                                                     for k, v in r.property_dependencies.items()}
            args = StackValidationArgs(list(pres.values()), config.get(policy.name))

            def report_stack(message: str, urn: str | None = None, _rule: str = rule, _level: str = level) -> None:
                found.add((_rule, by_urn[urn].name if urn else "", _level))
                messages.append(message)

            policy.validate(args, report_stack)
    return found, sorted(messages)


def offline(resources: list[pol.PolicyResource], config: pol.PolicyConfig | None = None) -> tuple[set[Key], list]:
    violations = pol.evaluate(resources, config)
    return {v.key() for v in violations}, sorted(v.message for v in violations)


def edited(p: Plan, type_token: str, mutate: Callable[[dict[str, Any]], None]) -> list[pol.PolicyResource]:
    out = []
    for r in pol.resources_of_plan(p):
        if r.type == type_token:
            props = copy.deepcopy(dict(r.props))
            mutate(props)
            r = pol.PolicyResource(r.type, r.name, props, r.urn, r.protect, r.property_dependencies)
        out.append(r)
    return out


# --- the pack itself ------------------------------------------------------------------------------------


def test_pack_files(pack):
    meta = yaml.safe_load((PACK_DIR / "PulumiPolicy.yaml").read_text(encoding="utf-8"))
    assert meta["runtime"]["name"] == "python"
    assert meta["description"]
    reqs = (PACK_DIR / "requirements.txt").read_text(encoding="utf-8")
    assert "pulumi-policy" in reqs
    assert 'if __name__ == "__main__":' in (PACK_DIR / "__main__.py").read_text(encoding="utf-8")


def test_one_policy_per_rule_and_level(pack):
    names = [p.name for p in pack.POLICIES]
    assert len(names) == len(set(names))
    expected = {pack.policy_name(r.id, level) for r in pol.RULES for level in r.levels}
    assert set(names) == expected
    for p in pack.POLICIES:
        rule = pol.RULES_BY_ID[pack.rule_of(p.name)[0]]
        assert isinstance(p, ResourceValidationPolicy if rule.scope == "resource" else StackValidationPolicy)


# --- same verdicts ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("base", "overrides"), [
    ("dev", ""),
    ("prod", ""),
    ("prod", "foundry: {disable_local_auth: false, network: {ip_rules: []}}\n"),
    ("prod", "key_vault: {purge_protection: false}\n"),
    ("dev", "diagnostics: {enabled: false}\n"),
    ("dev", "protect: true\n"),
    ("dev", "foundry: {network: {public_network_access: false}, disable_local_auth: true}\n"),
])
def test_pack_and_plan_policy_agree_on_stacks(pack, make_spec, dev_spec, prod_spec, base, overrides):
    spec = make_spec(base, overrides) if overrides else {"dev": dev_spec, "prod": prod_spec}[base]
    resources = pol.resources_of_plan(plan(spec))
    assert run_pack(pack, resources) == offline(resources)


def _drop_provider_data(p: dict[str, Any]) -> None:
    if p.get("resourceType") == "deployments":
        p["properties"].pop("modelProviderData")


@pytest.mark.parametrize(("type_token", "mutate"), [
    (armmap.WORKSPACE, lambda p: p.update(retentionInDays=7)),
    (armmap.VAULT, lambda p: p["properties"].update(enableRbacAuthorization=False)),
    (armmap.ACCOUNT, lambda p: p.update(location="westus2")),       # haiku is not offered there
    (armmap.ACCOUNT, lambda p: p.update(location="westeurope")),
    (armmap.GENERIC_RESOURCE, _drop_provider_data),
    (armmap.GENERIC_RESOURCE, lambda p: p["properties"]["model"].update(name="claude-imaginary-9")),
    (armmap.DIAGNOSTIC_SETTING, lambda p: p.update(resourceUri=pol.UNKNOWN, workspaceId=pol.UNKNOWN)),
    (armmap.ACCOUNT, lambda p: p["properties"].update(disableLocalAuth=pol.UNKNOWN)),
])
def test_pack_and_plan_policy_agree_on_edited_resources(pack, dev_plan, prod_plan, type_token, mutate):
    for p in (dev_plan, prod_plan):
        resources = edited(p, type_token, mutate)
        pack_verdict = run_pack(pack, resources)
        assert pack_verdict == offline(resources)


def test_bad_plans_are_caught_by_both(pack, make_spec):
    resources = pol.resources_of_plan(plan(make_spec("prod", "foundry: {disable_local_auth: false}\n")))
    found, _ = run_pack(pack, resources)
    assert (pol.R_LOCAL_AUTH, "claude-foundry-foundry-account", pol.MANDATORY) in found


def test_allowed_locations_config_agrees(pack, prod_plan):
    resources = pol.resources_of_plan(prod_plan)
    config = {pack.policy_name(pol.R_LOCATION, pol.MANDATORY): {"allowedLocations": ["westus2"]}}
    pack_found, _ = run_pack(pack, resources, config)
    assert pack_found == offline(resources, pol.PolicyConfig(allowed_locations=("westus2",)))[0]
    assert (pol.R_LOCATION, "claude-foundry-foundry-account", pol.MANDATORY) in pack_found
