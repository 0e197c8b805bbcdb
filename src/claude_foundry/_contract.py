"""The contract between the infrastructure and the client runtime.

Everything that one side writes and the other side reads is named here once and imported on both
sides: the Key Vault secret names, the environment variables, the exported JSON shape and the endpoint
URL. Changing a name here changes it for the Pulumi program, the local deploy, the runtime, the smoke
test and the ops commands together.

This module must stay importable without Pulumi (the runtime's light install imports it).
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError

from claude_foundry import _jsontext as jsontext

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


#: The longest endpoint URL a contract may hold (a Foundry base URL is ~60 characters).
MAX_ENDPOINT_LENGTH = 2048
#: An account (custom subdomain) name: what ``ANTHROPIC_FOUNDRY_RESOURCE`` and the resource secret may hold.
RESOURCE_NAME_RE = re.compile(r"^[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,62}[a-zA-Z0-9])?$")
_HOST_LABEL_RE = re.compile(r"^[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$")


def check_endpoint(url: Any) -> str:
    """``url`` (without a trailing slash) when it is an endpoint a key or token may be sent to: an ``https://``
    URL of at most :data:`MAX_ENDPOINT_LENGTH` characters, no whitespace or control characters, no user info,
    a DNS host name or a valid IP literal, a port in 1-65535, no query or fragment. ``ValueError`` with words
    otherwise (never repeating the value: it may be anything)."""
    if not isinstance(url, str):
        raise ValueError(f"expected a URL string (got {type(url).__name__})")
    if not url:
        raise ValueError("is empty")
    if len(url) > MAX_ENDPOINT_LENGTH:
        raise ValueError(f"is {len(url)} characters long (at most {MAX_ENDPOINT_LENGTH})")
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        raise ValueError("holds whitespace or control characters (a newline, a tab, ...)")
    if not url.isascii():
        raise ValueError("holds non-ASCII characters (use the punycode host name)")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        reason = str(exc)
        if "port" in reason.lower():
            raise ValueError("has a port out of range (1-65535)") from None
        if "IPv6" in reason or "IPv4" in reason:
            raise ValueError("has an invalid IPv6 literal") from None
        raise ValueError("is not a valid URL (a bracket is not closed?)") from None
    if parts.scheme.lower() != "https":
        raise ValueError("is not an https:// URL")
    if "@" in parts.netloc:
        raise ValueError("holds user info (user:password@): credentials never go in the endpoint")
    host = parts.hostname or ""
    if not host:
        raise ValueError("has no host")
    if port is not None and not 1 <= port <= 65535:
        raise ValueError(f"has port {port} (1-65535)")
    if parts.netloc.endswith(":"):
        raise ValueError("has an empty port")
    if parts.netloc.startswith("["):
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError("has an invalid IPv6 literal") from None
    elif not all(_HOST_LABEL_RE.match(label) for label in host.rstrip(".").split(".")) or len(host) > 253:
        raise ValueError("has an invalid host name (labels of letters, digits and '-', at most 253 characters)")
    if parts.query or parts.fragment or url.endswith(("?", "#")):
        raise ValueError("has a query or fragment (expected the base URL, e.g. "
                         "https://<resource>.services.ai.azure.com/anthropic)")
    return url.rstrip("/")


def check_resource_name(name: Any) -> str:
    """An account (custom subdomain) name, else ``ValueError`` with words."""
    if not isinstance(name, str) or not RESOURCE_NAME_RE.match(name):
        raise ValueError("expected an account name: 1-64 letters, digits and '-', not starting or ending with '-'")
    return name


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
#: a version 1 reader ignores it and reads the stack's first account from the secrets above.
SECRET_SUFFIX_ACCOUNTS = "accounts"
#: Per account with key auth: ``<prefix>-api-key`` + :func:`account_label` (``<prefix>-api-key`` for the first,
#: ``<prefix>-api-key-<account>`` for another).
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

#: The stack's name (key) for its first account (``foundry:`` in the spec); the others are named by their
#: ``accounts:`` keys. Users see it (``env --account``, reports) and contract version 2 stores it.
PRIMARY_ACCOUNT = "primary"


def account_label(account: str, sep: str = "-") -> str:
    """What the names that exist once per account (secrets, logical names, check names, journal and lease) add
    for ``account`` (a stack's key): nothing for the stack's first account (:data:`PRIMARY_ACCOUNT`, or ``""``),
    so that its names are those of a one-account stack (contract version 1, the URNs of existing stacks),
    ``<sep><account>`` for any other. The one place that tells the first account's names from the others'."""
    return "" if account in ("", PRIMARY_ACCOUNT) else f"{sep}{account}"
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
        """The key secret of one account of the stack: the first's is :attr:`api_key` (what a version 1
        reader reads), another's ``<prefix>-api-key-<account>`` (:func:`account_label`)."""
        name = self._name(SECRET_SUFFIX_API_KEY + account_label(account))
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
#: The endpoint's base URL for any client (LiteLLM's ``api_base``, LangChain's ``base_url``, the Vercel AI SDK's
#: ``baseURL`` + ``/v1``, curl + ``/v1/messages``), printed by ``env`` on real Azure too: the anthropic SDK refuses
#: ``ANTHROPIC_FOUNDRY_RESOURCE`` and ``ANTHROPIC_FOUNDRY_BASE_URL`` together, so that name cannot carry it there.
ENV_CLIENT_BASE_URL = "CLAUDE_FOUNDRY_BASE_URL"
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


