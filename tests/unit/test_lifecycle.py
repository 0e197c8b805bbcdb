"""``claude-foundry lifecycle``: stage, dates, days left, replacement and sources per deployment; exit codes;
the live models list winning over the catalogue."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from claude_foundry._catalogue import load_catalogue
from claude_foundry._ops.lifecycle import lifecycle_report, read_stack
from claude_foundry._ops.refresh import LiveModel
from claude_foundry.cli import main

ROOT = Path(__file__).resolve().parents[2]
TODAY = "2026-12-07"

STACK = """\
location: eastus2
environment: dev
resource_group: rg-claude-lc
foundry:
  name: contoso-claude-lc
  model_provider: {{organization_name: Contoso, country_code: US, industry: technology}}
key_vault: {{name: kv-contoso-claude-lc}}
deployments:
{deployments}
"""


def write(tmp_path: Path, deployments: str, name: str = "stack.yaml") -> Path:
    path = tmp_path / name
    path.write_text(STACK.format(deployments=deployments), encoding="utf-8")
    return path


def exit_code(argv: list[str]) -> int | str | None:
    """main's return value, or the code argparse exits with on a usage error."""
    try:
        return main(argv)
    except SystemExit as exc:
        return exc.code


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["lifecycle", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_deprecated_model_inside_the_window_exits_1_with_its_facts(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    # claude-opus-4-5 on purpose: deprecated, retiring 2027-01-22 (tentative), 46 days after 2026-12-07
    path = write(tmp_path, "  deep: {model: claude-opus-4-5}\n  chat: {model: claude-sonnet-5-5}")
    code, out, _ = run(capsys, str(path), "--today", TODAY, "--format", "json")
    assert code == 1
    data = json.loads(out)
    assert (data["ok"], data["due"], data["within_days"], data["today"]) == (False, 1, 60, TODAY)
    deep = next(d for d in data["deployments"] if d["deployment"] == "deep")
    assert {k: deep[k] for k in ("account", "model", "version", "stage", "retirement", "retirement_tentative",
                                 "days_left", "replacement", "action", "due")} == {
        "account": "primary", "model": "claude-opus-4-5", "version": "1", "stage": "deprecated",
        "retirement": "2027-01-22", "retirement_tentative": True, "days_left": 46,
        "replacement": "claude-opus-5-5", "action": "retiring", "due": True}
    assert "secondary source" in deep["sources"]["retirement"]
    assert "bundled catalogue (snapshot 2026-09-21)" in deep["sources"]["stage"]
    chat = next(d for d in data["deployments"] if d["deployment"] == "chat")
    assert (chat["stage"], chat["action"], chat["days_left"], chat["due"]) == ("active", "ok", None, False)
    assert data["catalogue"] == "bundled"
    assert data["catalogue_age"].startswith("snapshot of 2026-09-21")


def test_outside_the_window_the_same_stack_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "  deep: {model: claude-opus-4-5}")
    code, out, _ = run(capsys, str(path), "--today", TODAY, "--within", "30")
    assert code == 0
    assert "nothing due within 30 days of 2026-12-07" in out
    assert "claude-opus-4-5" in out
    assert "deprecated" in out


def test_the_shipped_stacks_are_clean(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, str(ROOT / "stacks/dev.yaml"), str(ROOT / "stacks/prod.yaml"), "--today", TODAY)
    assert code == 0, out
    assert "claude-sonnet-5-5" in out
    assert "nothing due within 60 days" in out


def test_a_retired_model_is_reported_not_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # claude-sonnet-4-5 on purpose: it retired on 2026-11-30 (validate refuses it; lifecycle reports it)
    path = write(tmp_path, "  old: {model: claude-sonnet-4-5}")
    code, out, _ = run(capsys, str(path), "--today", TODAY, "--format", "json")
    assert code == 1
    old = json.loads(out)["deployments"][0]
    assert (old["stage"], old["retirement"], old["days_left"], old["replacement"], old["action"]) == (
        "retired", "2026-11-30", -7, "claude-sonnet-5-5", "retired")
    assert "platform.claude.com" in old["sources"]["replacement"]


def test_github_format_is_one_annotation_per_deployment_to_act_on(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "  old: {model: claude-sonnet-4-5}\n  deep: {model: claude-opus-4-5}\n"
                           "  chat: {model: claude-sonnet-5-5}")
    code, out, _ = run(capsys, str(path), "--today", TODAY, "--format", "github")
    assert code == 1
    annotations = [line for line in out.splitlines() if line.startswith("::")]
    assert len(annotations) == 2
    assert annotations[0].startswith(f"::error file={path},title=claude-foundry lifecycle::primary/old: "
                                     "claude-sonnet-4-5 retired on 2026-11-30")
    assert "move it to claude-sonnet-5-5" in annotations[0]
    assert "primary/deep: claude-opus-4-5 retires on 2027-01-22 (tentative) (46 days left)" in annotations[1]


def test_markdown_format_is_an_issue_body(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "  deep: {model: claude-opus-4-5}\n  chat: {model: claude-sonnet-5-5}")
    code, out, _ = run(capsys, str(path), "--today", TODAY, "--format", "markdown")
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == "## 1 Claude deployment(s) retired or retiring within 60 days"
    header = next(line for line in lines if line.startswith("| stack |"))
    assert header.count("|") == 12
    rows = [line for line in lines if line.startswith(f"| {path} |")]
    assert len(rows) == 2
    assert "| claude-opus-4-5 | 1 | deprecated | - | 2027-01-22 (tentative) | 46 | claude-opus-5-5 | RETIRING |" \
        in rows[0]
    assert "### What to do" in lines
    assert any(line.startswith("- claude-opus-4-5 retirement:") and "secondary source" in line for line in lines)


def test_a_further_account_is_reported_with_its_location(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "  deep: {model: claude-opus-4-5}")
    text = path.read_text(encoding="utf-8") + ("accounts:\n  sweden: {name: contoso-claude-lc-sc, "
                                                "location: swedencentral}\n")
    path.write_text(text, encoding="utf-8")
    report = lifecycle_report([("s", read_stack(path, load_catalogue()))], today=dt.date(2026, 12, 7))
    assert [(e.account, e.location, e.deployment) for e in report.entries] == [
        ("primary", "eastus2", "deep"), ("sweden", "swedencentral", "deep")]


def test_azures_live_list_wins_and_says_so(tmp_path: Path) -> None:
    path = write(tmp_path, "  chat: {model: claude-sonnet-5-5}\n  fast: {model: claude-haiku-4-5}")
    spec = read_stack(path, load_catalogue())
    live = {"eastus2": [
        LiveModel("claude-sonnet-5-5", "2", "Anthropic", lifecycle="Deprecating", retirement=dt.date(2027, 1, 10)),
    ]}
    report = lifecycle_report([("s", spec)], today=dt.date(2026, 12, 7), live=live, live_via="sandbox")
    chat = next(e for e in report.entries if e.deployment == "chat")
    assert (chat.stage, chat.retirement, chat.days_left, chat.action) == (
        "deprecated", dt.date(2027, 1, 10), 34, "retiring")
    assert chat.sources["stage"].startswith("Azure's models list, eastus2 (sandbox)")
    assert "lifecycleStatus Deprecating" in chat.sources["stage"]
    assert "deprecation.inference" in chat.sources["retirement"]
    assert "Azure's list wins" in chat.note
    fast = next(e for e in report.entries if e.deployment == "fast")
    assert "not in Azure's models list for eastus2" in fast.note
    assert report.live == "sandbox"
    assert not report.ok


def test_a_model_newer_than_the_snapshot_is_unknown_not_due(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "  next: {model: claude-sonnet-6}")
    code, out, _ = run(capsys, str(path), "--today", TODAY, "--format", "json")
    assert code == 0
    entry = json.loads(out)["deployments"][0]
    assert (entry["stage"], entry["action"]) == ("unknown", "unknown")
    assert "not in the catalogue snapshot of 2026-09-21" in entry["note"]


@pytest.mark.parametrize(("argv", "fragment"), [
    (["--today", "07/12/2026"], "not a date"),
    (["--within", "-1"], "must be between"),
    (["--format", "yaml"], "invalid choice"),
    (["--sandbox", "c.json", "--subscription", "x"], "are exclusive"),
])
def test_bad_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str],
                           fragment: str) -> None:
    path = write(tmp_path, "  chat: {model: claude-sonnet-5-5}")
    assert exit_code(["lifecycle", str(path), *argv]) == 2
    assert fragment in capsys.readouterr().err


def test_an_invalid_stack_exits_2_naming_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "  chat: {model: claude-sonet-5-5}")
    code, _, err = run(capsys, str(path))
    assert code == 2
    assert "did you mean claude-sonnet-5-5" in err
    assert "Traceback" not in err
