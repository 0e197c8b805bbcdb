"""The Claude catalogue: a dated snapshot of what Microsoft Foundry offers, per model and version.

The live truth is Azure's models list (``GET .../locations/{location}/models``); ``claude-foundry catalogue
refresh`` merges it into a snapshot file. The bundled snapshot (``data/catalogue.json``) says when and from
which documents it was taken; a team points ``CLAUDE_FOUNDRY_CATALOGUE`` at its own refreshed copy, and a new
model reaches a stack with no code change. The file is JSON, read with the standard library (the core install
has no YAML reader); its fields are described in docs/reference.md ("The model catalogue").

Each model has versions; the version is the hosting: ``1`` runs on Anthropic's infrastructure, ``2`` on Azure
(MicrosoftDocs/azure-ai-docs, ``concepts-claude-models-content.md``). Every question "would Azure take this
deployment" is answered here once (:meth:`Catalogue.offer_problems`, :meth:`Catalogue.lifecycle`), for the
spec, the policy, preflight and the sandbox alike.
"""

from __future__ import annotations

import copy
import datetime as dt
import difflib
import json
import os
import re
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from claude_foundry import _jsontext as jsontext
from claude_foundry._errors import UserError

ENV_CATALOGUE = "CLAUDE_FOUNDRY_CATALOGUE"
#: The bundled snapshot, package data of ``claude_foundry``.
BUNDLED = "data/catalogue.json"
#: The largest catalogue file read (the bundled one is ~40 kB; a refreshed copy with every model of a few
#: regions stays far below).
MAX_CATALOGUE_BYTES = 10_000_000

Hosting = Literal["azure", "anthropic"]
HOSTING_AZURE: Final = "azure"
HOSTING_ANTHROPIC: Final = "anthropic"
HOSTINGS = (HOSTING_AZURE, HOSTING_ANTHROPIC)
#: What each hosting is called in Microsoft's documentation and the portal.
HOSTING_WORDS = {HOSTING_AZURE: "Hosted on Azure", HOSTING_ANTHROPIC: "Hosted on Anthropic infrastructure"}
#: The version Foundry uses for each hosting (models that follow the documented numbering).
HOSTING_VERSIONS: dict[Hosting, str] = {HOSTING_ANTHROPIC: "1", HOSTING_AZURE: "2"}

STATUSES = ("preview", "ga", "gated", "deprecated", "retired")
#: Anthropic's lifecycle stages (its model-deprecations page; its dates apply to Microsoft Foundry).
STAGES = ("active", "legacy", "deprecated", "retired")
#: What a catalogue entry may mark as not yet published by Microsoft (a model announced before Microsoft's pages
#: describe its offer): validation warns, ``preflight`` confirms against Azure's live models list.
UNVERIFIED_FACETS = ("status", "hosting", "skus", "locations", "quota", "capabilities")
#: A Claude model id as Foundry names deployments' models: ``claude-<family>-<major>[-<minor>]`` (no date).
CLAUDE_ID_RE = re.compile(r"^claude-([a-z]+)-(\d+)(?:-(\d+))?$")
THINKING_MODES = ("adaptive", "enabled", "disabled")
EFFORT_LEVELS = ("low", "medium", "high", "xhigh", "max")
AUTH_ANY: Final = "any"
AUTH_ENTRA_ONLY: Final = "entra-only"

Status = Literal["preview", "ga", "gated", "deprecated", "retired"]
Stage = Literal["active", "legacy", "deprecated", "retired"]


class CatalogueError(UserError):
    """The catalogue file cannot be read or is not a catalogue (exit 2, names the file)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Source(_Strict):
    """Where an entry came from: a document (repo + path) or Azure's models list (``via``)."""

    repo: str = "MicrosoftDocs/azure-ai-docs"
    path: str | None = None
    url: str | None = None
    via: str | None = None  # e.g. "ARM models list, eastus2" for a refreshed entry
    date: dt.date | None = None
    note: str = ""


class RefreshRecord(_Strict):
    date: dt.date
    locations: list[str]
    via: str  # "subscription <id>" or "sandbox"


class Snapshot(_Strict):
    date: dt.date  # Microsoft's offer (its pages, or the models list of a refresh)
    #: When Anthropic's lifecycle facts (stages, dates, replacements) were last checked against its pages.
    lifecycle_checked: dt.date | None = None
    sources: list[Source] = Field(default_factory=list)
    refreshes: list[RefreshRecord] = Field(default_factory=list)


