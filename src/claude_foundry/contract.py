"""The contract between the infrastructure and the client runtime.

Everything that one side writes and the other side reads is named here once and imported on both
sides: the Key Vault secret names, the environment variables, the exported JSON shape and the endpoint
URL. Changing a name here changes it for the Pulumi program, the local deploy, the runtime, the smoke
test and the ops commands together.

This module must stay importable without Pulumi (the runtime's light install imports it).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

# --- Endpoint -------------------------------------------------------------------------------------

#: Where Claude on Foundry answers. Built from the account's *custom subdomain*; ARM's
#: ``properties.endpoint`` (``*.cognitiveservices.azure.com``) is not the Anthropic endpoint.
FOUNDRY_BASE_URL_TEMPLATE = "https://{resource}.services.ai.azure.com/anthropic"
#: Path of the Messages API below the base URL.
MESSAGES_PATH = "/v1/messages"

#: Entra ID token scopes that Foundry accepts for the Claude endpoint. The seed document (Anthropic's
#: guide) uses the first; the anthropic SDK's docs show the second. Both are configurable everywhere.
TOKEN_SCOPE_COGNITIVE_SERVICES = "https://cognitiveservices.azure.com/.default"
TOKEN_SCOPE_AI_AZURE = "https://ai.azure.com/.default"
DEFAULT_TOKEN_SCOPE = TOKEN_SCOPE_COGNITIVE_SERVICES
TOKEN_SCOPES = (TOKEN_SCOPE_COGNITIVE_SERVICES, TOKEN_SCOPE_AI_AZURE)


def foundry_base_url(resource: str, template: str = FOUNDRY_BASE_URL_TEMPLATE) -> str:
    """Base URL the anthropic SDK takes (``AnthropicFoundry(base_url=...)``), without trailing slash."""
    return template.format(resource=resource).rstrip("/")


def messages_url(resource: str, template: str = FOUNDRY_BASE_URL_TEMPLATE) -> str:
    return foundry_base_url(resource, template) + MESSAGES_PATH


# --- Key Vault secret names -----------------------------------------------------------------------

#: Key Vault secret names: 1-127 characters of ``0-9 a-z A-Z -``.
SECRET_NAME_RE = re.compile(r"^[0-9a-zA-Z-]{1,127}$")
DEFAULT_SECRET_PREFIX = "claude-foundry"

#: Suffixes after ``<prefix>-``. The longest suffix decides how long a prefix may be.
SECRET_SUFFIX_ENDPOINT = "endpoint"  # the Foundry base URL (not secret, but kept together)
SECRET_SUFFIX_RESOURCE = "resource"  # the account / custom subdomain name
SECRET_SUFFIX_API_KEY = "api-key"  # the account's key; absent when local auth is disabled
SECRET_SUFFIX_DEPLOYMENTS = "deployments"  # JSON deployment map, see DeploymentMap
SECRET_SUFFIX_AUTH = "auth-mode"  # "key" or "entra"
#: Contract version 2, only in stacks with several accounts: JSON list of every account (see AccountsDocument);
#: a version 1 reader (today's runtime) ignores it and reads the primary account from the secrets above.
SECRET_SUFFIX_ACCOUNTS = "accounts"
#: Per further account with key auth: ``<prefix>-api-key-<account>`` (the primary's stays ``<prefix>-api-key``).
SECRET_SUFFIX_ACCOUNT_KEY = "api-key-"
SECRET_SUFFIXES = (
    SECRET_SUFFIX_ENDPOINT,
    SECRET_SUFFIX_RESOURCE,
    SECRET_SUFFIX_API_KEY,
    SECRET_SUFFIX_DEPLOYMENTS,
    SECRET_SUFFIX_AUTH,
)  # every stack's (version 1); a stack with several accounts adds the accounts document and their keys
MAX_SECRET_PREFIX_LENGTH = 127 - 1 - max(len(s) for s in (*SECRET_SUFFIXES, SECRET_SUFFIX_ACCOUNTS))

AUTH_MODE_KEY = "key"
AUTH_MODE_ENTRA = "entra"

#: The stack's name for its first account (``foundry:`` in the spec); further accounts have their own names.
PRIMARY_ACCOUNT = "primary"
#: Version of the ``<prefix>-accounts`` document; a reader refuses a newer one with words.
CONTRACT_VERSION = 2


@dataclass(frozen=True)
class SecretNames:
    """The Key Vault secret names for one stack, derived from its prefix."""

    prefix: str = DEFAULT_SECRET_PREFIX

    def __post_init__(self) -> None:
        if not SECRET_NAME_RE.match(self.prefix) or len(self.prefix) > MAX_SECRET_PREFIX_LENGTH:
            raise ValueError(
                f"secret prefix must be 1-{MAX_SECRET_PREFIX_LENGTH} characters of 0-9, a-z, A-Z and '-'"
            )

    def _name(self, suffix: str) -> str:
        return f"{self.prefix}-{suffix}"

    @property
    def endpoint(self) -> str:
        return self._name(SECRET_SUFFIX_ENDPOINT)

    @property
    def resource(self) -> str:
        return self._name(SECRET_SUFFIX_RESOURCE)

    @property
    def api_key(self) -> str:
        return self._name(SECRET_SUFFIX_API_KEY)

    @property
    def deployments(self) -> str:
        return self._name(SECRET_SUFFIX_DEPLOYMENTS)

    @property
    def auth_mode(self) -> str:
        return self._name(SECRET_SUFFIX_AUTH)

    @property
    def accounts(self) -> str:
        return self._name(SECRET_SUFFIX_ACCOUNTS)

    def api_key_of(self, account: str) -> str:
        """The key secret of one account of the stack: the primary's is :attr:`api_key` (what a version 1
        reader reads), another's ``<prefix>-api-key-<account>``."""
        if account in ("", PRIMARY_ACCOUNT):
            return self.api_key
        name = self._name(SECRET_SUFFIX_ACCOUNT_KEY + account)
        if not SECRET_NAME_RE.match(name):
            raise ValueError(f"secret name {name!r} is not a Key Vault secret name (1-127 of 0-9, a-z, A-Z, '-')")
        return name

    def as_dict(self) -> dict[str, str]:
        """Role -> secret name; the shape of the ``secret_names`` stack output."""
        return {
            "endpoint": self.endpoint,
            "resource": self.resource,
            "api_key": self.api_key,
            "deployments": self.deployments,
            "auth_mode": self.auth_mode,
        }


