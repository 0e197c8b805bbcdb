"""``claude-foundry preflight`` on a stack with several accounts: each account's deployments against the models list
and quota of its own location, findings naming the account and its region; subscription-wide checks once."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from claude_foundry._azure.target import sandbox_target
from claude_foundry._ops.preflight import FAIL, PASS, WARN, run_preflight
from claude_foundry._ops.view import stack_view
from claude_foundry._rehearse import up_local
from claude_foundry.cli import main
from claude_foundry.program.spec import load_spec
from claude_foundry_sandbox.testing import unique, write_stack

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from claude_foundry_sandbox import Sandbox, SandboxConfig

pytestmark = pytest.mark.e2e

SEED = {
    # swedencentral does not offer claude-opus-4-7 here (the bundled catalogue says it does: the live list wins)
    "models_by_location": {
        "eastus2": ["claude-sonnet-5", "claude-opus-4-7", "claude-sonnet-4-6", "claude-opus-5-5"],
        "swedencentral": ["claude-sonnet-5", "claude-sonnet-4-6", "claude-opus-5-5"],
    },
    "quota": {"GlobalStandard/claude-sonnet-4-6": 30},
}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    with Sandbox(SandboxConfig(state_dir=tmp_path_factory.mktemp("multi-pf"), seed=SEED)) as sb:
        yield sb


@pytest.fixture(scope="module")
def target(seeded: Sandbox) -> Any:
    return sandbox_target(seeded.connection)


def multi_stack(directory: Path, deployments: dict[str, Any], sweden: dict[str, Any] | None = None, **top: Any) -> Path:
    return write_stack(directory, deployments, tag="mpf", accounts={
        "sweden": {"name": unique("cf-mpf-sc-"), "location": "swedencentral", **(sweden or {})}}, **top)


def checks(report: Any) -> dict[str, Any]:
    names = Counter(c.name for c in report.checks)
    assert [n for n, k in names.items() if k > 1] == [], "every check is named once"
    return {c.name: c for c in report.checks}


def test_a_model_the_second_region_does_not_offer_fails_there_only(tmp_path: Path, target: Any) -> None:
    spec = load_spec(multi_stack(tmp_path, {"sonnet": {"model": "claude-sonnet-5", "capacity": 2},
                                            "deep": {"model": "claude-opus-4-7", "capacity": 2}}))
    sweden = spec.accounts["sweden"].name
    report = run_preflight(stack_view(spec, target))
    by = checks(report)
    assert [c.name for c in report.checks if c.status == FAIL] == ["model:sweden/deep"], report.to_json()
    finding = by["model:sweden/deep"]
    assert f"account {sweden} (sweden, swedencentral)" in finding.reason
    assert "claude-opus-4-7 is not offered in swedencentral" in finding.reason
    assert "claude-sonnet-5" in finding.reason  # what the region does offer
    assert "accounts.sweden.deployments" in finding.fix
    # the same deployment passes in the primary, whose region offers it
    assert by["model:deep"].status == PASS
    assert f"account {spec.foundry.name} (primary, eastus2)" in by["model:deep"].reason
    assert "offered in eastus2" in by["model:deep"].reason
    for name in ("model:sonnet", "model:sweden/sonnet", "subdomain", "subdomain:sweden", "deleted-account",
                 "deleted-account:sweden", "deleted-vault", "subscription", "resource-group", "permissions",
                 "provider-data"):
        assert by[name].status == PASS, by[name]
    assert "(sweden, swedencentral)" in by["subdomain:sweden"].reason
    assert sweden in by["subdomain:sweden"].reason
    assert "4 deployment(s)" in by["provider-data"].reason  # both accounts' deployments
    # subscription-wide checks once, not once per account
    assert [c.name for c in report.checks if c.name.startswith("marketplace:")] == \
        ["marketplace:claude-opus-4-7", "marketplace:claude-sonnet-5"]
    assert not report.ok


def test_a_sku_the_second_region_does_not_offer_fails_there_only(tmp_path: Path, target: Any) -> None:
    """Data Zone Standard (US data zone) in swedencentral: the bundled catalogue refuses it at load, a stale one
    would not, so break it where preflight reads it: that account's deployment as the spec resolved it."""
    spec = load_spec(multi_stack(tmp_path, {"dz": {"model": "claude-opus-5-5", "version": "2",
                                                   "sku": "DataZoneStandard", "capacity": 2}},
                                 sweden={"deployments": {"dz": {"sku": "GlobalStandard"}}}))
    object.__setattr__(spec.accounts["sweden"].deployments["dz"], "sku", "DataZoneStandard")
    assert spec.deployments["dz"].sku == "DataZoneStandard"
    report = run_preflight(stack_view(spec, target))
    by = checks(report)
    finding = by["model:sweden/dz"]
    assert finding.status == FAIL, finding
    assert f"account {spec.accounts['sweden'].name} (sweden, swedencentral)" in finding.reason
    assert "is not offered as DataZoneStandard in swedencentral (SKUs: GlobalStandard)" in finding.reason
    assert by["model:dz"].status == PASS, by["model:dz"]
    assert "as DataZoneStandard" in by["model:dz"].reason
    # quota per pool: the primary's US data zone pool is checked with eastus2's usages
    zone = by["quota:claude-opus-5-5/DataZoneStandard@us"]
    assert zone.status == PASS, zone
    assert "(primary, eastus2) 2K" in zone.reason
    assert [c.name for c in report.checks if c.status == FAIL] == ["model:sweden/dz"]