class SkuInfo(_Strict):
    description: str = ""
    geographies: list[str] | None = None  # None: every geography


class LocationInfo(_Strict):
    geography: str


class Capabilities(_Strict):
    """What a request to the model may carry (the docs' capability tables)."""

    context_window: int | None = None
    max_output: int | None = None
    thinking: tuple[Literal["adaptive", "enabled", "disabled"], ...] = ("enabled", "disabled")
    effort: tuple[Literal["low", "medium", "high", "xhigh", "max"], ...] = ()
    mid_conversation_system: bool = False


class VersionInfo(_Strict):
    hosting: Hosting
    skus: list[str]
    #: None in the file: not stated by the snapshot's sources; loaded as every location of the catalogue
    #: (``locations_stated`` False) and left to preflight's live check.
    locations: list[str] | None = None
    locations_stated: bool = True
    status: Status | None = None  # None: the model's
    deprecation: dt.date | None = None
    retirement: dt.date | None = None
    source: Source | None = None


class ModelInfo(_Strict):
    """One model: Microsoft's offer (``status``, ``versions``: hostings, SKUs, locations; ``source``) merged
    with Anthropic's lifecycle (``stage``, ``retirement``, ``replacement``; ``lifecycle_source``)."""

    family: str
    #: Microsoft's status of the offer (the vocabulary every reader uses); a retired or deprecated stage is
    #: mirrored here so that readers of ``status`` alone stay right.
    status: Status = "ga"
    auth: Literal["any", "entra-only"] = AUTH_ANY
    deprecation: dt.date | None = None  # no new deployments after it
    retirement: dt.date | None = None  # the model stops answering
    #: Anthropic's stage as its sources state it (None: not stated; derived from ``status``).
    stage: Stage | None = None
    #: The model Anthropic names as the replacement (None: none named).
    replacement: str | None = None
    #: The retirement date comes from a secondary source or is announced as tentative.
    retirement_tentative: bool = False
    launched: dt.date | None = None
    #: Where the stage, dates and replacement came from (Anthropic's model page or deprecations page).
    lifecycle_source: Source | None = None
    #: Facets of Microsoft's offer not published yet (see :data:`UNVERIFIED_FACETS`).
    unverified: tuple[Literal["status", "hosting", "skus", "locations", "quota", "capabilities"], ...] = ()
    note: str = ""
    default_capacity: int = Field(25, ge=1)
    capabilities: Capabilities = Field(default_factory=Capabilities)
    source: Source | None = None
    versions: dict[str, VersionInfo]

    @model_validator(mode="after")
    def _has_versions(self) -> ModelInfo:
        if not self.versions:
            raise ValueError("a model needs at least one version")
        if self.stage == "retired" and self.status != "retired":
            raise ValueError("stage retired needs status retired (readers of status must see it)")
        if self.stage == "deprecated" and self.status not in ("deprecated", "retired"):
            raise ValueError("stage deprecated needs status deprecated")
        return self

    # -- per version -------------------------------------------------------------------------------

    def version_info(self, version: str) -> VersionInfo | None:
        return self.versions.get(str(version))

    def status_of(self, version: str) -> str:
        info = self.version_info(version)
        return (info.status if info and info.status else None) or self.status

    def retirement_of(self, version: str) -> dt.date | None:
        info = self.version_info(version)
        return (info.retirement if info else None) or self.retirement

    def deprecation_of(self, version: str) -> dt.date | None:
        info = self.version_info(version)
        return (info.deprecation if info else None) or self.deprecation

    def stage_of(self, version: str, today: dt.date | None = None) -> str:
        """Anthropic's stage of this version today: retired once its retirement date has passed (or Azure lists
        it retired), deprecated when either side says so, else the stated stage (active by default)."""
        today = today or dt.date.today()
        status = self.status_of(version)
        retirement = self.retirement_of(version)
        if status == "retired" or self.stage == "retired" or (retirement is not None and retirement <= today):
            return "retired"
        if status == "deprecated" or self.stage == "deprecated":
            return "deprecated"
        return self.stage or "active"

    @property
    def hostings(self) -> list[str]:
        return [h for h in HOSTINGS if any(v.hosting == h for v in self.versions.values())]

    def version_for(self, hosting: str) -> str | None:
        """The newest version of this hosting that is not retired (None: not offered in it)."""
        candidates = [v for v, info in self.versions.items() if info.hosting == hosting]
        live = [v for v in candidates if self.status_of(v) != "retired"] or candidates
        return max(live, key=_version_key) if live else None

    @property
    def default_hosting(self) -> str:
        """Azure-hosted where the model has it (the portal's and the docs' default), else Anthropic's."""
        return HOSTING_AZURE if HOSTING_AZURE in self.hostings else self.hostings[0]

    @property
    def default_version(self) -> str:
        return self.version_for(self.default_hosting) or next(iter(self.versions))

    @property
    def locations(self) -> list[str]:
        """Every location any version is offered in."""
        out: list[str] = []
        for info in self.versions.values():
            out.extend(loc for loc in info.locations or () if loc not in out)
        return out

    @property
    def entra_only(self) -> bool:
        return self.auth == AUTH_ENTRA_ONLY


