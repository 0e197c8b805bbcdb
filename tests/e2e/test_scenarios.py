"""One scenario per shipped stack file (as Azure Verified Modules do): deploy it twice into a fresh sandbox
(the second run changes nothing), read the contract back through the runtime, smoke-test every deployment,
and find no drift."""

from __future__ import annotations

from pathlib import Path

import pytest

from claude_foundry._azure.target import sandbox_target
from claude_foundry._client.runtime import FoundryRuntime
from claude_foundry._client.smoke import run_smoke
from claude_foundry._ops.verify import run_verify
from claude_foundry._ops.view import stack_view
from claude_foundry._rehearse import up_local
from claude_foundry.program.spec import load_spec
from claude_foundry_sandbox import Sandbox, SandboxConfig

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("clean_runtime_env")]

STACKS = sorted((Path(__file__).resolve().parents[2] / "stacks").glob("*.yaml"))


@pytest.mark.parametrize("stack", STACKS, ids=lambda p: p.stem)
def test_scenario_deploys_idempotently_and_answers(stack: Path, tmp_path: Path) -> None:
    spec = load_spec(stack)
    with Sandbox(SandboxConfig(state_dir=tmp_path / "sandbox")) as sb, sandbox_target(sb.connection) as target:
        first = up_local(spec, target, state_dir=tmp_path)
        assert first.result.ok, [(r.step.name, r.error) for r in first.result.results if r.error]
        second = up_local(spec, target, state_dir=tmp_path)
        assert second.result.ok
        assert second.result.changed == 0, [(r.step.name, r.action) for r in second.result.results]

        with FoundryRuntime.from_key_vault(first.vault_url, prefix=spec.key_vault.secret_prefix,
                                           credential=target.credential, ca_bundle=target.ca_bundle,
                                           use_cache=False) as runtime:
            assert set(runtime.deployments) == set(spec.deployments)
            assert runtime.auth == ("entra" if spec.foundry.disable_local_auth else "key")
            assert runtime.contract.auth_mode == spec.auth_mode
            assert runtime.base_url == spec.base_url(target.foundry_base_url_template)
            report = run_smoke(runtime)
        assert report.passed, report.summary()
        assert {r.name: r.response_model for r in report.results} == {
            n: d.model for n, d in spec.deployments.items()}

        drift = run_verify(stack_view(spec, target))
        assert drift.in_sync, drift.to_json()