#: Nesting a contract document (deployment map, accounts secret, exported file) may have: it nests 4.
MAX_CONTRACT_DEPTH = 16
#: Largest capacity (thousands of tokens per minute) a deployment entry may state: ARM's 32-bit integer.
MAX_CAPACITY = 2**31 - 1
#: Deployments one account's map may list (Azure allows 32 per account; room for older contracts).
MAX_DEPLOYMENTS_IN_MAP = 1000
_Text = Annotated[StrictStr, Field(max_length=256)]

# --- Moving a logical deployment name to another model (docs/lifecycle.md, "Moving a deployment") ---------
#
# A map entry names a *logical* deployment (what applications pass as ``model``). Its optional ``deployment``
# field names the *physical* Azure deployment serving it; absent, the two are the same name (every contract
# written before moves existed). A move deploys the replacement under :func:`physical_name` beside the old one,
# then rewrites the entry ``{model: <new>, deployment: <physical>}``: a runtime that knows the field sends the
# physical name on the wire, an older one ignores the field (``extra="ignore"``) and keeps sending the logical
# name, which the old deployment keeps answering until the drain is over.

#: Azure deployment names: 2-64 letters, digits, '-', '_' and '.', starting with a letter or digit.
PHYSICAL_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{1,63}$"
#: What separates the logical name from the model in a physical name (``chat--claude-sonnet-5-5``).
PHYSICAL_SEPARATOR = "--"


def physical_name(logical: str, model: str) -> str:
    """The Azure deployment name a move gives ``logical``'s replacement: ``<logical>--<model>``, cut to Azure's
    64 characters (the logical part is shortened, never the model). ``ValueError`` when the result is not a
    deployment name Azure takes."""
    base = logical.split(PHYSICAL_SEPARATOR, 1)[0]  # a second move starts from the logical name again
    room = 64 - len(PHYSICAL_SEPARATOR) - len(model)
    if room < 1:
        raise ValueError(f"model name {model[:80]!r} is too long for a deployment name (64 characters)")
    name = f"{base[:room].rstrip('-._')}{PHYSICAL_SEPARATOR}{model}"
    if not re.match(PHYSICAL_NAME_PATTERN, name):
        raise ValueError(f"{name!r} is not an Azure deployment name (2-64 of letters, digits, '-', '_', '.')")
    return name


class _DeploymentEntry(BaseModel):
    """What a deployment map entry may hold (the pydantic check behind :meth:`DeploymentInfo.from_json`)."""

    model_config = ConfigDict(extra="ignore")
    model: Annotated[StrictStr, Field(min_length=1, max_length=256)]
    version: _Text | StrictInt = "1"
    family: _Text = ""
    sku: _Text = "GlobalStandard"
    capacity: Annotated[StrictInt, Field(ge=0, le=MAX_CAPACITY)] | None = None
    deployment: Annotated[StrictStr, Field(max_length=64, pattern=PHYSICAL_NAME_PATTERN)] | None = None


def validation_words(exc: ValidationError) -> str:
    """A pydantic error as ``field: what is wrong`` (never the input value)."""
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg']}" for e in exc.errors()[:5])