# --- Tags the program writes and the policy reads ------------------------------------------------

#: On the account: the spec said ``foundry.network.public_network_access: true`` explicitly, which the
#: production guardrail "no public network access" accepts as a waiver.
TAG_ALLOW_PUBLIC_NETWORK = "claude-foundry-allow-public-network"


# --- Environment variables ------------------------------------------------------------------------

# Read by the anthropic SDK's AnthropicFoundry (RESOURCE and BASE_URL are mutually exclusive).
ENV_API_KEY = "ANTHROPIC_FOUNDRY_API_KEY"
ENV_RESOURCE = "ANTHROPIC_FOUNDRY_RESOURCE"
ENV_BASE_URL = "ANTHROPIC_FOUNDRY_BASE_URL"
# Read by Claude Code.
ENV_CLAUDE_CODE_USE_FOUNDRY = "CLAUDE_CODE_USE_FOUNDRY"
ENV_DEFAULT_MODEL = {
    "opus": "ANTHROPIC_DEFAULT_OPUS_MODEL",
    "sonnet": "ANTHROPIC_DEFAULT_SONNET_MODEL",
    "haiku": "ANTHROPIC_DEFAULT_HAIKU_MODEL",
}
# Read by claude-foundry's own runtime.
ENV_VAULT_URL = "CLAUDE_FOUNDRY_VAULT_URL"
ENV_SECRET_PREFIX = "CLAUDE_FOUNDRY_SECRET_PREFIX"
ENV_TOKEN_SCOPE = "CLAUDE_FOUNDRY_TOKEN_SCOPE"
ENV_DEPLOYMENTS = "CLAUDE_FOUNDRY_DEPLOYMENTS"  # JSON deployment map, or comma-separated names
ENV_CA_BUNDLE = "CLAUDE_FOUNDRY_CA_BUNDLE"  # extra CA for the local sandbox; never set against Azure
ENV_MAX_RESPONSE_BYTES = "CLAUDE_FOUNDRY_MAX_RESPONSE_BYTES"  # the largest answer a Foundry call takes (bytes)
#: Every variable the runtime reads to find a contract (what a test clears so the caller's shell leaks in nothing).
RUNTIME_ENV_VARS = (ENV_API_KEY, ENV_RESOURCE, ENV_BASE_URL, ENV_DEPLOYMENTS, ENV_VAULT_URL, ENV_CA_BUNDLE,
                    ENV_TOKEN_SCOPE, ENV_SECRET_PREFIX)