def _version_key(version: str) -> tuple[int, str]:
    return (int(version), version) if version.isdigit() else (-1, version)


class Eligibility(_Strict):
    """What a subscription type (``subscriptionPolicies.quotaId``) means for deploying Claude."""

    verdict: Literal["eligible", "ineligible", "uncertain", "zero-quota"]
    reason: str
    source: str = ""


class MarketplaceOffer(_Strict):
    """Azure Marketplace coordinates whose terms govern Claude billing; ``{model}`` is replaced by the model
    id. ``None`` ids: not published in the sources (preflight says so instead of guessing)."""

    name: str
    publisher: str | None = None
    offer: str | None = None
    plan: str | None = None
    per_model: bool = False
    note: str = ""
    source: str = ""

    def ids(self, model: str) -> tuple[str, str, str] | None:
        if not (self.publisher and self.offer and self.plan):
            return None
        return (self.publisher.format(model=model), self.offer.format(model=model), self.plan.format(model=model))


class Catalogue(_Strict):
    snapshot: Snapshot
    format: str = "Anthropic"
    #: quotaId -> verdict (prefix match on the part before ``_``, e.g. ``CSP`` for ``CSP_2015-05-01``)
    eligibility: dict[str, Eligibility] = Field(default_factory=dict)
    #: tried in order by preflight
    marketplace_offers: list[MarketplaceOffer] = Field(default_factory=list)
    skus: dict[str, SkuInfo]
    locations: dict[str, LocationInfo]
    #: Newest first: the env export prefers the first model of a family.
    models: dict[str, ModelInfo]

    @model_validator(mode="before")
    @classmethod
    def _fill_locations(cls, data: Any) -> Any:
        """A version without stated locations is offered, as far as the snapshot knows, everywhere Claude is."""
        if not isinstance(data, dict) or not isinstance(data.get("models"), dict):
            return data
        data = copy.deepcopy(data)  # never change the caller's mapping
        everywhere = list((data.get("locations") or {}).keys())
        for model in data["models"].values():
            for version in (model or {}).get("versions", {}).values() if isinstance(model, dict) else ():
                if isinstance(version, dict) and version.get("locations") is None:
                    version["locations"] = list(everywhere)
                    version["locations_stated"] = False
        return data

    @model_validator(mode="after")
    def _consistent(self) -> Catalogue:
        problems = []
        for name, model in self.models.items():
            for version, info in model.versions.items():
                problems += [f"models.{name}.versions.{version}.skus: unknown SKU {s!r}" for s in info.skus
                             if s not in self.skus]
                problems += [f"models.{name}.versions.{version}.locations: unknown location {loc!r}"
                             for loc in info.locations or () if loc not in self.locations]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def model(self, name: str) -> ModelInfo | None:
        return self.models.get(name)

    def eligibility_of(self, quota_id: str) -> Eligibility | None:
        """The verdict for a subscription's quotaId (exact, else by its offer-type prefix before ``_``)."""
        if quota_id in self.eligibility:
            return self.eligibility[quota_id]
        prefix = quota_id.split("_", 1)[0].lower()
        return next((e for k, e in self.eligibility.items() if k.split("_", 1)[0].lower() == prefix), None)

    def family_of(self, model: str) -> str:
        """The model's family; for a Claude model id the catalogue does not hold yet, the one its id names."""
        info = self.models.get(model)
        if info is not None:
            return info.family
        match = CLAUDE_ID_RE.match(model)
        return match.group(1) if match else ""

    def sku_locations(self, sku: str) -> list[str]:
        info = self.skus.get(sku)
        if info is None:
            return []
        return [loc for loc, li in self.locations.items()
                if info.geographies is None or li.geography in info.geographies]

    # -- would Azure take it -----------------------------------------------------------------------

    def offer_problems(self, model: str, version: str, sku: str, location: str) -> list[tuple[str, str]]:
        """``(field, what is wrong and what is allowed)`` for a deployment Azure would refuse as not offered:
        fields are ``model``, ``version``, ``sku``, ``location``. Empty: offered (as far as the snapshot
        knows; ``preflight`` asks the live list)."""
        info = self.models.get(model)
        if info is None:
            return [("model", self.unknown_model(model)[1])]
        vinfo = info.version_info(version)
        if vinfo is None:
            return [("version", f"{model} has no version {version!r}; versions: "
                                f"{_versions_words(info)}")]
        out = []
        if sku not in vinfo.skus:
            out.append(("sku", f"{model} version {version} ({HOSTING_WORDS[vinfo.hosting]}) is offered as "
                               f"{', '.join(vinfo.skus)}, not {sku}" + _sku_hint(info, sku)))
        elif sku in self.skus and location in self.locations and location not in self.sku_locations(sku):
            geo = ", ".join(self.skus[sku].geographies or [])
            out.append(("sku", f"{sku} keeps data inside its data zone ({geo}); {location} is in "
                               f"{self.locations[location].geography}: use GlobalStandard or a location in {geo}"))
        if location in self.locations and location not in (vinfo.locations or ()):
            out.append(("location", f"{model} version {version} is not offered in {location}; locations: "
                                    f"{', '.join(vinfo.locations or ()) or 'none'}"))
        return out

    def lifecycle(self, model: str, version: str, today: dt.date | None = None) -> tuple[str, str] | None:
        """``("error" | "warning", words)`` for a retired, deprecated, preview or gated model, or one whose offer
        Microsoft has not published yet; else None. A retired model is refused with its retirement date and its
        replacement; a deprecated one warns with both."""
        info = self.models.get(model)
        if info is None or info.version_info(version) is None:
            return None
        today = today or dt.date.today()
        stage = info.stage_of(version, today)
        retirement = info.retirement_of(version)
        deprecation = info.deprecation_of(version)
        if stage == "retired":
            when = f" on {retirement.isoformat()}" if retirement and retirement <= today else ""
            return ("error", f"{model} retired{when}; {self.replacement_words(model)} (requests to a retired "
                             "model fail and Azure takes no new deployments of it)")
        if deprecation is not None and deprecation <= today:
            return ("error", f"{model} is deprecated since {deprecation.isoformat()}: Azure takes no new "
                             f"deployments of it" + (f"; it retires on {self.retirement_words(model, version)}"
                                                     if retirement else "") + f"; {self.replacement_words(model)}")
        if stage == "deprecated" or deprecation is not None or retirement is not None:
            parts = [f"{model} is deprecated" if stage == "deprecated" or deprecation else f"{model} is due to retire"]
            if deprecation:
                parts.append(f"no new deployments after {deprecation.isoformat()}")
            parts.append(f"it retires on {self.retirement_words(model, version)}" if retirement else
                         "retirement date not yet announced")
            return ("warning", "; ".join(parts) + f"; {self.replacement_words(model)}")
        if info.unverified:
            return ("warning", self.unverified_words(model))
        if stage == "legacy":
            return ("warning", f"{model} is a legacy model (no more updates; Anthropic may deprecate it with 60 "
                               f"days' notice); {self.replacement_words(model, named='consider')}")
        if info.status_of(version) == "preview":
            return ("warning", f"{model} is in preview on Foundry (no SLA; behaviour and availability may change)")
        if info.status_of(version) == "gated":
            return ("warning", f"{model} is a gated research preview: access is granted by Anthropic; "
                               "without it the deployment is refused")
        return None

    def retirement_words(self, model: str, version: str | None = None) -> str:
        """The retirement date, with "(tentative: ...)" when the source is secondary or the date tentative."""
        info = self.models.get(model)
        if info is None:
            return "unknown"
        when = info.retirement_of(version) if version is not None else info.retirement
        if when is None:
            return "not announced"
        return when.isoformat() + (" (tentative: reported by a secondary source, not yet on Anthropic's "
                                   "deprecations page)" if info.retirement_tentative else "")

    def replacement_words(self, model: str, *, named: str = "its replacement is") -> str:
        """``its replacement is X`` (Anthropic's named replacement), else the current models of its family."""
        info = self.models.get(model)
        if info is not None and info.replacement:
            return f"{named} {info.replacement}"
        alternatives = ", ".join(self.successors(model)) or "a current model"
        return f"no replacement named by Anthropic yet; current models of its family: {alternatives}"

    def unverified_words(self, model: str) -> str:
        info = self.models.get(model)
        facets = ", ".join(info.unverified) if info else ""
        return (f"{model} is announced on Microsoft Foundry but Microsoft has not published its offer details "
                f"({facets}): the catalogue's entry is unverified; `claude-foundry preflight` confirms the "
                "deployment against Azure's live models list")

    def successors(self, model: str) -> list[str]:
        """The named replacement first, then current models of the same family, newest first (for advice)."""
        info = self.models.get(model)
        fam = self.family_of(model)
        first = [info.replacement] if info is not None and info.replacement else []
        out = [n for n, m in self.models.items() if m.family == fam and n != model and m.status in ("ga",)
               and not m.unverified and m.stage in (None, "active") and n not in first]
        out = first + out
        return out[:2] or [n for n, m in self.models.items() if m.status == "ga" and m.stage in (None, "active")][:2]

    # -- a model the snapshot does not know ------------------------------------------------------------

    def families(self) -> list[str]:
        return list(dict.fromkeys(m.family for m in self.models.values()))

    def unknown_model(self, name: str) -> tuple[str, str]:
        """The verdict on a model id the catalogue does not hold: ``("warning", ...)`` for an id that looks like
        a Claude model released after the snapshot (``preflight`` confirms it against Azure's live list), or
        ``("error", ...)`` for a near miss of a known model (a typo: "did you mean") or an id that is not a
        Claude model id at all."""
        snapshot = self.snapshot.date.isoformat()
        refresh = (f"run `claude-foundry catalogue refresh` or point {ENV_CATALOGUE} at a newer catalogue")
        near = difflib.get_close_matches(name, list(self.models), n=1, cutoff=0.8)
        match = CLAUDE_ID_RE.match(name)
        family = match.group(1) if match else None
        known_families = self.families()
        if match and family in known_families:
            hint = f" (if you meant {near[0]}, fix the name)" if near else ""
            return ("warning", f"{name} is not in the catalogue snapshot of {snapshot}{hint}: if it is a model "
                               f"released since, `claude-foundry preflight` confirms it against Azure's live "
                               f"models list ({refresh})")
        if match and not difflib.get_close_matches(family or "", known_families, n=1, cutoff=0.75) and not near:
            return ("warning", f"{name} is not in the catalogue snapshot of {snapshot} (a new family, "
                               f"{family!r}): `claude-foundry preflight` confirms it against Azure's live models "
                               f"list ({refresh})")
        if not near:
            # a dated id (claude-sonnet-5-5-20261001), a dot (claude-sonnet-5.5), a family typo
            canonical = re.sub(r"-\d{8}$", "", name.strip().lower().replace(".", "-").replace("_", "-"))
            near = ([canonical] if canonical in self.models else
                    difflib.get_close_matches(canonical, list(self.models), n=1, cutoff=0.75))
        if near:
            return ("error", f"unknown model {name!r}: did you mean {near[0]}? (Foundry model ids look like "
                             f"claude-<family>-<major>-<minor>, no date; catalogue snapshot of {snapshot})")
        return ("error", f"unknown model {name!r}; known: {', '.join(self.models)} ({refresh})")

    # -- how old the snapshot is -----------------------------------------------------------------------

    def last_checked(self) -> dt.date:
        """The newest of the snapshot's date and its refreshes."""
        return max([self.snapshot.date, *(r.date for r in self.snapshot.refreshes)])

    def age_words(self, today: dt.date | None = None) -> str:
        """"snapshot of 2026-09-21 (77 days old; refreshed ...)" for reports that depend on it."""
        today = today or dt.date.today()
        last = self.last_checked()
        days = (today - last).days
        refreshed = self.snapshot.refreshes[-1] if self.snapshot.refreshes else None
        words = f"snapshot of {self.snapshot.date.isoformat()}"
        if self.snapshot.lifecycle_checked is not None:
            words += f", lifecycle dates checked {self.snapshot.lifecycle_checked.isoformat()}"
        if refreshed is not None:
            words += f", refreshed {refreshed.date.isoformat()} from {refreshed.via}"
        return words + f" ({days} day{'s' if days != 1 else ''} old" + (
            "; run `claude-foundry catalogue refresh` for Azure's live list)" if days > 30 else ")")


