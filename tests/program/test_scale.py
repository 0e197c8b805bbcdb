"""Issue 20, class 6: what ``validate`` accepts, ``plan`` handles. One account holds at most Azure's limit of
deployments (:data:`azure.arm.MAX_DEPLOYMENTS_PER_ACCOUNT`, 32); a stack at the limit plans quickly, one above it
is refused by ``validate`` naming the file, the field, the limit and its source."""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))

from stacktext import one_deployment_stack

from claude_foundry._azure import arm
from claude_foundry.cli import main
from claude_foundry.program.spec import load_spec


def stack_of(tmp_path: Path, count: int) -> Path:
    names = "\n".join(f"  d{i:03d}: {{model: claude-haiku-4-5}}" for i in range(count))
    path = tmp_path / "stack.yaml"
    path.write_text(one_deployment_stack(names.lstrip()), encoding="utf-8")
    return path


def test_a_stack_at_the_limit_plans(tmp_path: Path) -> None:
    from claude_foundry.program._plan import plan

    spec = load_spec(stack_of(tmp_path, arm.MAX_DEPLOYMENTS_PER_ACCOUNT))
    started = time.monotonic()
    result = plan(spec)
    elapsed = time.monotonic() - started
    deployments = [r for r in result.resources if r.arm is not None and r.arm.id.count("/deployments/") == 1]
    assert len(deployments) == arm.MAX_DEPLOYMENTS_PER_ACCOUNT
    assert elapsed < 30  # ~1 s on 2 shared cores


def test_one_above_the_limit_is_refused_by_validate(tmp_path: Path, capsys) -> None:
    path = stack_of(tmp_path, arm.MAX_DEPLOYMENTS_PER_ACCOUNT + 1)
    code = main(["validate", str(path)])
    err = capsys.readouterr().err
    assert code == 2
    assert "stack.yaml" in err
    assert "deployments" in err
    assert f"33 deployments: one Foundry account holds at most {arm.MAX_DEPLOYMENTS_PER_ACCOUNT}" in err
    assert "learn.microsoft.com/azure/ai-foundry/foundry-models/quotas-limits" in err
    assert "Traceback" not in err