# --- The deployment map (secret value and exported JSON) ------------------------------------------


@dataclass(frozen=True)
class DeploymentInfo:
    model: str
    version: str
    family: str  # opus | sonnet | haiku | ... (from the catalogue)
    sku: str = "GlobalStandard"
    capacity: int | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"model": self.model, "version": self.version, "family": self.family,
                               "sku": self.sku}
        if self.capacity is not None:
            out["capacity"] = self.capacity
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DeploymentInfo:
        return cls(
            model=str(data["model"]),
            version=str(data.get("version", "1")),
            family=str(data.get("family", "")),
            sku=str(data.get("sku", "GlobalStandard")),
            capacity=int(data["capacity"]) if data.get("capacity") is not None else None,
        )


def dump_deployment_map(deployments: dict[str, DeploymentInfo]) -> str:
    """Serialise the map deterministically (sorted keys), so an unchanged stack writes an unchanged secret."""
    return json.dumps({k: v.to_json() for k, v in sorted(deployments.items())}, sort_keys=True,
                      separators=(",", ":"))


def load_deployment_map(text: str) -> dict[str, DeploymentInfo]:
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("deployment map must be a JSON object of deployment name -> {model, version}")
    return {str(k): DeploymentInfo.from_json(v) for k, v in data.items()}


@dataclass(frozen=True)
class Contract:
    """What a client needs to call Claude on one Foundry resource. ``api_key`` is None with Entra ID."""

    resource: str
    base_url: str
    deployments: dict[str, DeploymentInfo] = field(default_factory=dict)
    auth_mode: str = AUTH_MODE_KEY
    api_key: str | None = field(default=None, repr=False)  # never in repr, logs or reports
    #: The account's Azure region ("" when unknown: a version 1 contract does not say).
    region: str = ""
    #: The stack's name for this account (:data:`PRIMARY_ACCOUNT` for ``foundry:``).
    account: str = PRIMARY_ACCOUNT

    def public_json(self) -> dict[str, Any]:
        """The exported JSON shape (``claude-foundry env --format json`` without ``--with-key``)."""
        out: dict[str, Any] = {
            "resource": self.resource,
            "base_url": self.base_url,
            "auth_mode": self.auth_mode,
            "deployments": {k: v.to_json() for k, v in sorted(self.deployments.items())},
        }
        if self.region:
            out["region"] = self.region
        return out


