"""``smoke`` reports on stdout (``--report-json -`` / ``--report-junit -``: the table moves to stderr) and GitHub
annotations (``--format github``) against the sandbox."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from seeding import MODELS, seed_stack

from claude_foundry import cli

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(sandbox, credential):
    stack = seed_stack(sandbox, credential, {"ok": MODELS["sonnet"], "broken": MODELS["haiku"]})
    sandbox.set_fault(stack.account, "broken", {"status": 500})
    yield stack
    sandbox.clear_faults(stack.account)


def _argv(stack, conn_file, *extra):
    return ["smoke", "--vault-url", stack.vault_url, "--prefix", stack.prefix, "--sandbox", conn_file,
            "--timeout", "2", "--rate-limit-timeout", "0", "--propagation-timeout", "0", *extra]


def test_report_json_dash_is_the_only_thing_on_stdout(stack, conn_file, capsys):
    assert cli.main(_argv(stack, conn_file, "--report-json", "-")) == 1
    out, err = capsys.readouterr()
    report = json.loads(out)  # stdout is exactly the JSON report
    assert {d["name"]: d["passed"] for d in report["deployments"]} == {"ok": True, "broken": False}
    assert "broken" in err  # the table went to stderr
    assert not Path("-").exists()  # no file named "-"


def test_report_junit_dash_writes_parseable_xml_to_stdout(stack, conn_file, capsys):
    assert cli.main(_argv(stack, conn_file, "--report-junit", "-", "-q")) == 1
    out, _ = capsys.readouterr()
    suite = ET.fromstring(out.split("?>", 1)[1] if out.startswith("<?xml") else out)  # noqa: S314 (our own report)
    assert {case.get("name") for case in suite.iter("testcase")} == {"ok", "broken"}


def test_both_reports_on_stdout_is_a_usage_error(stack, conn_file, capsys):
    assert cli.main(_argv(stack, conn_file, "--report-json", "-", "--report-junit", "-")) == 2
    assert "cannot both go to stdout" in capsys.readouterr().err


def test_format_github_annotates_each_failed_deployment(stack, conn_file, capsys):
    assert cli.main(_argv(stack, conn_file, "--format", "github", "-q")) == 1
    _, err = capsys.readouterr()
    errors = [line for line in err.splitlines() if line.startswith("::error ")]
    assert len(errors) == 1
    assert errors[0].startswith("::error title=claude-foundry smoke::deployment broken (claude-haiku-4-5): ")
