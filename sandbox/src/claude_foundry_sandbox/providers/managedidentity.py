"""Microsoft.ManagedIdentity through ARM: user-assigned identities (their ``principalId``, ``clientId`` and
``tenantId``) and their federated identity credentials (what GitHub Actions' OIDC token is exchanged against).

Shapes: azure-rest-api-specs ``specification/msi/resource-manager/Microsoft.ManagedIdentity/stable/2023-01-31``
(examples ``IdentityCreate.json``, ``FederatedIdentityCredentialCreate.json``). The identities are ARM
resources only: the sandbox issues no token for them (its token endpoint knows client secrets, not federation).
"""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from claude_foundry_sandbox.providers.base import (
    ArmError,
    Provider,
    Reply,
    ResourceType,
    Target,
    public,
    require_location,
)

if TYPE_CHECKING:  # pragma: no cover
    from claude_foundry_sandbox.arm import ArmApi

IDENTITIES = "microsoft.managedidentity/userassignedidentities"
FEDERATED_CREDENTIALS = IDENTITIES + "/federatedidentitycredentials"

#: Names of user-assigned identities: 3-128 letters, digits, hyphens and underscores, starting with a letter
#: or digit (the ``resourceName`` pattern of the 2023-01-31 spec).
IDENTITY_NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_-]{2,127}$")
#: Names of federated identity credentials: 3-120 of the same characters.
CREDENTIAL_NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_-]{2,119}$")
#: Azure's limit per user-assigned identity (learn.microsoft.com, "Workload identity federation considerations").
MAX_FEDERATED_CREDENTIALS = 20
MAX_SUBJECT_LENGTH = 600
GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
#: GitHub's default subject claim shapes (docs.github.com, "About security hardening with OpenID Connect").
GITHUB_SUBJECT_RE = re.compile(
    r"^repo:[A-Za-z0-9-]+/[A-Za-z0-9._-]+:(ref:refs/(heads|tags)/\S+|environment:\S+|pull_request)$")


def _put_identity(api: ArmApi, target: Target, body: dict[str, Any]) -> Reply:
    if not IDENTITY_NAME_RE.match(target.name):
        raise ArmError(400, "InvalidResourceName",
                       f"The resource name '{target.name}' is invalid: 3-128 letters, digits, hyphens and "
                       "underscores, starting with a letter or digit.")
    require_location(body)
    existing = api.s.resources.get(target.key)
    if api.same_input(existing, body):
        return Reply(200, public(existing))
    old = (existing or {}).get("properties", {})
    res = api.base(target, body, existing)
    res["properties"] = {"tenantId": api.s.tenant_id,
                         "principalId": old.get("principalId") or str(uuid.uuid4()),
                         "clientId": old.get("clientId") or str(uuid.uuid4())}
    return api.store(target, res, existing)


def _credential_problem(props: dict[str, Any]) -> str | None:
    issuer = props.get("issuer")
    if not isinstance(issuer, str) or urlparse(issuer).scheme != "https" or not urlparse(issuer).netloc:
        return "properties.issuer must be an https URL."
    audiences = props.get("audiences")
    if not isinstance(audiences, list) or not audiences or \
            not all(isinstance(a, str) and a.strip() for a in audiences):
        return "properties.audiences must name at least one audience."
    subject = props.get("subject")
    if not isinstance(subject, str) or not subject.strip():
        return "properties.subject is required."
    if len(subject) > MAX_SUBJECT_LENGTH:
        return f"properties.subject is longer than {MAX_SUBJECT_LENGTH} characters."
    if issuer.rstrip("/") == GITHUB_ISSUER and not GITHUB_SUBJECT_RE.match(subject):
        # the sandbox's own check (Azure stores any subject; a wrong one only fails at login)
        return (f"properties.subject '{subject}' is not a GitHub Actions subject: repo:OWNER/REPO:ref:refs/heads/"
                "BRANCH, repo:OWNER/REPO:environment:NAME or repo:OWNER/REPO:pull_request.")
    return None


def _put_credential(api: ArmApi, target: Target, body: dict[str, Any]) -> Reply:
    if not CREDENTIAL_NAME_RE.match(target.name):
        raise ArmError(400, "InvalidResourceName",
                       f"The federated identity credential name '{target.name}' is invalid: 3-120 letters, "
                       "digits, hyphens and underscores, starting with a letter or digit.")
    problem = _credential_problem(body.get("properties") or {})
    if problem:
        raise ArmError(400, "BadRequest", problem)
    existing = api.s.resources.get(target.key)
    if api.same_input(existing, body):
        return Reply(200, public(existing))
    parent = target.parent.lower()
    siblings = [k for k, r in api.s.resources.items()
                if r.get("type", "").lower() == FEDERATED_CREDENTIALS and k.rsplit("/", 2)[0] == parent]
    if existing is None and len(siblings) >= MAX_FEDERATED_CREDENTIALS:
        raise ArmError(400, "BadRequest",
                       f"A maximum of {MAX_FEDERATED_CREDENTIALS} federated identity credentials can be added to "
                       "a user-assigned managed identity.")
    res = api.base(target, body, existing)
    res["properties"] = {k: res["properties"][k] for k in ("issuer", "subject", "audiences")}
    return api.store(target, res, existing)


PROVIDER = Provider(types=(
    ResourceType(IDENTITIES, put=_put_identity),
    ResourceType(FEDERATED_CREDENTIALS, put=_put_credential),
))
