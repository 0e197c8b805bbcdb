"""End to end on the sandbox: ``claude-foundry migrate`` moves a name on every account of a stack, one after
another, and writes the stack file so that ``up --local`` keeps what the move made; ``claude-foundry lifecycle
--sandbox`` judges by Azure's live models list when it disagrees with the catalogue."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from seeding import base_stack

from claude_foundry import _contract as c
from claude_foundry._azure.caller import ArmCaller
from claude_foundry._azure.target import sandbox_target
from claude_foundry._ops.view import stack_view
from claude_foundry._rehearse import up_local
from claude_foundry.cli import main
from claude_foundry.program.spec import load_spec
from claude_foundry_sandbox.testing import unique

pytestmark = pytest.mark.e2e

NAME, NEW = "my-claude-deployment", "claude-opus-5-5"
PHYSICAL = c.physical_name(NAME, NEW)


def _azure_deployments(target: Any, view: Any) -> dict[str, set[str]]:
    """Account key -> the names of the deployments ARM lists in it."""
    arm = ArmCaller(target)
    try:
        out = {}
        for key, acct in view.accounts.items():
            status, data = arm.call("GET", acct.account.id + "/deployments", acct.account.api_version)
            assert status == 200, data
            out[key] = {d["name"] for d in data["value"]}
        return out
    finally:
        arm.close()


def test_migrate_moves_every_account_in_turn_and_the_written_stack_keeps_it(
        tmp_path: Path, connection: dict[str, Any], conn_file: str, capsys: pytest.CaptureFixture[str]) -> None:
    target = sandbox_target(connection)
    path = base_stack(tmp_path, "cf-mig-", extra=(
        "deployments:\n  my-claude-deployment: {capacity: 2}\n  fast: {capacity: 2}\n"
        f"accounts:\n  sweden:\n    name: {unique('cf-mig-sc-')}\n    location: swedencentral\n"))
    spec = load_spec(path)
    deployed = up_local(spec, target, state_dir=tmp_path / "state")
    assert deployed.result.ok, deployed.result.summary()
    view = stack_view(spec, target)
    assert _azure_deployments(target, view) == {"primary": {NAME, "fast"}, "sweden": {NAME, "fast"}}

    code = main(["migrate", str(path), NAME, "--to", NEW, "--drain", "0", "--sandbox", conn_file,
                 "--write-stack", "--format", "json"])
    out = capsys.readouterr()
    assert code == 0, out.err
    data = json.loads(out.out)
    assert [a["account_key"] for a in data["accounts"]] == ["primary", "sweden"]  # one after another
    assert all([s["name"] for s in a["steps"]] == ["deploy", "smoke", "switch", "drain", "remove"]
               for a in data["accounts"])
    assert {a["to"]["deployment"] for a in data["accounts"]} == {PHYSICAL}
    assert data["stack_file"]["written"] is True
    # Azure: the new deployment beside the other one, the old one gone, on both accounts
    assert _azure_deployments(target, view) == {"primary": {PHYSICAL, "fast"}, "sweden": {PHYSICAL, "fast"}}
    # the contract: the primary's map and both accounts' entries of the accounts document
    secrets = target.secret_client(deployed.vault_url)
    names = spec.secret_names
    try:
        dmap = c.load_deployment_map(secrets.get_secret(names.deployments).value)
        listed, _ = c.load_accounts(secrets.get_secret(names.accounts).value)
    finally:
        secrets.close()
    assert (dmap[NAME].model, dmap[NAME].deployment) == (NEW, PHYSICAL)
    assert dmap["fast"].deployment is None
    assert {a.account: (a.deployments[NAME].model, a.deployments[NAME].deployment) for a in listed} == \
        {"primary": (NEW, PHYSICAL), "sweden": (NEW, PHYSICAL)}

    # the rewritten stack file declares it: deploying it again keeps the physical deployment, re-creates nothing
    written = load_spec(path)
    assert {a.key: a.deployments[NAME].deployment for a in written.all_accounts()} == \
        {"primary": PHYSICAL, "sweden": PHYSICAL}
    again = up_local(written, target, state_dir=tmp_path / "state")
    assert again.result.ok, again.result.summary()
    assert _azure_deployments(target, stack_view(written, target)) == \
        {"primary": {PHYSICAL, "fast"}, "sweden": {PHYSICAL, "fast"}}
    secrets = target.secret_client(deployed.vault_url)
    try:  # the deploy writes the same map the move wrote
        assert c.load_deployment_map(secrets.get_secret(names.deployments).value) == dmap
    finally:
        secrets.close()

    # run again: already moved, nothing to do, exit 0
    assert main(["migrate", str(path), NAME, "--to", NEW, "--drain", "0", "--sandbox", conn_file,
                 "--format", "json"]) == 0
    again_data = json.loads(capsys.readouterr().out)
    assert [s["detail"] for a in again_data["accounts"] for s in a["steps"]] == \
        ["already moved: nothing to do"] * 2
    assert again_data["stack_file"]["edits"] == [] or all(
        e["set"].get("deployment") == PHYSICAL for e in again_data["stack_file"]["edits"])


def test_migrate_refuses_bad_input_before_touching_azure(tmp_path: Path, conn_file: str,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    path = base_stack(tmp_path, "cf-migbad-")
    assert main(["migrate", str(path), "nope", "--to", NEW, "--sandbox", conn_file]) == 2
    assert "no account of the stack serves a deployment 'nope'" in capsys.readouterr().err
    assert main(["migrate", str(path), NAME, "--to", "claude-sonnet-9-9", "--sandbox", conn_file]) == 2
    assert "--to 'claude-sonnet-9-9'" in capsys.readouterr().err
    assert main(["migrate", str(path), NAME, "--to", NEW, "--account", "mars", "--sandbox", conn_file]) == 2
    err = capsys.readouterr().err
    assert "--account 'mars'" in err
    assert "primary" in err


@pytest.fixture
def clock(sandbox: Any) -> Any:
    yield sandbox
    sandbox.today = None


def test_lifecycle_sandbox_reads_the_live_list_which_wins_and_exits_1(
        tmp_path: Path, clock: Any, conn_file: str, capsys: pytest.CaptureFixture[str]) -> None:
    """claude-opus-4-5: the catalogue says deprecated, retiring 2027-01-22 (tentative). On 2026-12-10 with
    --within 30 the catalogue alone finds nothing due; the sandbox, its date past the retirement, lists the model
    as retired, and the report takes Azure's word: retired, exit 1."""
    path = base_stack(tmp_path, "cf-lcy-", extra="deployments:\n  deep: {model: claude-opus-4-5, capacity: 1}\n")
    judged = ["--today", "2026-12-10", "--within", "30", "--format", "json"]
    assert main(["lifecycle", str(path), *judged]) == 0
    alone = {e["deployment"]: e for e in json.loads(capsys.readouterr().out)["deployments"]}
    assert (alone["deep"]["stage"], alone["deep"]["action"]) == ("deprecated", "deprecated")

    clock.today = dt.date(2027, 2, 1)
    code = main(["lifecycle", str(path), *judged, "--sandbox", conn_file])
    report = json.loads(capsys.readouterr().out)
    assert code == 1
    assert report["live"] == "sandbox"
    deep = {e["deployment"]: e for e in report["deployments"]}["deep"]
    assert (deep["stage"], deep["action"]) == ("retired", "retired")
    assert deep["sources"]["stage"].startswith("Azure's models list, eastus2 (sandbox)")
    assert "Azure's list wins" in deep["note"]
    assert {e["deployment"]: e["action"] for e in report["deployments"]}[NAME] == "ok"  # an active model stays ok