def _versions_words(info: ModelInfo) -> str:
    return ", ".join(f"{v} ({HOSTING_WORDS[i.hosting]})" for v, i in info.versions.items())


def _sku_hint(info: ModelInfo, sku: str) -> str:
    others = [f"version {v} ({HOSTING_WORDS[i.hosting]})" for v, i in info.versions.items() if sku in i.skus]
    return f"; {sku} is offered for {', '.join(others)}" if others else ""


# --- loading ----------------------------------------------------------------------------------------


def parse_catalogue(data: Any, source: str) -> Catalogue:
    try:
        return Catalogue.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise CatalogueError(f"{source}: not a claude-foundry catalogue ({exc.error_count()} problem(s)); first: "
                             f"{where or '(top)'}: {first.get('msg')}") from None


def read_catalogue_text(path: str | Path) -> str:
    """The text of a catalogue file (a regular file of at most :data:`MAX_CATALOGUE_BYTES`, UTF-8)."""
    path = Path(path)
    try:
        if not path.is_file():
            raise CatalogueError(f"{path}: catalogue file not found (a regular file is needed; {ENV_CATALOGUE} "
                                 "names it)")
        with path.open("rb") as fh:
            raw = fh.read(MAX_CATALOGUE_BYTES + 1)
        if len(raw) > MAX_CATALOGUE_BYTES:
            raise CatalogueError(f"{path}: more than {MAX_CATALOGUE_BYTES:,} bytes; not a catalogue")
        return raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogueError(f"{path}: cannot read the catalogue: {type(exc).__name__}") from None


