"""``claude-foundry lifecycle``: where each deployment of a stack stands in its model's lifecycle, and when it
must move.

Per account and deployment: the model and version, Anthropic's stage (active, legacy, deprecated, retired:
its dates apply to Microsoft Foundry), the deprecation and retirement dates, the days left, the replacement
Anthropic names, and where each fact came from: the catalogue in use (the bundled snapshot and its date, or a
refreshed file named by ``CLAUDE_FOUNDRY_CATALOGUE``) and, when asked, Azure's live models list
(``locations/{location}/models``: ``lifecycleStatus`` and ``deprecation.inference`` per model version, read with
:func:`claude_foundry._ops.refresh.fetch_live`). Runs on the core install with the catalogue alone; the live
list needs ``[ops]``.

A deployment is *due* when its model is retired or retires within the window (default 60 days: Anthropic's
minimum notice). The report is data; the CLI renders it and owns the exit code.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from claude_foundry._catalogue import ENV_CATALOGUE, Catalogue, load_catalogue
from claude_foundry._ops.refresh import LiveModel
from claude_foundry.program.spec import SpecError, validate_data
from claude_foundry.program.spec._issues import LoadError
from claude_foundry.program.spec._loader import load_document
from claude_foundry.program.spec._schema import Spec

DEFAULT_WITHIN_DAYS = 60

#: ``lifecycleStatus`` of Azure's models list -> Anthropic's stage. Azure's "Deprecated" means the version no
#: longer serves (retired); "Deprecating" that a retirement is scheduled (azure-rest-api-specs ModelLifecycleStatus).
LIVE_STAGE = {"generallyavailable": "active", "stable": "active", "preview": "active", "legacy": "legacy",
              "deprecating": "deprecated", "deprecated": "retired"}

#: What a deployment's entry asks of the team, most urgent first.
ACTIONS = ("retired", "retiring", "deprecated", "legacy", "unknown", "ok")


@dataclass(frozen=True)
class DeploymentLifecycle:
    """One deployment of one account of one stack."""

    stack: str
    account: str  # the stack's key for the account (contract.PRIMARY_ACCOUNT for foundry:, else its accounts: key)
    account_name: str
    location: str
    deployment: str
    model: str
    version: str
    stage: str  # active | legacy | deprecated | retired | unknown
    deprecation: dt.date | None
    retirement: dt.date | None
    retirement_tentative: bool
    days_left: int | None  # None: no retirement date; negative: retired that many days ago
    replacement: str | None
    action: str  # one of ACTIONS
    #: fact -> where it came from ("stage", "retirement", "replacement", "offer")
    sources: dict[str, str] = field(default_factory=dict)
    note: str = ""

    @property
    def due(self) -> bool:
        return self.action in ("retired", "retiring")

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("deprecation", "retirement"):
            out[key] = out[key].isoformat() if out[key] else None
        out["due"] = self.due
        return out


@dataclass(frozen=True)
class LifecycleReport:
    today: dt.date
    within_days: int
    catalogue: str  # "bundled" or the file CLAUDE_FOUNDRY_CATALOGUE names
    catalogue_age: str  # Catalogue.age_words
    live: str | None  # where the live list came from (None: not read)
    entries: list[DeploymentLifecycle]

    @property
    def due(self) -> list[DeploymentLifecycle]:
        return [e for e in self.entries if e.due]

    @property
    def ok(self) -> bool:
        return not self.due

    def to_dict(self) -> dict[str, Any]:
        return {"today": self.today.isoformat(), "within_days": self.within_days, "catalogue": self.catalogue,
                "catalogue_age": self.catalogue_age, "live": self.live, "ok": self.ok,
                "due": len(self.due), "deployments": [e.to_dict() for e in self.entries]}


def read_stack(path: str | Path, catalogue: Catalogue) -> Spec:
    """A stack file validated as ``validate`` does, except that a retired or deprecated model is no error here
    (reporting it is the point). Raises :class:`SpecError` for any other problem."""
    try:
        doc = load_document(path)
    except LoadError as exc:
        raise SpecError(exc.issues) from None
    spec, issues, _ = validate_data(doc, catalogue, judge_lifecycle=False)
    if issues or spec is None:
        raise SpecError(issues)
    return spec


def catalogue_name() -> str:
    return os.environ.get(ENV_CATALOGUE) or "bundled"


def _catalogue_source(cat: Catalogue, name: str) -> str:
    where = "bundled catalogue" if name == "bundled" else f"catalogue {name}"
    return f"{where} (snapshot {cat.last_checked().isoformat()})"


def _live_entry(live: Mapping[str, Sequence[LiveModel]] | None, location: str, model: str,
                version: str) -> LiveModel | bool | None:
    """The live list's entry; None when the location was read and the version is absent; False: not read."""
    if live is None or location not in live:
        return False
    return next((e for e in live[location] if e.name == model and e.version == version), None)