def test_global_standard_quota_adds_up_across_accounts(tmp_path: Path, target: Any) -> None:
    """20K in eastus2 and 15K in swedencentral: each fits the 30K quota alone, together they do not (Global Standard
    is one pool per subscription)."""
    spec = load_spec(multi_stack(tmp_path, {"s6": {"model": "claude-sonnet-4-6", "capacity": 20}},
                                 sweden={"deployments": {"s6": {"capacity": 15}}}))
    report = run_preflight(stack_view(spec, target))
    check = checks(report)["quota:claude-sonnet-4-6/GlobalStandard"]
    assert check.status == FAIL, check
    assert "needs 35K TPM" in check.reason
    assert "(primary, eastus2) 20K" in check.reason
    assert "(sweden, swedencentral) 15K" in check.reason
    assert "30 of 30" in check.reason
    assert "another region does not help" in check.fix
    alone = load_spec(write_stack(tmp_path, {"s6": {"model": "claude-sonnet-4-6", "capacity": 20}}, tag="mpf"))
    assert checks(run_preflight(stack_view(alone, target)))["quota:claude-sonnet-4-6/GlobalStandard"].status == PASS


def test_a_deployed_stack_counts_every_account_capacity_as_its_own(tmp_path: Path, target: Any) -> None:
    """Deployed with 20K + 5K of a 30K pool; raising sweden to 10K needs 30K, all free to this stack: the 5K sweden
    holds already is ours, not someone else's."""
    path = multi_stack(tmp_path, {"s6": {"model": "claude-sonnet-4-6", "capacity": 20}},
                       sweden={"deployments": {"s6": {"capacity": 5}}})
    spec = load_spec(path)
    try:
        assert up_local(spec, target, state_dir=tmp_path).result.ok
        raised = tmp_path / "raised.yaml"
        raised.write_text(path.read_text(encoding="utf-8").replace("capacity: 5", "capacity: 10"), encoding="utf-8")
        grown = load_spec(raised)
        assert grown.accounts["sweden"].deployments["s6"].capacity == 10
        by = checks(run_preflight(stack_view(grown, target)))
        quota = by["quota:claude-sonnet-4-6/GlobalStandard"]
        assert quota.status == PASS, quota
        assert "needs 30K TPM; 30 of 30 free" in quota.reason
        for name in ("subdomain", "subdomain:sweden"):
            assert by[name].status == PASS
            assert "own account" in by[name].reason
    finally:
        from claude_foundry._rehearse import down_local

        down_local(spec, target, state_dir=tmp_path)  # give the quota back to the module's other tests


def test_cli_names_the_account_and_region(tmp_path: Path, seeded: Sandbox,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    conn = seeded.write_connection_file(tmp_path / "conn.json")
    path = multi_stack(tmp_path, {"deep": {"model": "claude-opus-4-7", "capacity": 2}})
    assert main(["preflight", str(path), "--sandbox", str(conn), "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    failed = [c for c in data["checks"] if c["status"] == FAIL]
    assert [c["name"] for c in failed] == ["model:sweden/deep"]
    assert "(sweden, swedencentral)" in failed[0]["reason"]
    assert main(["preflight", str(path), "--sandbox", str(conn)]) == 1
    out = " ".join(capsys.readouterr().out.split())
    assert "model:sweden/deep" in out
    assert "(sweden, swedencentral): claude-opus-4-7 is not offered in swedencentral" in out
    # with the deployment left out of sweden the stack passes (warnings allowed)
    ok = multi_stack(tmp_path, {"deep": {"model": "claude-opus-4-7", "capacity": 2},
                                "sonnet": {"model": "claude-sonnet-5", "capacity": 2}},
                     sweden={"deployments": ["sonnet"]})
    assert main(["preflight", str(ok), "--sandbox", str(conn), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {c["status"] for c in data["checks"]} <= {PASS, WARN}
    assert "model:sweden/deep" not in {c["name"] for c in data["checks"]}