def load_catalogue_file(path: str | Path) -> Catalogue:
    """A catalogue file: JSON, as ``catalogue refresh`` writes it."""
    text = read_catalogue_text(path)
    try:
        data = jsontext.loads(text)
    except jsontext.JsonError as exc:
        raise CatalogueError(f"{path}: cannot read the catalogue: {exc} (a catalogue file is JSON, as "
                             "`claude-foundry catalogue refresh` writes it)") from None
    return parse_catalogue(data, str(path))


def bundled_catalogue_text() -> str:
    return resources.files("claude_foundry").joinpath(BUNDLED).read_text(encoding="utf-8")


@lru_cache(maxsize=4)
def _load(path: str | None) -> Catalogue:
    if path:
        return load_catalogue_file(path)
    return parse_catalogue(jsontext.loads(bundled_catalogue_text()), f"claude_foundry/{BUNDLED}")


def load_catalogue() -> Catalogue:
    """The packaged catalogue, or the file named by ``CLAUDE_FOUNDRY_CATALOGUE``."""
    return _load(os.environ.get(ENV_CATALOGUE) or None)


#: Lines of the JSON a catalogue is written as stay within this width where they can: a list or mapping that fits
#: on one line is written on one (a version's SKUs and locations, a source), a longer one item per line.
JSON_WIDTH = 118


