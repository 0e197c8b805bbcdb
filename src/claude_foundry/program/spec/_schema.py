"""The stack spec: one pydantic model per concern, strict (unknown fields are errors).

Checks that need the model catalogue (model known, version known, offered in the location, SKU allowed)
run inside the same validation pass through pydantic's validation context, so that a file's errors are all
reported at once.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import ipaddress
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from claude_foundry import _contract as contract
from claude_foundry import _provider_data as provider_data
from claude_foundry._azure import arm
from claude_foundry._catalogue import (
    HOSTING_ANTHROPIC,
    HOSTING_VERSIONS,
    HOSTING_WORDS,
    Catalogue,
    Hosting,
    ModelInfo,
    load_catalogue,
)
from claude_foundry._provider_data import INDUSTRIES

SKUS = ("GlobalStandard", "DataZoneStandard")

ACCOUNT_NAME_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
VAULT_NAME_RE = re.compile(r"^[a-zA-Z](?:[a-zA-Z0-9-]{1,22})[a-zA-Z0-9]$")
DEPLOYMENT_NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]{1,63}$")
#: :data:`DEPLOYMENT_NAME_RE` in words, for every message that refuses a deployment name.
DEPLOYMENT_NAME_RULE = "2-64 characters of letters, digits, '.', '_' and '-', starting with a letter or digit"
PROJECT_NAME_RE = re.compile(arm.PROJECT_NAME_PATTERN)
RESOURCE_GROUP_RE = re.compile(r"^[-\w._()]{1,90}$")
ENVIRONMENT_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
#: The stack's name of a further account (``accounts:`` key): part of secret and logical names.
ACCOUNT_KEY_RE = re.compile(r"^[a-z](?:[a-z0-9-]{0,18}[a-z0-9])?$")
#: Further accounts a stack may name besides ``foundry:``.
MAX_ACCOUNTS = 8
WORKSPACE_NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9-]{2,61}[a-zA-Z0-9]$")
WORKSPACE_ID_RE = re.compile(
    r"^/subscriptions/[0-9a-fA-F-]{36}/resourceGroups/[-\w._()]{1,90}/providers/"
    r"Microsoft\.OperationalInsights/workspaces/[a-zA-Z0-9-]{4,63}$",
    re.IGNORECASE,
)
TAG_NAME_FORBIDDEN = set("<>%&\\?/")


def _within_account_limit(count: int) -> None:
    """One account holds at most :data:`azure.arm.MAX_DEPLOYMENTS_PER_ACCOUNT` deployments (Azure's limit)."""
    if count > arm.MAX_DEPLOYMENTS_PER_ACCOUNT:
        raise ValueError(f"{count} deployments: one Foundry account holds at most {arm.MAX_DEPLOYMENTS_PER_ACCOUNT} "
                         f"({arm.MAX_DEPLOYMENTS_SOURCE}); split them over further accounts (accounts:)")


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True,
                              validate_default=False)


def _catalogue(info: ValidationInfo) -> Catalogue:
    """The catalogue of the validation context, else the packaged one (or ``CLAUDE_FOUNDRY_CATALOGUE``'s):
    no way of validating a spec skips the catalogue checks."""
    return (info.context or {}).get("catalogue") or load_catalogue()


