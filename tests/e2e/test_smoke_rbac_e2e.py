"""End to end: ``claude-foundry smoke`` right after a deploy, while the role assignments it made propagate.

The sandbox's ``role_propagation_delay`` keeps a role assignment from granting data-plane access (Foundry
endpoint, Key Vault secrets) for that many seconds, as Azure does for minutes. A principal gets its roles
through ARM just before the smoke test runs: smoke waits them out, or fails with the RBAC diagnosis when its
``--role-propagation-timeout`` is shorter than the delay.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from seeding import MODELS, assign_role, grant_caller, seed_stack

from claude_foundry import cli
from claude_foundry._azure import arm
from claude_foundry._client import runtime as rt
from claude_foundry._client import smoke

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("clean_runtime_env")]

# The sandbox withholds a grant for `role_propagation_delay` seconds after it was made, judged when each request
# arrives. The short run sees the grant held back for an hour (so its outcome does not depend on how fast a loaded
# CI machine runs it); then the grant is released RELEASE seconds later, and the long run must wait that out.
HELD = 3600.0
RELEASE = 1.5


@pytest.fixture
def role_delay(sandbox):
    """``hold()`` holds every fresh grant back; ``release_in(granted, s)`` lets a grant made at ``granted``
    (``time.time()`` taken before it) through ``s`` seconds from now."""
    before = sandbox.state.role_propagation_delay

    class Delay:
        @staticmethod
        def hold() -> None:
            sandbox.state.role_propagation_delay = HELD

        @staticmethod
        def release_in(granted: float, seconds: float) -> float:
            sandbox.state.role_propagation_delay = time.time() - granted + seconds
            return time.monotonic() + seconds

    yield Delay
    sandbox.state.role_propagation_delay = before


@pytest.fixture
def newcomer(sandbox, conn_file, tmp_path):
    """A fresh principal and a connection file that signs in as it (no roles yet)."""
    principal = sandbox.add_principal("fresh-after-deploy")
    conn = json.loads(Path(conn_file).read_text(encoding="utf-8"))
    conn.update(client_id=principal["client_id"], client_secret=principal["client_secret"],
                principal_id=principal["principal_id"])
    path = tmp_path / "newcomer.json"
    path.write_text(json.dumps(conn), encoding="utf-8")
    return principal, str(path)


def _smoke(argv, tmp_path, capsys):
    report = tmp_path / "r.json"
    code = cli.main([*argv, "--poll-interval", "0.1", "--timeout", "5", "--report-json", str(report)])
    out, err = capsys.readouterr()
    return code, (json.loads(report.read_text()) if report.exists() else None), out, err


def test_fresh_foundry_role_is_waited_out(sandbox, credential, newcomer, role_delay, tmp_path, capsys):
    stack = seed_stack(sandbox, credential, {"opus": MODELS["opus"]}, disable_local_auth=True)
    ca = sandbox.connection["ca_bundle"]
    contract = rt.contract_from_key_vault(stack.vault_url, prefix=stack.prefix, credential=credential, ca_bundle=ca)
    path = tmp_path / "contract.json"
    path.write_text(json.dumps(contract.public_json()), encoding="utf-8")
    principal, conn = newcomer
    argv = ["smoke", "--contract", str(path), "--entra", "--sandbox", conn]
    role_delay.hold()
    granted = time.time()
    grant_caller(stack, principal["principal_id"])

    code, report, _, err = _smoke([*argv, "--role-propagation-timeout", "0.5"], tmp_path, capsys)
    assert code == 1
    d = report["deployments"][0]
    assert d["category"] == smoke.FORBIDDEN
    assert "lacks the data-plane role 'Cognitive Services User' or 'Azure AI User'" in d["diagnosis"]
    assert f"accounts/{stack.account}" in d["diagnosis"]
    assert "still denied after" in d["diagnosis"]
    assert d["attempts"] >= 2
    assert "waiting for role assignment propagation on Foundry account" in err

    released = role_delay.release_in(granted, RELEASE)
    code, report, out, err = _smoke([*argv, "--role-propagation-timeout", "20"], tmp_path, capsys)
    assert code == 0, out + err
    assert time.monotonic() >= released  # it answered only once the grant was through
    d = report["deployments"][0]
    assert d["passed"]
    assert d["attempts"] >= 2  # it was denied first, then answered
    lines = [line for line in err.splitlines() if "role assignment" in line]
    assert 2 <= len(lines) <= 3, err
    assert "opus answered 403 PermissionDenied" in lines[0]
    assert "1 granted" in lines[-1]


def test_fresh_key_vault_role_is_waited_out(sandbox, credential, rm_client, newcomer, role_delay, tmp_path,
                                            capsys):
    stack = seed_stack(sandbox, credential, {"haiku": MODELS["haiku"]}, disable_local_auth=True)
    principal, conn = newcomer
    vault_id = arm.vault_id(sandbox.state.subscription_id, stack.resource_group, stack.vault)
    role_delay.hold()
    granted = time.time()
    assign_role(rm_client, sandbox, vault_id, "key-vault-secrets-user", principal["principal_id"])
    grant_caller(stack, principal["principal_id"])
    argv = ["smoke", "--vault-url", stack.vault_url, "--prefix", stack.prefix, "--sandbox", conn]

    code, report, _, err = _smoke([*argv, "--role-propagation-timeout", "0.5"], tmp_path, capsys)
    assert code == 1
    assert report is None  # no contract, no report: the command fails before any call
    assert "cannot read the contract from Key Vault" in err
    assert "Key Vault Secrets User" in err
    assert "still denied after waiting" in err
    assert "Traceback" not in err

    released = role_delay.release_in(granted, RELEASE)
    code, report, out, err = _smoke([*argv, "--role-propagation-timeout", "20"], tmp_path, capsys)
    assert code == 0, out + err
    assert time.monotonic() >= released
    assert report["passed"]
    assert report["auth"] == "entra"
    assert f"waiting for role assignment propagation on Key Vault {stack.vault_url}" in err
    assert "403 ForbiddenByRbac" in err
    assert principal["client_secret"] not in out + err
