"""``catalogue refresh``: merge Azure's models list into a catalogue snapshot, and say what changed.

The live truth is ``GET /subscriptions/{id}/providers/Microsoft.CognitiveServices/locations/{location}/models``
(``Models_List``; azure-mgmt-cognitiveservices ``client.models.list(location)``). Each item is a ``Model`` whose
``model`` (``AccountModel``) names ``format``, ``name``, ``version``, ``skus[].name``, ``lifecycleStatus`` and
``deprecation.inference``. What the list does not carry (hosting words, request capabilities, auth
restrictions, family) stays from the snapshot; a model the snapshot never saw gets conservative capabilities
and says so in its source note.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from claude_foundry._catalogue import (
    HOSTING_ANTHROPIC,
    HOSTING_VERSIONS,
    HOSTING_WORDS,
    Catalogue,
    Hosting,
    LocationInfo,
    ModelInfo,
    RefreshRecord,
    Source,
    VersionInfo,
)

#: ``lifecycleStatus`` (ModelLifecycleStatus, azure-rest-api-specs 2025-09-01) -> the catalogue's status.
LIFECYCLE = {"generallyavailable": "ga", "stable": "ga", "preview": "preview", "deprecating": "deprecated",
             "legacy": "deprecated", "deprecated": "retired"}

#: Azure regions by data zone, for a location the snapshot does not know yet (Data Zone Standard checks).
_GEOGRAPHY_PATTERNS = (
    (re.compile(r"^(east|west|central|northcentral|southcentral|westcentral)us\d*$"), "us"),
    (re.compile(r"^(sweden|france|germany|italy|spain|poland|norway|switzerland|north|west)"
                r"(central|south|north|west|east|europe)\d*$"), "eu"),
)


def geography_of(location: str) -> str:
    for pattern, geo in _GEOGRAPHY_PATTERNS:
        if pattern.match(location):
            return geo
    return "other"


@dataclass(frozen=True)
class LiveModel:
    """One entry of the models list, as far as the catalogue uses it."""

    name: str
    version: str
    format: str
    skus: tuple[str, ...] = ()
    lifecycle: str | None = None
    retirement: dt.date | None = None
    is_default: bool = False


def _date(text: Any) -> dt.date | None:
    if not text:
        return None
    if isinstance(text, dt.datetime):
        return text.date()
    if isinstance(text, dt.date):
        return text
    try:
        return dt.date.fromisoformat(str(text)[:10])
    except ValueError:
        return None


def parse_models_list(body: Mapping[str, Any]) -> list[LiveModel]:
    """The REST response body (``{"value": [{"kind", "skuName", "model": {...}}]}``) as :class:`LiveModel`s."""
    out = []
    for item in body.get("value") or []:
        m = (item or {}).get("model") if isinstance(item, Mapping) else None
        if not isinstance(m, Mapping) or not m.get("name") or m.get("version") is None:
            continue
        dep = m.get("deprecation") or {}
        out.append(LiveModel(name=str(m["name"]), version=str(m["version"]), format=str(m.get("format") or ""),
                             skus=tuple(str(s.get("name")) for s in m.get("skus") or [] if s.get("name")),
                             lifecycle=m.get("lifecycleStatus"), retirement=_date(dep.get("inference")),
                             is_default=bool(m.get("isDefaultVersion"))))
    return out


def from_sdk(items: Iterable[Any]) -> list[LiveModel]:
    """``azure.mgmt.cognitiveservices.models.Model`` items as :class:`LiveModel`s."""
    out = []
    for item in items:
        m = getattr(item, "model", None)
        if m is None or not m.name or m.version is None:
            continue
        dep = getattr(m, "deprecation", None)
        out.append(LiveModel(name=str(m.name), version=str(m.version), format=str(m.format or ""),
                             skus=tuple(str(s.name) for s in m.skus or [] if s.name),
                             lifecycle=getattr(m, "lifecycle_status", None),
                             retirement=_date(getattr(dep, "inference", None) if dep else None),
                             is_default=bool(getattr(m, "is_default_version", False))))
    return out


def fetch_live(target: Any, locations: Iterable[str]) -> dict[str, list[LiveModel]]:
    """The models list of each location, through the target's credential (Azure or the sandbox)."""
    with target.cognitive_client() as client:
        return {loc: from_sdk(client.models.list(loc)) for loc in locations}


# --- the merge ------------------------------------------------------------------------------------


@dataclass
class RefreshResult:
    catalogue: Catalogue
    changes: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.changes)


def _family(name: str) -> str:
    parts = name.split("-")
    return parts[1] if len(parts) > 2 and parts[0] == "claude" else "other"