def validation_context(data: Any, context: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``context`` completed with what the checks need: the ``catalogue`` (default: the packaged one) and
    the ``location`` the deployments are checked against (default: the data's own)."""
    ctx = dict(context or {})
    if ctx.get("catalogue") is None:
        ctx["catalogue"] = load_catalogue()
    if "location" not in ctx and isinstance(data, Mapping):
        ctx["location"] = data.get("location")
    if "stack_deployments" not in ctx and isinstance(data, Mapping):
        # what a further account's deployments inherit from (as written, merged before validation)
        ctx["stack_deployments"] = data.get("deployments")
    return ctx


#: The context :meth:`Spec.model_validate` hands to ``Spec.__init__`` (pydantic calls a custom
#: ``__init__`` without the validation context).
_SPEC_CONTEXT: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("spec_context",
                                                                                       default=None)
#: While a further account's deployments validate: its location (they are checked against it, not the stack's);
#: False when that location is itself invalid (no location check then, its own error says why).
_ACCOUNT_LOCATION: contextvars.ContextVar[str | bool | None] = contextvars.ContextVar("account_location",
                                                                                     default=None)


# --- Foundry account ------------------------------------------------------------------------------


class ModelProviderSpec(StrictModel):
    """``properties.modelProviderData`` of every Claude deployment (Azure requires it; the Cognitive
    Services RP signs Anthropic's Marketplace offer with it). Describe your real legal entity."""

    organization_name: Annotated[str, Field(min_length=1, max_length=256,
                                            description="Legal name of the organisation using Claude.")]
    country_code: Annotated[str, Field(description="ISO-3166 alpha-2 country code, upper case (e.g. US, DE).")]
    industry: Annotated[str, Field(description="Lower case, one of: " + ", ".join(INDUSTRIES) + ".")]

    @field_validator("country_code")
    @classmethod
    def _country(cls, v: str) -> str:
        problem = provider_data.country_problem(v)
        if problem:
            raise ValueError(problem)
        return v

    @field_validator("industry")
    @classmethod
    def _industry(cls, v: str) -> str:
        problem = provider_data.industry_problem(v)
        if problem:
            raise ValueError(problem)
        return v


class NetworkSpec(StrictModel):
    """Network access to the Foundry account."""

    public_network_access: bool = Field(True, description="Allow access from public networks at all.")
    ip_rules: list[str] = Field(default_factory=list, description=(
        "IPv4 addresses or CIDR ranges allowed in. When given, everything else is denied "
        "(networkAcls.defaultAction Deny)."))

    @field_validator("ip_rules")
    @classmethod
    def _ips(cls, v: list[str]) -> list[str]:
        for item in v:
            try:
                net = ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"must be IPv4 addresses or CIDR ranges such as 203.0.113.0/24 "
                                 f"(got {item!r})") from None
            if net.version != 4:
                raise ValueError(f"Azure network rules take IPv4 only (got {item!r})")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> NetworkSpec:
        if not self.public_network_access and self.ip_rules:
            raise ValueError("ip_rules have no effect with public_network_access: false; remove one of them")
        return self


class ProjectSpec(StrictModel):
    """An optional Foundry project (``Microsoft.CognitiveServices/accounts/projects``) for the Foundry portal's
    playground and monitoring. Claude does not need one; the account then gets ``allowProjectManagement``."""

    name: Annotated[str, Field(description=(
        "Project name: 2-64 characters of letters, digits, '_', '-' and '.', starting with a letter or digit; "
        "unique within the account."))]
    display_name: str | None = Field(None, min_length=1, description="Name shown in the Foundry portal; "
                                                                     "default: the project name.")
    description: str | None = Field(None, min_length=1, description="Description shown in the Foundry portal.")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not PROJECT_NAME_RE.match(v):
            raise ValueError("must be 2-64 characters of letters, digits, '_', '-' and '.', starting with a "
                             f"letter or digit (Azure's rule for Foundry project names) (got {v!r})")
        return v

    @property
    def resolved_display_name(self) -> str:
        return self.display_name or self.name


class FoundrySpec(StrictModel):
    """The Foundry resource (``Microsoft.CognitiveServices/accounts``, kind AIServices, SKU S0)."""

    name: Annotated[str, Field(description=(
        "Account name and custom subdomain: 2-63 characters, lower-case letters, digits and hyphens, "
        "starting and ending with a letter or digit; globally unique. The Claude endpoint is "
        "https://<name>.services.ai.azure.com/anthropic."))]
    model_provider: ModelProviderSpec = Field(description="Who uses Claude; sent as modelProviderData.")
    disable_local_auth: bool = Field(False, description=(
        "Entra ID only: no API keys. No key is exported to Key Vault; runtime and smoke use Entra ID. "
        "Recommended for production."))
    network: NetworkSpec = Field(default_factory=NetworkSpec, description="Public access and IP rules.")
    project: ProjectSpec | None = Field(None, description=(
        "Optional Foundry project for teams that use the Foundry portal's playground and monitoring; off by "
        "default (Claude needs none). When set, the account gets allowProjectManagement: true and one "
        "accounts/projects child, created after the deployments."))

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not ACCOUNT_NAME_RE.match(v):
            raise ValueError("must be 2-63 characters of lower-case letters, digits and hyphens, starting "
                             f"and ending with a letter or digit (it becomes a DNS name) (got {v!r})")
        return v


# --- Deployments ----------------------------------------------------------------------------------


class DeploymentSpec(StrictModel):
    """One named Claude deployment. Its name (the map key) is what clients pass as ``model``."""

    model: Annotated[str, Field(description=(
        "Claude model id from the catalogue, e.g. claude-sonnet-5-5 (a Claude model id released after the "
        "catalogue's snapshot is accepted with a warning; preflight confirms it against Azure's live list)."))]
    hosting: Literal["azure", "anthropic"] | None = Field(None, description=(
        "Where the model runs: azure (Hosted on Azure, version 2) or anthropic (Hosted on Anthropic's "
        "infrastructure, version 1; Files API and Skills only there). Default: azure where the model has it, "
        "as the Foundry portal does; else anthropic."))
    version: str | None = Field(None, validate_default=True, description=(
        "Pin a model version instead of a hosting (the version is the hosting: 1 = anthropic, 2 = azure). "
        "Default: the newest version of the chosen hosting."))
    sku: Literal["GlobalStandard", "DataZoneStandard"] = Field(
        "GlobalStandard", validate_default=True, description="Deployment type. DataZoneStandard keeps processing "
        "in the US data zone (Azure-hosted versions of some models only).")
    capacity: int | None = Field(None, ge=1, description=(
        "Capacity in thousands of tokens per minute; default: the catalogue's default (25)."))
    version_upgrade_option: Literal[arm.VERSION_UPGRADE_OPTIONS] = Field(  # type: ignore[valid-type]  # a Literal from the one tuple of ARM values
        arm.VERSION_UPGRADE_DEFAULT, description=(
            "When Azure may move the deployment to another model version. Default NoAutoUpgrade: for Claude the "
            "version is the hosting, so an automatic upgrade could move a deployment between Anthropic's and "
            "Azure's infrastructure (data residency, billing, features)."))
    rai_policy: str | None = Field(None, min_length=1, description=(
        "Content filter (raiPolicyName). Optional: Foundry applies no built-in content filter to Claude at "
        "deployment time; set one only if your account defines it."))
    deployment: str | None = Field(None, description=(
        "The Azure deployment that serves this name, when it is another one (after `claude-foundry migrate`: "
        "`<name>--<model>`). Clients keep calling the name; the contract maps it to this deployment. 2-64 "
        "characters of letters, digits, '.', '_' and '-', unique within the account and not another "
        "deployment's name. Default: the name itself."))

    @field_validator("deployment")
    @classmethod
    def _deployment(cls, v: str | None) -> str | None:
        if v is not None and not DEPLOYMENT_NAME_RE.match(v):
            raise ValueError(f"{v!r}: {DEPLOYMENT_NAME_RULE} (Azure's rule for deployment names)")
        return v

    @field_validator("model")
    @classmethod
    def _model(cls, v: str, info: ValidationInfo) -> str:
        cat = _catalogue(info)
        if cat is not None and cat.model(v) is None and cat.unknown_model(v)[0] == "error":
            raise ValueError(cat.unknown_model(v)[1])
        return v  # unknown but a Claude model id: a warning (validate_data), not a refusal

    @field_validator("hosting")
    @classmethod
    def _hosting(cls, v: str | None, info: ValidationInfo) -> str | None:
        cat = _catalogue(info)
        model = cat.model(info.data.get("model", "")) if cat else None
        if v is not None and model is not None and v not in model.hostings:
            offered = ", ".join(f"{h} (version {model.version_for(h)})" for h in model.hostings)
            raise ValueError(f"{info.data['model']} is not offered {HOSTING_WORDS[v]}; it is offered: {offered}")
        return v

    @field_validator("version")
    @classmethod
    def _version(cls, v: str | None, info: ValidationInfo) -> str | None:
        """Resolves the version: the one pinned, or the newest of the chosen (or default) hosting."""
        cat = _catalogue(info)
        name = info.data.get("model")
        model = cat.model(name) if cat and name else None
        if model is None and name and "hosting" in info.data:
            # a model newer than the snapshot: the version pinned, else the one of the hosting asked for, else
            # Anthropic's infrastructure (version 1: every Claude model on Foundry has had it)
            asked: Hosting = info.data.get("hosting") or HOSTING_ANTHROPIC
            return str(v) if v is not None else HOSTING_VERSIONS[asked]
        if model is None or "hosting" not in info.data:
            return v
        hosting = info.data.get("hosting")
        if v is None:
            return model.version_for(hosting or model.default_hosting)
        v = str(v)
        vinfo = model.version_info(v)
        if vinfo is None:
            raise ValueError(cat.offer_problems(str(name), v, "", "")[0][1])  # name is set: model was found by it
        if hosting is not None and vinfo.hosting != hosting:
            raise ValueError(f"version {v} of {name} is {HOSTING_WORDS[vinfo.hosting]}, but hosting says "
                             f"{hosting}: drop one of them")
        return v

    @field_validator("sku")
    @classmethod
    def _sku(cls, v: str, info: ValidationInfo) -> str:
        cat = _catalogue(info)
        name, version = info.data.get("model"), info.data.get("version")
        account_location = _ACCOUNT_LOCATION.get()
        location = (info.context or {}).get("location") if account_location is None else account_location
        if cat is None or not name or not version or cat.model(name) is None or not isinstance(location, str):
            return v
        problems = [p for f, p in cat.offer_problems(name, version, v, location) if f in ("sku", "location")]
        if problems:
            raise ValueError("; ".join(problems))
        return v

    @model_validator(mode="after")
    def _defaults(self, info: ValidationInfo) -> DeploymentSpec:
        cat = _catalogue(info)
        known = cat.model(self.model) if cat else None
        if self.capacity is None and cat is not None:
            # frozen model: fill the catalogue's default in place once, at validation time (a model newer
            # than the snapshot: the catalogue's usual default)
            default = (known.default_capacity if known is not None
                       else ModelInfo.model_fields["default_capacity"].default)
            object.__setattr__(self, "capacity", default)
        return self

    @property
    def resolved_hosting(self) -> str | None:
        from claude_foundry._catalogue import load_catalogue

        info = load_catalogue().model(self.model)
        vinfo = info.version_info(self.version) if info and self.version else None
        return vinfo.hosting if vinfo else self.hosting


# --- Further accounts ------------------------------------------------------------------------------

#: JSON Schema of an account's ``deployments`` (names, or names with overrides), for editors.
_ACCOUNT_DEPLOYMENTS_SCHEMA = {
    "description": (
        "Which of the stack's deployments this account serves (default: all), as a list of names, or a mapping "
        "of name -> overrides (capacity, sku, hosting, version, ...; null or {} for none). A name that is not "
        "one of the stack's deployments needs its own model:."),
    "anyOf": [
        {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
        {"type": "object", "additionalProperties": {"anyOf": [{"type": "null"}, {
            "type": "object", "additionalProperties": False,
            "properties": {k: {} for k in ("model", "hosting", "version", "sku", "capacity",
                                           "version_upgrade_option", "rai_policy", "deployment")}}]}},
    ]}


def _offered_location(v: str, info: ValidationInfo) -> str:
    """``v`` when the catalogue offers Claude there (the stack's location, a further account's)."""
    cat = _catalogue(info)
    if cat is not None and v not in cat.locations:
        raise ValueError(f"Claude is not offered in {v!r}; locations: {', '.join(cat.locations)}")
    return v


def _merged_deployment(name: str, over: Any, stack: Mapping[str, Any]) -> Any:
    """One deployment of a further account as written: the stack's entry of that name with the account's
    overrides on top. A pinned hosting or version replaces both of the stack's; another model replaces it all."""
    if over is None:
        over = {}
    if not isinstance(over, Mapping):
        return over  # pydantic says what is wrong with it
    if "model" in over or name not in stack:
        if "model" not in over:
            raise ValueError(f"deployment {name!r} is not one of the stack's deployments ({', '.join(stack) or 'none'})"
                             "; give it a model: to deploy another one in this account")
        return dict(over)
    base = stack[name]
    if not isinstance(base, Mapping):
        return dict(over)  # the stack's own entry is reported where it is
    base = dict(base)
    if "hosting" in over or "version" in over:
        base.pop("hosting", None)
        base.pop("version", None)
    return {**base, **over}


def physical_names_problem(deployments: Mapping[str, DeploymentSpec]) -> str | None:
    """Why the Azure deployments serving ``deployments`` (one account's) clash, or None: two names served by
    one Azure deployment, or one served by another's name (an older runtime calling that name would reach the
    wrong model)."""
    served: dict[str, str] = {}
    for name, dep in deployments.items():
        physical = dep.deployment or name
        if physical != name and physical in deployments:
            return (f"{name}.deployment {physical!r} is another deployment's name: the Azure deployment serving "
                    f"a name may not be another name of the same account")
        if physical in served:
            return (f"{served[physical]} and {name} are both served by the Azure deployment {physical!r}: each "
                    "name needs its own (deployment names are unique per account)")
        served[physical] = name
    return None


def physical_of(name: str, dep: DeploymentSpec) -> str | None:
    """What the contract's entry for ``name`` carries as its physical deployment: None when it is the name."""
    return dep.deployment if dep.deployment and dep.deployment != name else None


class AccountSpec(StrictModel):
    """A further Foundry account of the stack (``accounts:``), in its own region. It takes ``foundry:``'s
    settings (model provider, local auth, network unless it names its own; no project) with its own name and
    location, and serves all or some of the stack's deployments under the same names, so that a client fails
    over with the same request."""

    name: Annotated[str, Field(description=(
        "Account name and custom subdomain (same rules as foundry.name; globally unique). Its Claude endpoint is "
        "https://<name>.services.ai.azure.com/anthropic."))]
    location: Annotated[str, Field(description="Its Azure region, e.g. swedencentral.")]
    network: NetworkSpec | None = Field(None, description="Public access and IP rules; default: foundry.network.")
    deployments: Annotated[dict[str, DeploymentSpec], WithJsonSchema(_ACCOUNT_DEPLOYMENTS_SCHEMA)] = Field(
        # None stands for "foundry's deployments", which the before-validator fills in (validate_default)
        default=None, validate_default=True,  # type: ignore[call-overload]  # None never reaches a reader
        description=_ACCOUNT_DEPLOYMENTS_SCHEMA["description"])

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return FoundrySpec._name(v)

    @field_validator("location")
    @classmethod
    def _location(cls, v: str, info: ValidationInfo) -> str:
        return _offered_location(v, info)

    @field_validator("deployments", mode="wrap")
    @classmethod
    def _deployments(cls, v: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo) -> Any:
        """The account's deployments merged onto the stack's as written, then validated against its location."""
        stack = (info.context or {}).get("stack_deployments")
        stack = stack if isinstance(stack, Mapping) else {}
        if v is None:
            v = dict.fromkeys(stack)
        elif isinstance(v, list):
            bad = [n for n in v if not isinstance(n, str)]
            if bad:
                raise ValueError(f"deployment names are strings (got {bad[0]!r})")
            if len(set(v)) != len(v):
                raise ValueError("a deployment name is listed twice")
            v = dict.fromkeys(v)
        if isinstance(v, Mapping):
            bad = [n for n in v if not isinstance(n, str) or not DEPLOYMENT_NAME_RE.match(n)]
            if bad:
                raise ValueError(f"deployment name {bad[0]!r}: {DEPLOYMENT_NAME_RULE}")
            if not v:
                raise ValueError("an account serves at least one deployment (leave deployments out for all)")
            v = {name: _merged_deployment(name, over, stack) for name, over in v.items()}
        token = _ACCOUNT_LOCATION.set(info.data.get("location", False))
        try:
            out = handler(v)
        finally:
            _ACCOUNT_LOCATION.reset(token)
        problem = physical_names_problem(out)
        if problem:
            raise ValueError(problem)
        return out


@dataclass(frozen=True)
class ResolvedAccount:
    """One account of a stack as everything downstream sees it: ``foundry:`` (key
    :data:`~claude_foundry._contract.PRIMARY_ACCOUNT`) or one of ``accounts:``, with the settings it takes from
    ``foundry:`` already applied (``foundry`` is a :class:`FoundrySpec` of its own name and network; only
    ``foundry:`` has the project)."""

    key: str
    location: str
    foundry: FoundrySpec
    deployments: dict[str, DeploymentSpec]

    @property
    def name(self) -> str:
        return self.foundry.name

    @property
    def path(self) -> tuple[str, ...]:
        """Where the stack file writes what is this account's own: ``()`` for ``foundry:`` (its deployments are the
        stack's ``deployments:``), ``("accounts", <key>)`` for one of ``accounts:``."""
        return ("accounts", self.key) if contract.account_label(self.key) else ()

    @property
    def settings_path(self) -> tuple[str, ...]:
        """Where the stack file writes this account's settings (``name``, ``network``): ``foundry`` or
        ``accounts.<key>``."""
        return self.path or ("foundry",)

    def base_url(self, template: str = contract.FOUNDRY_BASE_URL_TEMPLATE) -> str:
        return contract.foundry_base_url(self.foundry.name, template)

    def deployment_map(self, catalogue: Catalogue | None = None) -> dict[str, contract.DeploymentInfo]:
        cat = catalogue or load_catalogue()
        return {name: contract.DeploymentInfo(model=d.model, version=str(d.version), family=cat.family_of(d.model),
                                              sku=d.sku, capacity=d.capacity, deployment=physical_of(name, d))
                for name, d in self.deployments.items()}


# --- Key Vault, access, diagnostics ---------------------------------------------------------------


class KeyVaultSpec(StrictModel):
    """The Key Vault the runtime reads the contract from (RBAC authorization, soft delete always on)."""

    name: Annotated[str, Field(description=(
        "3-24 characters: letters, digits and hyphens, starting with a letter, ending with a letter or "
        "digit, no two hyphens in a row; globally unique."))]
    purge_protection: bool = Field(False, description=(
        "Turn on purge protection. IRREVERSIBLE: once on, the vault and its secrets cannot be purged "
        "before the retention period ends, and it can never be turned off. Recommended for production."))
    soft_delete_retention_days: int = Field(90, ge=7, le=90, description="Days a deleted vault or secret "
                                                                          "is kept recoverable (7-90).")
    secret_prefix: str = Field(contract.DEFAULT_SECRET_PREFIX, description=(
        "Prefix of the secret names (<prefix>-endpoint, -resource, -api-key, -deployments, -auth-mode); "
        f"1-{contract.MAX_SECRET_PREFIX_LENGTH} characters of letters, digits and hyphens."))

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not VAULT_NAME_RE.match(v) or "--" in v:
            raise ValueError("must be 3-24 characters of letters, digits and hyphens, start with a letter, "
                             f"end with a letter or digit, with no '--' (got {v!r})")
        return v

    @field_validator("secret_prefix")
    @classmethod
    def _prefix(cls, v: str) -> str:
        if not contract.SECRET_NAME_RE.match(v) or len(v) > contract.MAX_SECRET_PREFIX_LENGTH:
            raise ValueError(f"must be 1-{contract.MAX_SECRET_PREFIX_LENGTH} characters of letters, digits "
                             f"and '-' (Key Vault secret names) (got {v!r})")
        return v


class _Principal(StrictModel):
    principal_id: Annotated[str, Field(description="Object id (GUID) of the user, group or service principal.")]
    principal_type: Literal["ServicePrincipal", "User", "Group"] = "ServicePrincipal"
    description: str = ""

    @field_validator("principal_id")
    @classmethod
    def _guid(cls, v: str) -> str:
        try:
            return str(uuid.UUID(v))
        except ValueError:
            raise ValueError(f"must be an object id (GUID) such as 00000000-0000-0000-0000-000000000000 "
                             f"(got {v!r})") from None


class ClaudeUser(_Principal):
    """A principal that may call Claude with an Entra ID token."""

    role: Literal["cognitive-services-user", "azure-ai-user"] = Field(
        "cognitive-services-user", description="Cognitive Services User or Azure AI User, on the account.")


class SecretReader(_Principal):
    """A principal that may read the exported secrets (Key Vault Secrets User on the vault)."""


class AccessSpec(StrictModel):
    """Role assignments made by the stack."""

    claude_users: list[ClaudeUser] = Field(default_factory=list, description=(
        "Principals that may call Claude with Entra ID tokens (role on the account)."))
    secret_readers: list[SecretReader] = Field(default_factory=list, description=(
        "Principals that may read the exported secrets (Key Vault Secrets User on the vault)."))
    deployer_access: bool = Field(True, description=(
        "Also grant the identity that runs the deploy Key Vault Secrets User on the vault and Cognitive "
        "Services User on the account, so the smoke test right after `pulumi up` in CI runs as the same "
        "identity. Turn off when CI's deploy identity must not call Claude."))

    @model_validator(mode="after")
    def _unique(self) -> AccessSpec:
        for field in ("claude_users", "secret_readers"):
            ids = [p.principal_id for p in getattr(self, field)]
            dupes = sorted({i for i in ids if ids.count(i) > 1})
            if dupes:
                raise ValueError(f"{field}: principal listed twice: {', '.join(dupes)}")
        return self


class DiagnosticsSpec(StrictModel):
    """Request logging: diagnostic settings of the account and the vault to Log Analytics. On by default;
    Anthropic recommends keeping at least 30 days."""

    enabled: bool = Field(True, description="Send the account's and the vault's logs to Log Analytics.")
    retention_days: int = Field(30, ge=30, le=730, description="Log Analytics retention, 30-730 days.")
    workspace_id: str | None = Field(None, description=(
        "ARM id of an existing Log Analytics workspace; when absent, the stack creates one."))
    workspace_name: str | None = Field(None, description="Name of the created workspace; default "
                                                          "log-<foundry.name>.")

    @field_validator("workspace_id")
    @classmethod
    def _wid(cls, v: str | None) -> str | None:
        if v is not None and not WORKSPACE_ID_RE.match(v):
            raise ValueError("must be the ARM id of a Log Analytics workspace: /subscriptions/<guid>/"
                             "resourceGroups/<rg>/providers/Microsoft.OperationalInsights/workspaces/<name>")
        return v

    @field_validator("workspace_name")
    @classmethod
    def _wname(cls, v: str | None) -> str | None:
        if v is not None and not WORKSPACE_NAME_RE.match(v):
            raise ValueError(f"must be 4-63 characters of letters, digits and hyphens, starting and ending "
                             f"with a letter or digit (got {v!r})")
        return v

    @model_validator(mode="after")
    def _one(self) -> DiagnosticsSpec:
        if self.workspace_id and self.workspace_name:
            raise ValueError("give workspace_id (use an existing workspace) or workspace_name (create one), "
                             "not both")
        return self


# --- Alerts and budget (observability and cost, opt-in) -------------------------------------------

#: What an e-mail address looks like (what Azure Monitor and Cost Management accept: local@domain.tld).
EMAIL_RE = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                      r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")
#: Consumption budgets: at most five notifications, thresholds in percent 0-1000 (Budgets spec 2024-08-01).
MAX_BUDGET_NOTIFICATIONS = 5
BUDGET_EARLIEST_START = dt.date(2017, 6, 1)


def _emails(v: list[str]) -> list[str]:
    for item in v:
        if not EMAIL_RE.match(item):
            raise ValueError(f"must be e-mail addresses such as ops@contoso.com (got {item!r})")
    if len({e.lower() for e in v}) != len(v):
        raise ValueError("an e-mail address is listed twice")
    return v


class AlertsSpec(StrictModel):
    """Azure Monitor metric alerts on the Foundry account, sent to one action group (e-mail and/or webhook).
    Off unless the stack has an ``alerts:`` block; each threshold can be set to null to drop that alert."""

    enabled: bool = Field(True, description=(
        "Create the action group and the alerts (false: none, e.g. to switch off what a shared base turns on)."))
    emails: list[str] = Field(default_factory=list, description=(
        "E-mail receivers of the action group (common alert schema)."))
    webhooks: list[str] = Field(default_factory=list, description=(
        "https:// webhook receivers (common alert schema). Treated as secrets (a URL may carry a token): "
        "Pulumi secret inputs, masked in `plan`."))
    throttled_requests: int | None = Field(10, ge=1, description=(
        "Alert when the account answers more than this many requests with HTTP 429 (rate or quota limit) in 15 "
        "minutes: metric ModelRequests split by StatusCode 429, Total. null: no throttling alert."))
    server_error_percent: float | None = Field(5, gt=0, lt=100, description=(
        "Alert when more than this percentage of requests fail with a server error (HTTP >= 500) over 15 "
        "minutes: metric ModelAvailabilityRate (Average) below 100 minus this. null: no server-error alert."))
    latency_ms: int | None = Field(30000, ge=100, description=(
        "Alert when the average time to last byte exceeds this many milliseconds over 15 minutes: metric "
        "TimeToLastByte (Average). Claude answers of many tokens take long: set it for your traffic. null: no "
        "latency alert."))

    @field_validator("emails")
    @classmethod
    def _emails(cls, v: list[str]) -> list[str]:
        return _emails(v)

    @field_validator("webhooks")
    @classmethod
    def _webhooks(cls, v: list[str]) -> list[str]:
        from urllib.parse import urlparse

        for n, item in enumerate(v):
            url = urlparse(item)
            if url.scheme != "https" or not url.hostname or " " in item:
                # never echo the URL: it may carry a token
                raise ValueError(f"webhook {n + 1}: must be an https:// URL (value not shown)")
        if len(set(v)) != len(v):
            raise ValueError("a webhook is listed twice")
        return v

    @model_validator(mode="after")
    def _receivers(self) -> AlertsSpec:
        if self.enabled and not (self.emails or self.webhooks):
            raise ValueError("alerts need at least one receiver: give emails or webhooks (or enabled: false)")
        if self.enabled and self.throttled_requests is None and self.server_error_percent is None \
                and self.latency_ms is None:
            raise ValueError("every alert is switched off (throttled_requests, server_error_percent and latency_ms "
                             "are null): use enabled: false instead")
        return self


class BudgetSpec(StrictModel):
    """A monthly Cost Management budget on the stack's resource group (``Microsoft.Consumption/budgets``,
    category Cost) with e-mail notifications. Claude bills through the Azure Marketplace: check in Cost analysis
    that your billing account shows those charges under the resource group, as that is what the budget counts.
    Off unless the stack has a ``budget:`` block."""

    enabled: bool = Field(True, description="Create the budget (false: none).")
    amount: float = Field(gt=0, description=(
        "Monthly amount, in the billing account's currency (the budget API takes no currency)."))
    thresholds: list[float] = Field(default_factory=lambda: [50.0, 80.0, 100.0], description=(
        "Percentages of the amount actually spent that notify (1-1000)."))
    forecast_thresholds: list[float] = Field(default_factory=lambda: [100.0], description=(
        "Percentages of the amount forecast for the month that notify (1-1000): the early warning. Together "
        f"with thresholds at most {MAX_BUDGET_NOTIFICATIONS} (Azure's limit)."))
    emails: list[str] = Field(default_factory=list, description=(
        "Who is notified; default: alerts.emails. With alerts on, the alerts' action group is notified too."))
    start_date: dt.date | None = Field(None, description=(
        "First day of a month (YYYY-MM-01), on or after 2017-06-01, at most twelve months ahead. Default: the "
        "first of the month of the first deploy (kept afterwards: Azure replaces a budget whose start changes)."))
    name: str | None = Field(None, description="Budget name; default <foundry.name>-budget.")

    @field_validator("thresholds", "forecast_thresholds")
    @classmethod
    def _thresholds(cls, v: list[float]) -> list[float]:
        for t in v:
            if not 1 <= t <= 1000:
                raise ValueError(f"thresholds are percentages of the amount, 1-1000 (got {t:g})")
        if len(set(v)) != len(v):
            raise ValueError("a threshold is listed twice")
        return v

    @field_validator("emails")
    @classmethod
    def _emails(cls, v: list[str]) -> list[str]:
        return _emails(v)

    @field_validator("start_date")
    @classmethod
    def _start(cls, v: dt.date | None) -> dt.date | None:
        if v is None:
            return v
        if v.day != 1:
            raise ValueError(f"the start date must be the first of a month (got {v.isoformat()})")
        if v < BUDGET_EARLIEST_START:
            raise ValueError(f"budgets start on or after {BUDGET_EARLIEST_START.isoformat()} (got {v.isoformat()})")
        if v > _add_months(first_of_month(), 12):
            raise ValueError(f"a future start date may be at most twelve months ahead (got {v.isoformat()})")
        return v

    @field_validator("name")
    @classmethod
    def _name(cls, v: str | None) -> str | None:
        if v is not None and not BUDGET_NAME_RE.match(v):
            raise ValueError(f"must be 1-63 characters of letters, digits, '-' and '_' (got {v!r})")
        return v

    @model_validator(mode="after")
    def _count(self) -> BudgetSpec:
        n = len(self.thresholds) + len(self.forecast_thresholds)
        if self.enabled and n == 0:
            raise ValueError("a budget needs at least one threshold (thresholds or forecast_thresholds)")
        if n > MAX_BUDGET_NOTIFICATIONS:
            raise ValueError(f"Azure allows at most {MAX_BUDGET_NOTIFICATIONS} notifications per budget; "
                             f"thresholds and forecast_thresholds give {n}")
        return self

    @property
    def resolved_start_date(self) -> dt.date:
        return self.start_date or first_of_month()


BUDGET_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,63}$")


class MonitoringSpec(StrictModel):
    """What the stack adds for watching Claude's use beyond diagnostics and alerts. Off unless asked for."""

    dashboard: bool = Field(False, description=(
        "Deploy an Azure Monitor workbook (Microsoft.Insights/workbooks, kind shared) in the stack's resource group "
        "with per-deployment views of every account: requests, input/output/cache tokens, throttled (HTTP 429) and "
        "failed requests, latency, and the resource group's cost per day. Default false; advised in production by "
        "the policy."))

    @field_validator("dashboard", mode="before")
    @classmethod
    def _dashboard(cls, v: Any) -> Any:
        if not isinstance(v, bool):
            raise ValueError(f"must be true or false (got {v!r})")
        return v


def first_of_month(today: dt.date | None = None) -> dt.date:
    """The first day of the current month (UTC)."""
    today = today or dt.datetime.now(dt.timezone.utc).date()
    return today.replace(day=1)


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.month - 1 + months
    return day.replace(year=day.year + index // 12, month=index % 12 + 1)


# --- Private networking ---------------------------------------------------------------------------

SUBNET_ID_RE = re.compile(
    r"^/subscriptions/[0-9a-fA-F-]{36}/resourceGroups/[-\w._()]{1,90}/providers/Microsoft\.Network/"
    r"virtualNetworks/[-\w.]{2,64}/subnets/[-\w.]{1,80}$", re.IGNORECASE)
PRIVATE_DNS_ZONE_ID_RE = re.compile(
    r"^/subscriptions/[0-9a-fA-F-]{36}/resourceGroups/[-\w._()]{1,90}/providers/Microsoft\.Network/"
    r"privateDnsZones/(?P<zone>[a-z0-9.-]{1,253})$", re.IGNORECASE)
#: Virtual network and subnet names: 2-64 (subnets 1-80) letters, digits, '_', '.', '-', starting with a letter or
#: digit, ending with a letter, digit or '_' (Azure's naming rules for Microsoft.Network).
VNET_NAME_RE = re.compile(r"^[a-zA-Z0-9](?:[a-zA-Z0-9_.-]{0,62}[a-zA-Z0-9_])$")
SUBNET_NAME_RE = re.compile(r"^[a-zA-Z0-9](?:[a-zA-Z0-9_.-]{0,78}[a-zA-Z0-9_])?$")
DEFAULT_SUBNET_NAME = "snet-private-endpoints"


def _ipv4_network(value: str, what: str) -> ipaddress.IPv4Network:
    try:
        net = ipaddress.ip_network(value, strict=True)
    except ValueError:
        raise ValueError(f"{what} must be an IPv4 CIDR range such as 10.40.0.0/16, with no host bits set "
                         f"(got {value!r})") from None
    if not isinstance(net, ipaddress.IPv4Network):
        raise ValueError(f"{what} must be IPv4 (got {value!r})")
    return net


class PrivateNetworkSpec(StrictModel):
    """Private endpoints for the Foundry account (group ``account``) and the Key Vault (group ``vault``) in a
    subnet, with the private DNS zones Azure uses; public network access of both is then disabled (network ACLs
    default Deny, trusted Azure services allowed). Off unless the stack has a ``private_network:`` block. Give an
    existing ``subnet_id``, or ``address_space`` and ``subnet_prefix`` for a virtual network the stack creates."""

    enabled: bool = Field(True, description="Turn private networking on (false: the stack stays as without the "
                                            "block).")
    subnet_id: str | None = Field(None, description=(
        "ARM id of an existing subnet for the private endpoints (/subscriptions/.../virtualNetworks/<vnet>/"
        "subnets/<subnet>), in the stack's location (or `location`). Not together with address_space."))
    address_space: str | None = Field(None, description=(
        "Create a virtual network with this IPv4 address space (e.g. 10.40.0.0/16) and one subnet for the "
        "endpoints; needs subnet_prefix."))
    subnet_prefix: str | None = Field(None, description=(
        "IPv4 range of the created subnet, inside address_space (e.g. 10.40.1.0/24; /29 or larger)."))
    vnet_name: str | None = Field(None, description="Name of the created virtual network; default "
                                                    "vnet-<foundry.name>.")
    subnet_name: str = Field(DEFAULT_SUBNET_NAME, description="Name of the created subnet.")
    location: str | None = Field(None, description=(
        "Region of the virtual network and the endpoints (an endpoint lives in its subnet's region); default: the "
        "stack's location."))
    dns_zone_ids: dict[str, str] = Field(default_factory=dict, description=(
        "Existing private DNS zones by zone name (privatelink.cognitiveservices.azure.com, "
        "privatelink.openai.azure.com, privatelink.services.ai.azure.com, privatelink.vaultcore.azure.net) -> "
        "their ARM id, e.g. a hub's central zones (linked to your networks by their owner). A zone not given is "
        "created in the stack's resource group (location global) and linked to the virtual network "
        "(registrationEnabled false)."))
    key_vault: bool = Field(True, description=(
        "Make the Key Vault private too (its own endpoint, group vault, zone privatelink.vaultcore.azure.net; "
        "publicNetworkAccess Disabled). false: only the Foundry account is private."))
    trusted_services: bool = Field(True, description=(
        "Let trusted Azure services pass the network rules (networkAcls.bypass AzureServices), e.g. the Foundry "
        "account's managed identity reading the vault. false: bypass None."))

    @field_validator("subnet_id")
    @classmethod
    def _subnet_id(cls, v: str | None) -> str | None:
        if v is not None and not SUBNET_ID_RE.match(v):
            raise ValueError("must be a subnet's ARM id: /subscriptions/<guid>/resourceGroups/<rg>/providers/"
                             f"Microsoft.Network/virtualNetworks/<vnet>/subnets/<subnet> (got {v!r})")
        return v

    @field_validator("address_space")
    @classmethod
    def _space(cls, v: str | None) -> str | None:
        if v is not None:
            _ipv4_network(v, "address_space")
        return v

    @field_validator("subnet_prefix")
    @classmethod
    def _prefix(cls, v: str | None) -> str | None:
        if v is not None and _ipv4_network(v, "subnet_prefix").prefixlen > 29:
            raise ValueError(f"a subnet must be /29 or larger (Azure reserves five addresses) (got {v!r})")
        return v

    @field_validator("vnet_name")
    @classmethod
    def _vnet_name(cls, v: str | None) -> str | None:
        if v is not None and not VNET_NAME_RE.match(v):
            raise ValueError("must be 2-64 characters of letters, digits, '_', '.' and '-', starting with a letter "
                             f"or digit and ending with a letter, digit or '_' (got {v!r})")
        return v

    @field_validator("subnet_name")
    @classmethod
    def _subnet_name(cls, v: str) -> str:
        if not SUBNET_NAME_RE.match(v):
            raise ValueError("must be 1-80 characters of letters, digits, '_', '.' and '-', starting with a letter "
                             f"or digit and ending with a letter, digit or '_' (got {v!r})")
        return v

    @field_validator("dns_zone_ids")
    @classmethod
    def _zones(cls, v: dict[str, str]) -> dict[str, str]:
        for zone, zid in v.items():
            if zone not in arm.PRIVATE_DNS_ZONES:
                raise ValueError(f"unknown zone {zone!r}: the zones are {', '.join(arm.PRIVATE_DNS_ZONES)}")
            m = PRIVATE_DNS_ZONE_ID_RE.match(zid)
            if not m:
                raise ValueError(f"{zone}: must be a private DNS zone's ARM id (/subscriptions/<guid>/resourceGroups/"
                                 f"<rg>/providers/Microsoft.Network/privateDnsZones/{zone}) (got {zid!r})")
            if m.group("zone").lower() != zone:
                raise ValueError(f"{zone}: the id names the zone {m.group('zone')!r}, not {zone!r}")
        return v

    @model_validator(mode="after")
    def _where(self) -> PrivateNetworkSpec:
        if not self.enabled:
            return self
        creating = self.address_space is not None or self.subnet_prefix is not None
        if self.subnet_id and creating:
            raise ValueError("give either subnet_id (an existing subnet) or address_space and subnet_prefix (a "
                             "virtual network the stack creates), not both")
        if self.subnet_id and ({"vnet_name", "subnet_name"} & self.model_fields_set):
            raise ValueError("vnet_name and subnet_name name a virtual network the stack creates: not with "
                             "subnet_id")
        if not self.subnet_id:
            if not (self.address_space and self.subnet_prefix):
                raise ValueError("private_network needs a subnet: subnet_id, or address_space and subnet_prefix")
            space = _ipv4_network(self.address_space, "address_space")
            if not _ipv4_network(self.subnet_prefix, "subnet_prefix").subnet_of(space):
                raise ValueError(f"subnet_prefix {self.subnet_prefix} is not inside address_space "
                                 f"{self.address_space}")
        if not self.key_vault and arm.VAULT_PRIVATE_DNS_ZONES[0] in self.dns_zone_ids:
            raise ValueError(f"{arm.VAULT_PRIVATE_DNS_ZONES[0]} is given but key_vault: false (the vault stays "
                             "public)")
        return self

    @property
    def zones(self) -> tuple[str, ...]:
        """The private DNS zones the endpoints need."""
        return arm.ACCOUNT_PRIVATE_DNS_ZONES + (arm.VAULT_PRIVATE_DNS_ZONES if self.key_vault else ())

    def resolved_vnet_name(self, foundry_name: str) -> str:
        """The virtual network's name: the existing subnet's, else ``vnet_name`` or ``vnet-<foundry.name>``."""
        if self.subnet_id:
            return self.subnet_id.split("/")[8]
        return self.vnet_name or f"vnet-{foundry_name}"[:64].rstrip(".-")

    def vnet_id_of_subnet(self) -> str | None:
        """The existing subnet's virtual network id (None when the stack creates one)."""
        return self.subnet_id.rsplit("/subnets/", 1)[0] if self.subnet_id else None


# --- The stack ------------------------------------------------------------------------------------


class Spec(StrictModel):
    """One environment's stack: a Foundry account, its Claude deployments, a Key Vault with the contract."""

    environment: Annotated[str, Field(description="Environment name (dev, prod, ...): lower-case letters, "
                                                  "digits, hyphens, up to 32.")]
    location: Annotated[str, Field(description="Azure region, e.g. eastus2 or swedencentral.")]
    resource_group: Annotated[str, Field(description="Resource group that holds everything.")]
    create_resource_group: bool = Field(True, description="Create the resource group (false: it exists).")
    tags: dict[str, str] = Field(default_factory=dict, description="Tags on every resource.")
    foundry: FoundrySpec = Field(description="The Foundry resource.")
    deployments: dict[str, DeploymentSpec] = Field(description=(
        "Claude deployments keyed by deployment name (what clients pass as `model`). Deployed one after "
        "another, since Azure refuses concurrent changes to one account."))
    key_vault: KeyVaultSpec = Field(description="The Key Vault holding the contract for the runtime.")
    accounts: dict[str, AccountSpec] = Field(default_factory=dict, description=(
        "Further Foundry accounts, keyed by a short name (1-20 lower-case letters, digits, hyphens; not 'primary'), "
        "in order of preference after foundry: (e.g. one per region). Each serves the stack's deployments (or "
        "those it names) under the same names; the runtime fails over between them. Each is deployed in "
        "parallel with the others, its own deployments one after another."))
    access: AccessSpec = Field(default_factory=AccessSpec, description="Role assignments.")
    diagnostics: DiagnosticsSpec = Field(default_factory=DiagnosticsSpec, description=(
        "Request logging to Log Analytics (on by default, 30 days)."))
    protect: bool = Field(False, description=(
        "Production guard: Pulumi `protect` on the account, deployments and vault, and a CanNotDelete "
        "lock on the account and the vault."))
    alerts: AlertsSpec | None = Field(None, description=(
        "Azure Monitor metric alerts on the Foundry account (HTTP 429 throttling, server errors, latency) sent to "
        "an action group (e-mail, webhooks). Off by default; required in production by the policy."))
    budget: BudgetSpec | None = Field(None, description=(
        "A monthly cost budget on the resource group with notifications at percentages of the amount. Off by "
        "default; required in production by the policy."))
    monitoring: MonitoringSpec = Field(default_factory=MonitoringSpec, description=(
        "Usage views in Azure: dashboard: true deploys an Azure Monitor workbook per stack (off by default)."))
    private_network: PrivateNetworkSpec | None = Field(None, description=(
        "Private endpoints for the Foundry account and the Key Vault in a subnet (existing, or of a virtual network "
        "the stack creates), with Azure's private DNS zones (created and linked, or given by id); public network "
        "access of both disabled. Off by default; see docs/networking.md for how CI then reaches them."))

    # --- entry points: every one runs the catalogue checks (claude_foundry.program.spec.spec_from_mapping
    # is the public one, with readable errors) ---

    def __init__(self, /, **data: Any) -> None:
        context = _SPEC_CONTEXT.get() or validation_context(data)
        self.__pydantic_validator__.validate_python(data, self_instance=self, context=context)

    @classmethod
    def model_validate(cls, obj: Any, **kwargs: Any) -> Spec:
        token = _SPEC_CONTEXT.set(validation_context(obj, kwargs.pop("context", None)))
        try:
            return super().model_validate(obj, context=_SPEC_CONTEXT.get(), **kwargs)
        finally:
            _SPEC_CONTEXT.reset(token)

    @classmethod
    def model_validate_json(cls, json_data: str | bytes | bytearray, **kwargs: Any) -> Spec:
        try:
            parsed = json.loads(json_data)
        except ValueError:
            parsed = None  # pydantic reports the JSON error
        token = _SPEC_CONTEXT.set(validation_context(parsed, kwargs.pop("context", None)))
        try:
            return super().model_validate_json(json_data, context=_SPEC_CONTEXT.get(), **kwargs)
        finally:
            _SPEC_CONTEXT.reset(token)

    @field_validator("environment")
    @classmethod
    def _env(cls, v: str) -> str:
        if not ENVIRONMENT_RE.match(v):
            raise ValueError(f"must be 1-32 lower-case letters, digits and hyphens (got {v!r})")
        return v

    @field_validator("location")
    @classmethod
    def _location(cls, v: str, info: ValidationInfo) -> str:
        return _offered_location(v, info)

    @field_validator("resource_group")
    @classmethod
    def _rg(cls, v: str) -> str:
        if not RESOURCE_GROUP_RE.match(v) or v.endswith("."):
            raise ValueError("must be 1-90 characters of letters, digits, '_', '-', '.', '(' and ')', not "
                             f"ending in '.' (got {v!r})")
        return v

    @field_validator("tags")
    @classmethod
    def _tags(cls, v: dict[str, str]) -> dict[str, str]:
        if len(v) > 50:
            raise ValueError(f"Azure allows at most 50 tags (got {len(v)})")
        for name, value in v.items():
            if not name or len(name) > 512 or TAG_NAME_FORBIDDEN & set(name):
                raise ValueError(f"tag name {name!r}: 1-512 characters, none of < > % & \\ ? /")
            if len(value) > 256:
                raise ValueError(f"tag {name!r}: value longer than 256 characters")
        return v

    @field_validator("deployments", mode="before")
    @classmethod
    def _deployment_names_as_written(cls, v: Any) -> Any:
        """Names are checked as written, before whitespace stripping could make two of them one."""
        if isinstance(v, dict):
            bad = [name for name in v if not isinstance(name, str) or not DEPLOYMENT_NAME_RE.match(name)]
            if bad:
                raise ValueError(f"deployment name {bad[0]!r}: {DEPLOYMENT_NAME_RULE}")
        return v

    @field_validator("deployments")
    @classmethod
    def _deployments(cls, v: dict[str, DeploymentSpec]) -> dict[str, DeploymentSpec]:
        if not v:
            raise ValueError("at least one deployment is required")
        _within_account_limit(len(v))
        bad = [name for name in v if not DEPLOYMENT_NAME_RE.match(name)]
        if bad:
            raise ValueError(f"deployment name {bad[0]!r}: {DEPLOYMENT_NAME_RULE}")
        problem = physical_names_problem(v)
        if problem:
            raise ValueError(problem)
        return v

    @field_validator("accounts", mode="before")
    @classmethod
    def _account_keys(cls, v: Any) -> Any:
        if isinstance(v, dict):
            bad = [k for k in v if not isinstance(k, str) or not ACCOUNT_KEY_RE.match(k)
                   or k == contract.PRIMARY_ACCOUNT]
            if bad:
                raise ValueError(f"account name {bad[0]!r}: 1-20 lower-case letters, digits and hyphens, starting "
                                 f"with a letter, not ending in a hyphen, and not {contract.PRIMARY_ACCOUNT!r} "
                                 "(that is foundry:)")
            if len(v) > MAX_ACCOUNTS:
                raise ValueError(f"at most {MAX_ACCOUNTS} further accounts (got {len(v)})")
        return v

    @field_validator("accounts")
    @classmethod
    def _accounts(cls, v: dict[str, AccountSpec], info: ValidationInfo) -> dict[str, AccountSpec]:
        foundry, kv = info.data.get("foundry"), info.data.get("key_vault")
        seen: dict[str, str] = {foundry.name: "foundry.name"} if foundry is not None else {}
        for key, acct in v.items():
            if acct.name in seen:
                raise ValueError(f"{key}.name {acct.name!r} is already {seen[acct.name]}: every account needs its "
                                 "own (globally unique) name")
            seen[acct.name] = f"accounts.{key}.name"
            if kv is not None:
                try:
                    contract.SecretNames(kv.secret_prefix).api_key_of(key)
                except ValueError as exc:
                    raise ValueError(f"{key}: its key secret name is too long with key_vault.secret_prefix "
                                     f"({exc}); shorten one of them") from None
        return v

    @field_validator("budget")
    @classmethod
    def _budget_recipients(cls, v: BudgetSpec | None, info: ValidationInfo) -> BudgetSpec | None:
        alerts = info.data.get("alerts")
        if v is not None and v.enabled and not v.emails and not (alerts is not None and alerts.enabled):
            raise ValueError("nobody is notified: give budget.emails (or turn alerts on: the budget then notifies "
                             "their e-mails and action group)")
        return v

    @field_validator("private_network")
    @classmethod
    def _private_network(cls, v: PrivateNetworkSpec | None, info: ValidationInfo) -> PrivateNetworkSpec | None:
        foundry = info.data.get("foundry")
        if v is None or not v.enabled or foundry is None:
            return v
        nets = [("foundry.network", foundry.network)] + [
            (f"accounts.{k}.network", a.network) for k, a in (info.data.get("accounts") or {}).items()
            if a.network is not None]
        for where, net in nets:
            if "public_network_access" in net.model_fields_set and net.public_network_access:
                raise ValueError(f"private_network disables public network access, but {where}."
                                 f"public_network_access is true: remove it (keep a few public addresses with "
                                 f"{where}.ip_rules)")
        return v

    # --- derived values used by infra, runtime and ops ---

    @property
    def secret_names(self) -> contract.SecretNames:
        return contract.SecretNames(self.key_vault.secret_prefix)

    @property
    def auth_mode(self) -> str:
        return contract.AUTH_MODE_ENTRA if self.foundry.disable_local_auth else contract.AUTH_MODE_KEY

    @property
    def alerts_on(self) -> bool:
        return self.alerts is not None and self.alerts.enabled

    @property
    def budget_on(self) -> bool:
        return self.budget is not None and self.budget.enabled

    @property
    def dashboard_on(self) -> bool:
        return self.monitoring.dashboard

    @property
    def private_on(self) -> bool:
        return self.private_network is not None and self.private_network.enabled

    @property
    def workspace_name(self) -> str:
        return self.diagnostics.workspace_name or f"log-{self.foundry.name}"[:63]

    def deployment_map(self, catalogue: Catalogue | None = None) -> dict[str, contract.DeploymentInfo]:
        from claude_foundry._catalogue import load_catalogue

        cat = catalogue or load_catalogue()
        return {
            name: contract.DeploymentInfo(model=d.model, version=str(d.version), family=cat.family_of(d.model),
                                          sku=d.sku, capacity=d.capacity, deployment=physical_of(name, d))
            for name, d in self.deployments.items()
        }

    def base_url(self, template: str = contract.FOUNDRY_BASE_URL_TEMPLATE) -> str:
        return contract.foundry_base_url(self.foundry.name, template)

    @property
    def multi_account(self) -> bool:
        """The stack names further accounts (contract version 2)."""
        return bool(self.accounts)

    def all_accounts(self) -> list[ResolvedAccount]:
        """Every account, ``foundry:`` first (key :data:`~claude_foundry._contract.PRIMARY_ACCOUNT`), then
        ``accounts:`` in the order written."""
        out = [ResolvedAccount(contract.PRIMARY_ACCOUNT, self.location, self.foundry, dict(self.deployments))]
        for key, a in self.accounts.items():
            foundry = self.foundry.model_copy(update={"name": a.name, "network": a.network or self.foundry.network,
                                                      "project": None})
            out.append(ResolvedAccount(key, a.location, foundry, dict(a.deployments)))
        return out

    def stack_contract(self, template: str = contract.FOUNDRY_BASE_URL_TEMPLATE,
                       catalogue: Catalogue | None = None) -> contract.StackContract:
        """What the vault will hold, without keys: every account's endpoint, region and deployments."""
        return contract.StackContract(tuple(
            contract.Contract(resource=a.name, base_url=a.base_url(template), deployments=a.deployment_map(catalogue),
                              auth_mode=self.auth_mode, region=a.location, account=a.key)
            for a in self.all_accounts()), version=contract.CONTRACT_VERSION if self.accounts else 1)

    def all_tags(self) -> dict[str, str]:
        return {"environment": self.environment, "managed-by": "claude-foundry", **self.tags}


def spec_json_schema() -> dict[str, Any]:
    """JSON Schema of a stack file (with ``extends``), for editors."""
    schema = Spec.model_json_schema()
    schema["properties"]["extends"] = {
        "description": (
            "Another stack file (relative path) this one is merged onto: mappings merge key by key "
            "(deployments by name), a key set to null removes it, anything else is replaced. It must lie inside "
            "the stack's project (the directory holding Pulumi.yaml, else the stack file's directory) unless "
            "given as {path: ..., outside_project: true}; at most 16 files deep."),
        "oneOf": [
            {"type": "string", "minLength": 1},
            {"type": "object", "additionalProperties": False, "required": ["path"],
             "properties": {"path": {"type": "string", "minLength": 1},
                            "outside_project": {"type": "boolean", "default": False}}},
        ]}
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "claude-foundry stack"
    return schema