@dataclass(frozen=True)
class StackContract:
    """Every account of one stack, in order of preference (the primary first).

    A one-account stack (contract version 1, no ``<prefix>-accounts`` secret) is a StackContract of one. Each
    account is a :class:`Contract` with its own endpoint, region, deployments and key."""

    accounts: tuple[Contract, ...]
    version: int = 1

    def __post_init__(self) -> None:
        if not self.accounts:
            raise ValueError("a stack contract has at least one account")
        names = [a.account for a in self.accounts]
        if len(set(names)) != len(names):
            raise ValueError(f"account names repeat in the stack contract: {names}")

    @property
    def primary(self) -> Contract:
        return self.accounts[0]

    def account(self, name: str) -> Contract:
        for a in self.accounts:
            if a.account == name:
                return a
        known = ", ".join(a.account for a in self.accounts)
        raise KeyError(f"no account {name!r} in the stack contract (accounts: {known})")

    def serving(self, deployment: str) -> list[Contract]:
        """The accounts serving ``deployment``, in order of preference."""
        return [a for a in self.accounts if deployment in a.deployments]

    @property
    def deployment_names(self) -> list[str]:
        """Every logical deployment name, each once, in first-seen order."""
        return list(dict.fromkeys(n for a in self.accounts for n in sorted(a.deployments)))

    def public_json(self) -> dict[str, Any]:
        """Version 2 export: every account's :meth:`Contract.public_json` with its name; never a key."""
        return {"version": CONTRACT_VERSION,
                "accounts": [{"account": a.account, **a.public_json()} for a in self.accounts]}


def dump_accounts(accounts: list[Contract] | tuple[Contract, ...], names: SecretNames) -> str:
    """The ``<prefix>-accounts`` secret value (version 2): every account without its key, plus where its key
    lives (``api_key_secret``, null with Entra ID). Deterministic, so an unchanged stack writes the same value."""
    doc = {"version": CONTRACT_VERSION, "accounts": [
        {"account": a.account, "resource": a.resource, "region": a.region, "base_url": a.base_url,
         "auth_mode": a.auth_mode,
         "api_key_secret": names.api_key_of(a.account) if a.auth_mode == AUTH_MODE_KEY else None,
         "deployments": {k: v.to_json() for k, v in sorted(a.deployments.items())}}
        for a in accounts]}
    return json.dumps(doc, sort_keys=True, separators=(",", ":"))


def load_accounts(text: str) -> tuple[list[Contract], dict[str, str]]:
    """Parse a ``<prefix>-accounts`` value: the accounts (without keys) and account -> key secret name.

    ``ValueError`` with words for anything else, including a newer version than this reader knows."""
    return accounts_from_data(json.loads(text))


def accounts_from_data(data: Any) -> tuple[list[Contract], dict[str, str]]:
    """:func:`load_accounts` of an already parsed document (e.g. the ``accounts`` of an exported JSON file)."""
    if not isinstance(data, dict) or not isinstance(data.get("accounts"), list) or not data["accounts"]:
        raise ValueError("expected an object with version and a non-empty accounts list")
    version = data.get("version")
    if not isinstance(version, int) or version < 2:
        raise ValueError(f"unknown contract version {version!r}")
    if version > CONTRACT_VERSION:
        raise ValueError(f"contract version {version} is newer than this claude-foundry reads "
                         f"({CONTRACT_VERSION}): upgrade claude-foundry")
    out, key_secrets = [], {}
    for n, raw in enumerate(data["accounts"]):
        if not isinstance(raw, dict) or not raw.get("base_url") or not raw.get("account"):
            raise ValueError(f"accounts[{n}]: expected account, resource, region, base_url, auth_mode, deployments")
        deployments = raw.get("deployments")
        deployments = {} if deployments is None else deployments
        if not isinstance(deployments, dict):
            raise ValueError(f"accounts[{n}].deployments: expected an object")
        account = str(raw["account"])
        out.append(Contract(resource=str(raw.get("resource") or ""), base_url=str(raw["base_url"]).rstrip("/"),
                            deployments={str(k): DeploymentInfo.from_json(v) for k, v in deployments.items()},
                            auth_mode=str(raw.get("auth_mode") or AUTH_MODE_KEY),
                            region=str(raw.get("region") or ""), account=account))
        if raw.get("api_key_secret"):
            key_secrets[account] = str(raw["api_key_secret"])
    return out, key_secrets