def _entry(stack: str, account: Any, name: str, dep: Any, cat: Catalogue, cat_source: str, today: dt.date,
           within: int, live: Mapping[str, Sequence[LiveModel]] | None, live_via: str | None) -> DeploymentLifecycle:
    model, version = dep.model, str(dep.version)
    info = cat.model(model)
    sources: dict[str, str] = {}
    notes: list[str] = []
    stage, deprecation, retirement, tentative, replacement = "unknown", None, None, False, None
    if info is not None:
        stage = info.stage_of(version, today)
        deprecation, retirement = info.deprecation_of(version), info.retirement_of(version)
        tentative, replacement = info.retirement_tentative, info.replacement
        lifecycle_src = info.lifecycle_source
        anthropic = (f"{lifecycle_src.url or lifecycle_src.repo} ({lifecycle_src.date})" if lifecycle_src and
                     lifecycle_src.date else (lifecycle_src.url or "") if lifecycle_src else "")
        for fact in ("stage", "retirement", "replacement"):
            sources[fact] = f"{cat_source}" + (f"; per {anthropic}" if anthropic else "")
        if tentative:
            sources["retirement"] += "; tentative (secondary source)"
        if info.unverified:
            notes.append(f"Microsoft's offer not yet published ({', '.join(info.unverified)}): preflight confirms it")
        if replacement is None and stage in ("deprecated", "retired", "legacy"):
            notes.append(cat.replacement_words(model))
    else:
        notes.append(cat.unknown_model(model)[1])
        sources["stage"] = cat_source
    found = _live_entry(live, account.location, model, version)
    if found is None:
        notes.append(f"not in Azure's models list for {account.location} ({live_via}): retired there, or not offered")
    elif found is not False:
        assert isinstance(found, LiveModel)
        live_stage = LIVE_STAGE.get(str(found.lifecycle or "").lower())
        where = f"Azure's models list, {account.location} ({live_via}), {today.isoformat()}"
        if live_stage is not None:
            if stage not in ("unknown",) and live_stage != stage:
                notes.append(f"the catalogue says {stage}, Azure's list says {found.lifecycle}: Azure's list wins")
            stage = live_stage
            sources["stage"] = f"{where}: lifecycleStatus {found.lifecycle}"
        if found.retirement is not None:
            if retirement is not None and retirement != found.retirement:
                notes.append(f"the catalogue says it retires {retirement.isoformat()}, Azure's list "
                             f"{found.retirement.isoformat()}: Azure's list wins")
            retirement, tentative = found.retirement, False
            sources["retirement"] = f"{where}: deprecation.inference"
        if stage == "active" and retirement is not None and retirement > today:
            stage = "deprecated"  # a scheduled retirement
        if retirement is not None and retirement <= today:
            stage = "retired"
    days_left = (retirement - today).days if retirement is not None else None
    if stage == "retired":
        action = "retired"
    elif days_left is not None and days_left <= within:
        action = "retiring"
    elif stage in ("deprecated", "legacy", "unknown"):
        action = stage
    else:
        action = "ok"
    return DeploymentLifecycle(
        stack=stack, account=account.key, account_name=account.name, location=account.location, deployment=name,
        model=model, version=version, stage=stage, deprecation=deprecation, retirement=retirement,
        retirement_tentative=tentative, days_left=days_left, replacement=replacement, action=action,
        sources=sources, note="; ".join(notes))


def lifecycle_report(stacks: Iterable[tuple[str, Spec]], *, catalogue: Catalogue | None = None,
                     today: dt.date | None = None, within_days: int = DEFAULT_WITHIN_DAYS,
                     live: Mapping[str, Sequence[LiveModel]] | None = None, live_via: str | None = None,
                     catalogue_label: str | None = None) -> LifecycleReport:
    """The lifecycle of every deployment of every account of ``stacks`` (``(label, spec)`` pairs). ``live``:
    Azure's models list per location (:func:`claude_foundry._ops.refresh.fetch_live`), which wins over the
    catalogue where both speak."""
    cat = catalogue or load_catalogue()
    today = today or dt.date.today()
    label = catalogue_label or catalogue_name()
    cat_source = _catalogue_source(cat, label)
    entries = []
    for stack, spec in stacks:
        for account in spec.all_accounts():
            for name, dep in account.deployments.items():
                entries.append(_entry(stack, account, name, dep, cat, cat_source, today, within_days, live,
                                      live_via))
    entries.sort(key=lambda e: (ACTIONS.index(e.action), e.days_left if e.days_left is not None else 10**6))
    return LifecycleReport(today=today, within_days=within_days, catalogue=label,
                           catalogue_age=cat.age_words(today), live=live_via if live is not None else None,
                           entries=entries)


def locations_of(specs: Iterable[Spec]) -> list[str]:
    """Every location an account of ``specs`` is in (what to read from the live list)."""
    return list(dict.fromkeys(a.location for s in specs for a in s.all_accounts()))