def _json_lines(value: Any, indent: int, lead: str) -> list[str]:
    """``value`` as JSON lines, the first starting with ``lead`` (a key, or nothing) at ``indent`` spaces."""
    pad = " " * indent
    flat = json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    if not isinstance(value, dict | list) or not value or len(pad) + len(lead) + len(flat) + 1 <= JSON_WIDTH:
        return [pad + lead + flat]
    entries: list[tuple[str | None, Any]] = list(value.items()) if isinstance(value, dict) else [
        (None, v) for v in value]
    open_, close = ("{", "}") if isinstance(value, dict) else ("[", "]")
    out = [pad + lead + open_]
    for n, (key, item) in enumerate(entries):
        inner = "" if key is None else json.dumps(key, ensure_ascii=False) + ": "
        lines = _json_lines(item, indent + 2, inner)
        if n < len(entries) - 1:
            lines[-1] += ","
        out += lines
    return [*out, pad + close]


def dump_json(data: Any) -> str:
    """JSON text for a person to read and diff: two-space indents, short lists and mappings on one line."""
    return "\n".join(_json_lines(data, 0, "")) + "\n"


def dump_catalogue(cat: Catalogue) -> str:
    """The catalogue as JSON (what ``catalogue refresh`` writes); locations not stated stay ``null``."""
    data = cat.model_dump(mode="json", exclude_defaults=True)
    for model in data["models"].values():
        for vdata in model["versions"].values():
            if not vdata.pop("locations_stated", True):
                vdata["locations"] = None
    return dump_json(data)
