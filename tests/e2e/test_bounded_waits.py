"""Every ARM call and every long-running-operation wait is bounded, and says what did not answer.

* ARM hanging: a local TCP server that accepts connections and never answers (not even the TLS handshake);
  ``verify`` and ``preflight`` end within the client's bounds with a message naming ARM, its endpoint and the
  request.
* A long-running operation that does not finish: the sandbox's provisioning delay keeps it in progress; ``up
  --local --operation-timeout 1`` fails the step fast, naming the operation.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from claude_foundry._azure import target as target_module
from claude_foundry._azure.errors import NoAnswer, describe
from claude_foundry._azure.target import Target, sandbox_target
from claude_foundry._ops.preflight import run_preflight
from claude_foundry._ops.verify import run_verify
from claude_foundry._ops.view import stack_view
from claude_foundry._rehearse import FAILED, up_local
from claude_foundry.cli import main
from claude_foundry.program.spec import load_spec
from claude_foundry_sandbox.testing import silent_server, write_stack

pytestmark = pytest.mark.e2e

#: Small bounds for the hanging-ARM tests: 1 s to read, one retry.
FAST = {"connect_timeout": 1.0, "read_timeout": 1.0, "retry_total": 1, "retry_backoff_max": 0.2, "call_timeout": 5.0}
#: What the test allows a bounded run to take (two attempts of 1 s, planning the stack, slack for a slow CI).
DEADLINE = 30.0


class StaticToken:
    """A credential that needs no network: the hang must be ARM's, not the token endpoint's."""

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        return AccessToken("token", int(time.time()) + 3600)


@pytest.fixture
def silent_arm() -> Iterator[str]:
    """A server that accepts connections and never answers (:func:`claude_foundry_sandbox.testing.silent_server`)."""
    with silent_server() as url:
        yield url


def hanging_target(endpoint: str) -> Target:
    return Target(credential=StaticToken(), subscription_id=str(uuid.uuid4()), arm_endpoint=endpoint,
                  tenant_id=str(uuid.uuid4()), principal_id=str(uuid.uuid4()), **FAST)  # type: ignore[arg-type]


def bounded_run(fn: Callable[[], Any]) -> tuple[float, BaseException | None, Any]:
    """Run ``fn`` in a daemon thread; fail the test (instead of hanging it) when it outlives DEADLINE."""
    out: dict[str, Any] = {}

    def body() -> None:
        try:
            out["value"] = fn()
        except BaseException as exc:
            out["error"] = exc

    started = time.monotonic()
    thread = threading.Thread(target=body, daemon=True)
    thread.start()
    thread.join(DEADLINE)
    assert not thread.is_alive(), f"still waiting on a silent ARM after {DEADLINE:g} s: no bound"
    return time.monotonic() - started, out.get("error"), out.get("value")


def test_clients_carry_the_documented_bounds() -> None:
    t = Target(credential=StaticToken(), subscription_id="s")
    kwargs = t.mgmt_kwargs()
    assert kwargs["connection_timeout"] == target_module.CONNECT_TIMEOUT == 10.0
    assert kwargs["read_timeout"] == target_module.READ_TIMEOUT == 60.0
    assert kwargs["retry_total"] == target_module.RETRY_TOTAL == 3
    assert kwargs["retry_backoff_max"] == target_module.RETRY_BACKOFF_MAX == 30.0
    policy = kwargs["retry_policy"]
    assert (policy.total_retries, policy.backoff_max, policy.timeout) == (3, 30.0, target_module.CALL_TIMEOUT)
    assert [p.service for p in kwargs["per_call_policies"]] == ["ARM"]
    data = t.data_kwargs("https://kv.example")
    assert data["read_timeout"] == 60.0
    assert [p.service for p in data["per_call_policies"]] == ["Key Vault"]
    assert target_module.OPERATION_TIMEOUT == 1800.0
    for bad in (float("nan"), float("inf"), 0, -1):
        with pytest.raises(ValueError, match="read_timeout"):
            Target(credential=None, subscription_id="s", read_timeout=bad)


def test_a_servers_retry_after_is_cut_to_the_backoff_bound() -> None:
    from azure.core.pipeline import PipelineResponse
    from azure.core.pipeline.transport import HttpResponse

    class Throttled(HttpResponse):
        def __init__(self) -> None:
            super().__init__(None, None)  # type: ignore[arg-type]
            self.status_code = 429
            self.headers = {"Retry-After": "3600"}

    policy = Target(credential=None, subscription_id="s").mgmt_kwargs()["retry_policy"]
    assert policy.get_retry_after(PipelineResponse(None, Throttled(), None)) == 30.0  # type: ignore[arg-type]


def test_verify_ends_when_arm_never_answers(tmp_path: Path, silent_arm: str) -> None:
    spec = load_spec(write_stack(tmp_path, tag="hang"))
    with hanging_target(silent_arm) as target:
        seconds, error, _ = bounded_run(lambda: run_verify(stack_view(spec, target)))
    assert isinstance(error, NoAnswer), error
    message = describe(error)
    assert f"ARM at {silent_arm} did not answer GET /subscriptions/" in message
    assert "1 s to read" in message
    assert seconds < DEADLINE


def test_preflight_ends_when_arm_never_answers(tmp_path: Path, silent_arm: str) -> None:
    """One silent call ends the run: the other checks are not each left to wait as long."""
    spec = load_spec(write_stack(tmp_path, tag="hang"))
    with hanging_target(silent_arm) as target:
        seconds, error, _ = bounded_run(lambda: run_preflight(stack_view(spec, target)))
    assert isinstance(error, NoAnswer), error
    assert f"ARM at {silent_arm} did not answer" in str(error)
    assert seconds < 15.0


@pytest.mark.parametrize("command", ["verify", "preflight"])
def test_cli_names_arm_and_exits_1(tmp_path: Path, silent_arm: str, command: str, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    import claude_foundry.cli._target as cli_target

    stack = write_stack(tmp_path, tag="hang")
    monkeypatch.setattr(cli_target, "resolve_target", lambda args: hanging_target(silent_arm))
    _, error, code = bounded_run(lambda: main([command, str(stack)]))
    assert error is None, error
    assert code == 1
    err = capsys.readouterr().err
    assert f"error: ARM at {silent_arm} did not answer" in err
    assert "Traceback" not in err


def test_up_local_fails_fast_when_an_operation_never_finishes(tmp_path: Path, conn_file: str,
                                                             provisioning_delay: Callable[[float], None],
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    provisioning_delay(30.0)
    stack = write_stack(tmp_path, tag="lro")
    started = time.monotonic()
    code = main(["up", str(stack), "--local", "--sandbox", conn_file, "--state-dir", str(tmp_path / "s"),
                 "--operation-timeout", "1"])
    seconds = time.monotonic() - started
    out = capsys.readouterr().out
    assert code == 1
    assert seconds < 20.0, f"up --local took {seconds:.1f}s with --operation-timeout 1 and a 30 s operation"
    assert "did not finish within 1 s" in " ".join(out.split())  # rich may wrap the line
    assert "the long-running operation for applying" in " ".join(out.split())


def test_up_local_library_bound(tmp_path: Path, connection: dict[str, Any],
                                provisioning_delay: Callable[[float], None]) -> None:
    provisioning_delay(30.0)
    spec = load_spec(write_stack(tmp_path, tag="lro"))
    with sandbox_target(connection) as target:
        started = time.monotonic()
        deploy = up_local(spec, target, state_dir=tmp_path, operation_timeout=1)
        assert time.monotonic() - started < 20.0
    failed = [r for r in deploy.result.results if r.action == FAILED]
    assert failed
    assert all("did not finish within 1 s" in (r.error or "") for r in failed)
    assert not any((r.error or "").startswith("OperationFailed") for r in failed)  # words, not a class name
    with sandbox_target(connection) as target, pytest.raises(ValueError, match="operation timeout"):
        up_local(spec, target, operation_timeout=float("nan"))
