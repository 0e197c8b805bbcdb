"""The catalogue of Claude models, SKUs and locations, loaded from ``data/catalogue.yaml``.

The catalogue is data so that a new model (``claude-opus-4-6`` appeared after the seed document) is one
YAML entry. A team can point ``CLAUDE_FOUNDRY_CATALOGUE`` at its own file with the same shape.
"""

from __future__ import annotations

import datetime as dt
import os
from functools import lru_cache
from importlib import resources
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

ENV_CATALOGUE = "CLAUDE_FOUNDRY_CATALOGUE"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SkuInfo(_Strict):
    description: str = ""
    geographies: list[str] | None = None  # None: every geography


class LocationInfo(_Strict):
    geography: str
    skus: list[str]


class ModelInfo(_Strict):
    family: str
    versions: list[str]
    default_version: str
    default_capacity: int = Field(ge=1)
    locations: list[str]
    deprecation: dt.date | None = None
    retirement: dt.date | None = None
    lifecycle_note: str = ""


class Catalogue(_Strict):
    format: str = "Anthropic"
    skus: dict[str, SkuInfo]
    locations: dict[str, LocationInfo]
    models: dict[str, ModelInfo]

    def model(self, name: str) -> ModelInfo | None:
        return self.models.get(name)

    def family_of(self, model: str) -> str:
        info = self.models.get(model)
        return info.family if info else ""


def load_catalogue_file(path: str | Path) -> Catalogue:
    with open(path, encoding="utf-8") as fh:
        return Catalogue.model_validate(yaml.safe_load(fh))


@lru_cache(maxsize=4)
def _load(path: str | None) -> Catalogue:
    if path:
        return load_catalogue_file(path)
    text = resources.files("claude_foundry").joinpath("data/catalogue.yaml").read_text(encoding="utf-8")
    return Catalogue.model_validate(yaml.safe_load(text))


def load_catalogue() -> Catalogue:
    """The packaged catalogue, or the file named by ``CLAUDE_FOUNDRY_CATALOGUE``."""
    return _load(os.environ.get(ENV_CATALOGUE) or None)
