"""``properties.modelProviderData``: what Azure requires on every Claude deployment, checked in one place.

Azure signs Anthropic's Marketplace terms with it and answers ``InvalidModelProviderData`` when a field is
missing or outside what it allows (FACTS: organizationName, ISO-3166 alpha-2 countryCode, lower-case industry
from a fixed list). The spec validates it, the policy checks planned bodies, preflight checks the plan, and
the sandbox refuses what Azure refuses — all with these rules.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from claude_foundry._iso3166 import ISO_3166_ALPHA2

#: The industries Azure accepts, lower case.
INDUSTRIES = ("technology", "finance", "healthcare", "education", "retail", "manufacturing", "government",
              "media", "other")
#: Where it goes: ``properties.modelProviderData``, next to ``properties.model`` (not inside it).
PROPERTY = "modelProviderData"
FIELDS = ("organizationName", "countryCode", "industry")


def organization_problem(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return "must be a non-empty string (the legal name of the organisation)"
    return None


def country_problem(value: Any) -> str | None:
    if isinstance(value, str) and value in ISO_3166_ALPHA2:
        return None
    hint = " (upper case)" if isinstance(value, str) and value.upper() in ISO_3166_ALPHA2 else ""
    return f"must be an ISO-3166 alpha-2 country code such as US, DE, SE{hint} (got {value!r})"


def industry_problem(value: Any) -> str | None:
    if value in INDUSTRIES:
        return None
    hint = "must be lower case: " if isinstance(value, str) and value.lower() in INDUSTRIES else "must be one of "
    return f"{hint}{', '.join(INDUSTRIES)} (got {value!r})"


_CHECKS: dict[str, Callable[[Any], str | None]] = {
    "organizationName": organization_problem,
    "countryCode": country_problem,
    "industry": industry_problem,
}


def of_properties(properties: Mapping[str, Any] | None) -> tuple[Any, bool]:
    """(the deployment's modelProviderData or None, whether it was misplaced inside ``properties.model``)."""
    props = properties or {}
    if isinstance(props.get(PROPERTY), Mapping):
        return props[PROPERTY], False
    nested = (props.get("model") or {}).get(PROPERTY) if isinstance(props.get("model"), Mapping) else None
    return (None, isinstance(nested, Mapping))


def problems(data: Any, *, known: Callable[[Any], bool] = lambda _v: True) -> list[tuple[str, str]]:
    """``(field, what is wrong)`` for each problem of one ``modelProviderData`` (empty: complete).
    ``known`` skips values not known yet (a plan's unresolved outputs)."""
    if not isinstance(data, Mapping):
        return [(PROPERTY, "is missing (organizationName, countryCode, industry)")]
    out = []
    for field, check in _CHECKS.items():
        value = data.get(field)
        if not known(value):
            continue
        problem = check(value)
        if problem:
            out.append((field, problem))
    return out
