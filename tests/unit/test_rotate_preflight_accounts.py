"""``rotate-keys`` and ``preflight`` on stacks with several accounts, without Azure: which accounts a run rotates,
the names of the rotation's state secrets, the run record's tags, the quota pools."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from stacktext import one_deployment_stack

from claude_foundry import _contract as contract
from claude_foundry._errors import InvalidArgument, UserError
from claude_foundry._ops.rotate import (
    COMPLETE,
    TAG_VALUE_MAX,
    RunRecord,
    journal_secret_name,
    lease_secret_name,
    run_secret_name,
    select_accounts,
)
from claude_foundry.cli import exit_code, main
from claude_foundry.program.spec import load_spec

MULTI = one_deployment_stack() + """\
accounts:
  sweden: {name: contoso-claude-dev-sc, location: swedencentral}
  west: {name: contoso-claude-dev-w, location: westus3}
"""


@pytest.fixture
def multi(tmp_path: Path) -> Path:
    path = tmp_path / "multi.yaml"
    path.write_text(MULTI, encoding="utf-8")
    return path


@pytest.fixture
def single(tmp_path: Path) -> Path:
    path = tmp_path / "single.yaml"
    path.write_text(one_deployment_stack(), encoding="utf-8")
    return path


def test_every_account_by_default_in_the_stack_order(multi: Path) -> None:
    spec = load_spec(multi)
    assert select_accounts(spec, None) == ["primary", "sweden", "west"]
    assert select_accounts(spec, []) == ["primary", "sweden", "west"]


@pytest.mark.parametrize(("wanted", "keys"), [
    (["west"], ["west"]),
    (["west", "primary"], ["primary", "west"]),  # the stack's order, not the command line's
    (["west,sweden"], ["sweden", "west"]),
    (["sweden", "sweden, west"], ["sweden", "west"]),  # each once
    (["contoso-claude-dev-sc"], ["sweden"]),  # by account name
    (["Contoso-Claude-Dev"], ["primary"]),
])
def test_selected_accounts(multi: Path, wanted: list[str], keys: list[str]) -> None:
    assert select_accounts(load_spec(multi), wanted) == keys


@pytest.mark.parametrize("wanted", [["norway"], ["sweden,norway"], ["Sweden2"]])
def test_an_unknown_account_is_a_usage_error_listing_the_accounts(multi: Path, wanted: list[str]) -> None:
    with pytest.raises(UserError) as exc:
        select_accounts(load_spec(multi), wanted)
    assert exit_code(exc.value) == 2
    assert "no such account" in str(exc.value)
    assert "primary (contoso-claude-dev), sweden (contoso-claude-dev-sc), west (contoso-claude-dev-w)" in str(exc.value)


def test_an_empty_account_is_a_usage_error(multi: Path) -> None:
    with pytest.raises(UserError, match="needs an account name") as exc:
        select_accounts(load_spec(multi), [" , "])
    assert exit_code(exc.value) == 2


def test_the_cli_refuses_an_unknown_account_before_touching_azure(multi: Path, single: Path, tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    nowhere = str(tmp_path / "no-such-connection.json")  # a target would fail on this: it is never opened
    assert main(["rotate-keys", str(multi), "--sandbox", nowhere, "--account", "norway"]) == 2
    err = capsys.readouterr().err
    assert "--account 'norway': no such account in the stack" in err
    assert "sweden (contoso-claude-dev-sc)" in err
    assert "no-such-connection" not in err
    # a one-account stack has one account: primary
    assert main(["rotate-keys", str(single), "--sandbox", nowhere, "--account", "sweden"]) == 2
    assert "its accounts are primary (contoso-claude-dev)" in capsys.readouterr().err


def test_the_primary_keeps_the_state_secret_names_of_a_one_account_stack() -> None:
    assert journal_secret_name("p") == journal_secret_name("p", "primary") == "p-rotation"
    assert lease_secret_name("p") == lease_secret_name("p", "primary") == "p-rotation-lease"
    assert journal_secret_name("p", "sweden") == "p-rotation-journal-sweden"
    assert lease_secret_name("p", "sweden") == "p-rotation-lease-sweden"
    assert run_secret_name("p") == "p-rotation-run"


def test_no_account_key_makes_a_state_secret_of_another() -> None:
    """Keys such as ``lease`` or ``lease-x`` must not name the primary's lease or another account's journal."""
    keys = ["primary", "lease", "run", "journal", "lease-x", "x", "journal-x", "rotation", "api-key"]
    names = [journal_secret_name("p", k) for k in keys] + [lease_secret_name("p", k) for k in keys] + \
        [run_secret_name("p")]
    assert len(set(names)) == len(names)
    contract_names = {*contract.SecretNames("p").as_dict().values(), contract.SecretNames("p").accounts,
                      *(contract.SecretNames("p").api_key_of(k) for k in keys)}
    assert contract_names.isdisjoint(names)


def test_a_state_secret_name_too_long_for_key_vault_is_a_usage_error() -> None:
    prefix = "p" * 100
    assert journal_secret_name(prefix) == f"{prefix}-rotation"
    with pytest.raises(UserError, match="not a Key Vault secret name") as exc:
        journal_secret_name(prefix, "a" * 20)
    assert exit_code(exc.value) == 2


def test_the_run_record_round_trips_through_tags() -> None:
    record = RunRecord(run_id="r1", accounts=["primary", "sweden", "west"], done=["primary"])
    tags = record.tags()
    assert all(isinstance(v, str) and len(v) <= TAG_VALUE_MAX for v in tags.values())
    back = RunRecord.from_tags(tags)
    assert back == record
    record.status = COMPLETE
    assert RunRecord.from_tags(record.tags()).status == COMPLETE  # type: ignore[union-attr]
    assert RunRecord.from_tags({}) is None
    assert RunRecord.from_tags({"managed-by": "claude-foundry"}) is None
    assert "sweden" in json.dumps(record.to_json())


def test_a_long_run_record_is_split_over_tags_of_256_characters() -> None:
    keys = [f"account-{n:02d}-xxxxxxxx" for n in range(30)]  # 20 characters each: 629 joined
    record = RunRecord(run_id="r2", accounts=keys, done=keys[:3])
    tags = record.tags()
    assert {"run-accounts", "run-accounts-2", "run-accounts-3"} <= set(tags)
    assert all(len(v) <= TAG_VALUE_MAX for v in tags.values())
    assert RunRecord.from_tags(tags) == record
    with pytest.raises(InvalidArgument, match=r"in groups with accounts$") as exc:
        RunRecord(run_id="r3", accounts=[f"k{n:019d}" for n in range(150)]).tags()  # more than 15 tags
    assert [p.parameter for p in exc.value.problems] == ["accounts"]  # the CLI says --account (error_text)


def test_quota_pools(multi: Path) -> None:
    """Global Standard: one pool per subscription; Data Zone Standard: one per data zone; any other SKU: per region."""
    from claude_foundry._catalogue import load_catalogue
    from claude_foundry._ops.preflight import Preflight

    pf: Any = Preflight.__new__(Preflight)  # only the catalogue: no Azure client
    pf.catalogue = load_catalogue()
    assert pf._pool("GlobalStandard", "eastus2") == pf._pool("GlobalStandard", "swedencentral") == ("global", "")
    assert pf._pool("DataZoneStandard", "eastus2") == pf._pool("DataZoneStandard", "westus3") == ("zone", "us")
    assert pf._pool("DataZoneStandard", "swedencentral") == ("zone", "eu")
    assert pf._pool("Standard", "East US 2") == ("region", "eastus2")


def test_the_age_of_a_run_record() -> None:
    import time

    from claude_foundry._ops.rotate import RUN_RESUME_WINDOW, _iso

    now = time.time()
    assert RunRecord(run_id="r", accounts=["primary"], updated_at=_iso(now - 60)).age(now) == pytest.approx(60, abs=1)
    old = RunRecord(run_id="r", accounts=["primary"], updated_at=_iso(now - RUN_RESUME_WINDOW - 3600))
    assert old.age(now) > RUN_RESUME_WINDOW
    assert RunRecord(run_id="r", accounts=["primary"], updated_at="yesterday").age(now) == float("inf")
