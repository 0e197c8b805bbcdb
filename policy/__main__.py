"""claude-foundry's Pulumi policy pack: ``pulumi preview --policy-pack policy``.

No rule lives here. Every policy calls a rule of :mod:`claude_foundry.program.policy` — the same functions
``claude-foundry plan STACK --policy`` runs offline — on the neutral view built from what pulumi-policy
hands it (``args.resource_type``, ``args.props`` in camelCase, ``args.urn``, ``args.opts.protect``,
property dependencies).

A rule whose violations can be mandatory or advisory (production or not) becomes two policies, since a
Pulumi policy has one enforcement level: ``<rule id>`` (mandatory) reports the mandatory ones and
``<rule id>-advisory`` (advisory) the advisory ones.

Configuration (``--policy-pack-config``, see ``config.example.json``): ``allowed-location`` takes
``allowedLocations``, a list narrowing the catalogue's locations.

Pulumi runs this file as ``__main__``; importing it (the tests do) only builds the policies.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    PolicyPack,
    ResourceValidationPolicy,
    StackValidationPolicy,
)

from claude_foundry.program import policy as rules

PACK_NAME = "claude-foundry"

_LEVELS = {rules.MANDATORY: EnforcementLevel.MANDATORY, rules.ADVISORY: EnforcementLevel.ADVISORY}

_CONFIG_SCHEMAS = {
    rules.R_LOCATION: PolicyConfigSchema(properties={
        "allowedLocations": {"type": "array", "items": {"type": "string"},
                             "description": "Azure locations allowed (narrows the catalogue's)."},
    }),
}


def policy_name(rule_id: str, level: str) -> str:
    """The pack's policy name for the violations of ``rule_id`` at ``level``."""
    return rule_id if level == rules.MANDATORY else f"{rule_id}-advisory"


def rule_of(policy_name_: str) -> tuple[str, str]:
    """(rule id, enforcement) of a policy of this pack."""
    if policy_name_.endswith("-advisory"):
        return policy_name_[: -len("-advisory")], rules.ADVISORY
    return policy_name_, rules.MANDATORY


def resource_view(args: Any) -> rules.PolicyResource:
    """A ``ResourceValidationArgs`` as the rules see it."""
    opts = getattr(args, "opts", None)
    return rules.from_pulumi(args.resource_type, args.props, urn=args.urn, name=args.name,
                             protect=bool(getattr(opts, "protect", False)))


def stack_views(args: Any) -> list[rules.PolicyResource]:
    """The resources of a ``StackValidationArgs`` as the rules see them."""
    out = []
    for r in args.resources:
        opts = getattr(r, "opts", None)
        deps = {k: [d.urn for d in v] for k, v in (getattr(r, "property_dependencies", None) or {}).items()}
        out.append(rules.from_pulumi(r.resource_type, r.props, urn=r.urn, name=r.name,
                                     protect=bool(getattr(opts, "protect", False)), property_dependencies=deps))
    return out


def _config(args: Any) -> rules.PolicyConfig:
    get = getattr(args, "get_config", None)
    return rules.PolicyConfig.from_mapping(get() if get else None)


def _resource_validation(rule: rules.Rule, level: str) -> Callable[[Any, Any], None]:
    def validate(args: Any, report_violation: Any) -> None:
        for v in rule.run_resource(resource_view(args), _config(args)):
            if v.enforcement == level:
                report_violation(v.message, None)

    return validate


def _stack_validation(rule: rules.Rule, level: str) -> Callable[[Any, Any], None]:
    def validate(args: Any, report_violation: Any) -> None:
        for v in rule.run_stack(stack_views(args), _config(args)):
            if v.enforcement == level:
                report_violation(v.message, v.urn or None)

    return validate


def build_policies() -> list[Policy]:
    policies: list[Policy] = []
    for rule in rules.RULES:
        for level in rule.levels:
            name = policy_name(rule.id, level)
            common: dict[str, Any] = {
                "name": name,
                "description": rule.description,
                "enforcement_level": _LEVELS[level],
                "display_name": rule.title if level == rules.MANDATORY else f"{rule.title} (advisory)",
                "config_schema": _CONFIG_SCHEMAS.get(rule.id),
            }
            if rule.scope == "resource":
                policies.append(ResourceValidationPolicy(validate=_resource_validation(rule, level), **common))
            else:
                policies.append(StackValidationPolicy(validate=_stack_validation(rule, level), **common))
    return policies


POLICIES = build_policies()

if __name__ == "__main__":
    PolicyPack(name=PACK_NAME, policies=POLICIES, enforcement_level=EnforcementLevel.ADVISORY)