def load_json(text: str) -> Any:
    """A contract document's JSON within bounds (:mod:`jsontext`: depth :data:`MAX_CONTRACT_DEPTH`, finite
    numbers); ``ValueError`` with words."""
    return jsontext.loads(text, max_depth=MAX_CONTRACT_DEPTH)


@dataclass(frozen=True)
class DeploymentInfo:
    model: str
    version: str
    family: str  # opus | sonnet | haiku | ... (from the catalogue)
    sku: str = "GlobalStandard"
    capacity: int | None = None
    #: The Azure deployment serving this logical name when it differs from it (after a move); None: the same.
    deployment: str | None = None

    def physical(self, logical: str) -> str:
        """The name to send on the wire for the logical name ``logical``."""
        return self.deployment or logical

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"model": self.model, "version": self.version, "family": self.family,
                               "sku": self.sku}
        if self.capacity is not None:
            out["capacity"] = self.capacity
        if self.deployment is not None:
            out["deployment"] = self.deployment
        return out

    @classmethod
    def from_json(cls, data: Any) -> DeploymentInfo:
        """An entry of a deployment map, checked (model 1-256 characters, capacity 0-2^31-1, ...): ``ValueError``
        naming the field otherwise."""
        if not isinstance(data, dict):
            raise ValueError(f"expected an object with model, version (got {type(data).__name__})")
        try:
            entry = _DeploymentEntry.model_validate(data)
        except ValidationError as exc:
            raise ValueError(validation_words(exc)) from None
        return cls(model=entry.model, version=str(entry.version), family=entry.family, sku=entry.sku,
                   capacity=entry.capacity, deployment=entry.deployment)


def dump_deployment_map(deployments: dict[str, DeploymentInfo]) -> str:
    """Serialise the map deterministically (sorted keys), so an unchanged stack writes an unchanged secret."""
    return json.dumps({k: v.to_json() for k, v in sorted(deployments.items())}, sort_keys=True,
                      separators=(",", ":"))


def load_deployment_map(text: str) -> dict[str, DeploymentInfo]:
    return deployment_map_from_data(load_json(text))


def deployment_map_from_data(data: Any) -> dict[str, DeploymentInfo]:
    """A parsed deployment map, checked: ``ValueError`` naming the deployment and field otherwise."""
    if not isinstance(data, dict):
        raise ValueError("deployment map must be a JSON object of deployment name -> {model, version}")
    if len(data) > MAX_DEPLOYMENTS_IN_MAP:
        raise ValueError(f"lists {len(data)} deployments (at most {MAX_DEPLOYMENTS_IN_MAP})")
    out = {}
    for name, entry in data.items():
        if not name or len(name) > 256:
            raise ValueError("a deployment name is empty or longer than 256 characters")
        try:
            out[str(name)] = DeploymentInfo.from_json(entry)
        except ValueError as exc:
            raise ValueError(f"deployment {str(name)[:64]!r}: {exc}") from None
    for name, info in out.items():
        if info.deployment and info.deployment != name and info.deployment in out:
            # an older runtime calling that logical name would reach this entry's model instead
            raise ValueError(f"deployment {name[:64]!r}: its physical deployment {info.deployment!r} is another "
                             "logical name of the map")
    return out


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
    """Every account of one stack, in order of preference (the first is what ``env`` and a version 1 reader pick).

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
    def first(self) -> Contract:
        """The stack's first account (what a version 1 reader reads)."""
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
    return accounts_from_data(load_json(text))


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
        try:
            base_url = check_endpoint(raw["base_url"])
        except ValueError as exc:
            raise ValueError(f"accounts[{n}].base_url {exc}") from None
        try:
            listed = deployment_map_from_data(deployments)
        except ValueError as exc:
            raise ValueError(f"accounts[{n}].deployments: {exc}") from None
        out.append(Contract(resource=str(raw.get("resource") or ""), base_url=base_url,
                            deployments=listed,
                            auth_mode=str(raw.get("auth_mode") or AUTH_MODE_KEY),
                            region=str(raw.get("region") or ""), account=account))
        if raw.get("api_key_secret"):
            key_secrets[account] = str(raw["api_key_secret"])
    return out, key_secrets
