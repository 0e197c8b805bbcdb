"""``catalogue refresh`` end to end: the unmodified azure-mgmt-cognitiveservices client reads the sandbox's
models list (seeded from the same catalogue) over HTTPS, and the merge reports what the list says."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from claude_foundry._catalogue import load_catalogue, load_catalogue_file
from claude_foundry.cli import main
from claude_foundry_sandbox import Sandbox, SandboxConfig

pytestmark = pytest.mark.e2e


def test_refresh_from_the_sandbox_agrees_with_the_bundled_snapshot(conn_file: str, tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cat.json"
    assert main(["catalogue", "refresh", "-l", "eastus2,swedencentral", "--sandbox", conn_file, "-o", str(out)]) == 0
    printed = capsys.readouterr()
    assert "0 change(s) from" in printed.err, printed
    refreshed = load_catalogue_file(out)
    bundled = load_catalogue()
    assert set(refreshed.models) == set(bundled.models)
    for name, model in bundled.models.items():
        for version, info in model.versions.items():
            assert refreshed.models[name].versions[version].locations == info.locations, (name, version)
    assert refreshed.snapshot.refreshes[-1].via == "sandbox models list"


@pytest.fixture(scope="module")
def narrow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    seed = {"models_by_location": {"eastus2": ["claude-sonnet-4-6"]}}
    with Sandbox(SandboxConfig(state_dir=tmp_path_factory.mktemp("narrow"), seed=seed)) as sb:
        yield sb


def test_refresh_reports_what_a_location_no_longer_lists(narrow: Sandbox, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    conn = tmp_path / "conn.json"
    conn.write_text(json.dumps(narrow.connection), encoding="utf-8")
    out = tmp_path / "cat.json"
    assert main(["catalogue", "refresh", "-l", "eastus2", "--sandbox", str(conn), "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "- claude-haiku-4-5 version 2 no longer listed in eastus2" in printed
    refreshed = load_catalogue_file(out)
    assert "eastus2" in refreshed.models["claude-sonnet-4-6"].versions["1"].locations
    assert "eastus2" not in refreshed.models["claude-haiku-4-5"].versions["2"].locations
    assert "swedencentral" in refreshed.models["claude-haiku-4-5"].versions["2"].locations