def _hosting_for(version: str, known: VersionInfo | None) -> Hosting:
    if known is not None:
        return known.hosting
    by_version: dict[str, Hosting] = {v: h for h, v in HOSTING_VERSIONS.items()}
    return by_version.get(version, HOSTING_ANTHROPIC)


def merge(base: Catalogue, live: Mapping[str, list[LiveModel]], *, today: dt.date | None = None,
          via: str = "ARM models list") -> RefreshResult:
    """``base`` with each refreshed location's Anthropic models as Azure lists them. A version absent from a
    refreshed location's list loses that location; one present gains it; SKUs Azure lists are added; the
    lifecycle status and retirement date follow the list; everything else stays from ``base``."""
    today = today or dt.date.today()
    data = base.model_dump(mode="python")
    # keep "not stated" locations as such unless a refreshed location contradicts them
    stated = {(n, v): vi.locations_stated for n, m in base.models.items() for v, vi in m.versions.items()}
    changes: list[str] = []
    locations = data["locations"]
    everywhere = list(locations)
    for loc in live:
        if loc not in locations:
            locations[loc] = LocationInfo(geography=geography_of(loc)).model_dump()
            changes.append(f"+ location {loc} (geography {locations[loc]['geography']})")
    models: dict[str, Any] = data["models"]
    for loc, entries in live.items():
        seen: set[tuple[str, str]] = set()
        for e in (e for e in entries if e.format.lower() == base.format.lower()):
            seen.add((e.name, e.version))
            model = models.get(e.name)
            if model is None:
                model = ModelInfo(
                    family=_family(e.name), versions={e.version: VersionInfo(hosting=_hosting_for(e.version, None),
                                                                               skus=list(e.skus), locations=[])},
                    source=Source(repo="", via=via, date=today, note=(
                        "new in the models list: request capabilities are conservative defaults (thinking "
                        "enabled/disabled, no effort, no mid-conversation system role); check the model's "
                        "documentation and edit them"))).model_dump(mode="python")
                models[e.name] = model
                changes.append(f"+ model {e.name} (family {model['family']})")
            version = model["versions"].get(e.version)
            if version is None:
                hosting = _hosting_for(e.version, None)
                version = VersionInfo(hosting=hosting, skus=list(e.skus), locations=[], source=Source(
                    repo="", via=via, date=today)).model_dump(mode="python")
                model["versions"][e.version] = version
                stated[(e.name, e.version)] = True
                changes.append(f"+ {e.name} version {e.version} ({HOSTING_WORDS[hosting]})")
            if not stated.get((e.name, e.version), True):
                pass  # offered here, and (as far as anyone said) everywhere: nothing to record
            elif loc not in version["locations"]:
                version["locations"].append(loc)
                changes.append(f"+ {e.name} version {e.version} offered in {loc}")
            new_skus = [s for s in e.skus if s not in version["skus"] and s in base.skus]
            if new_skus:
                version["skus"] = [*version["skus"], *new_skus]
                changes.append(f"+ {e.name} version {e.version}: SKU {', '.join(new_skus)}")
            status = LIFECYCLE.get(str(e.lifecycle or "").lower())
            effective = version.get("status") or model["status"]
            if status and status != effective and not (status == "preview" and effective == "gated"):
                version["status"] = status
                changes.append(f"~ {e.name} version {e.version}: status {effective} -> {status}")
            if e.retirement and e.retirement != (version.get("retirement") or model.get("retirement")):
                version["retirement"] = e.retirement
                changes.append(f"~ {e.name} version {e.version}: retires {e.retirement.isoformat()}")
        for name, model in models.items():
            for vname, version in model["versions"].items():
                if (name, vname) in seen:
                    continue
                if stated.get((name, vname), True):
                    if loc in version["locations"]:
                        version["locations"].remove(loc)
                        changes.append(f"- {name} version {vname} no longer listed in {loc}")
                else:  # was "everywhere": now everywhere but here
                    version["locations"] = [x for x in everywhere if x != loc]
                    stated[(name, vname)] = True
                    changes.append(f"- {name} version {vname} not listed in {loc}")
    for (name, vname), is_stated in stated.items():
        if name in models and vname in models[name]["versions"]:
            models[name]["versions"][vname]["locations_stated"] = is_stated
            if not is_stated:
                models[name]["versions"][vname]["locations"] = None
    snapshot = data["snapshot"]
    snapshot["date"] = today
    snapshot["refreshes"] = [*snapshot.get("refreshes", []),
                             RefreshRecord(date=today, locations=sorted(live), via=via).model_dump()]
    return RefreshResult(Catalogue.model_validate(data), changes)
