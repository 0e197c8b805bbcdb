"""End to end: ``claude-foundry smoke`` against the sandbox; every diagnosis driven by its fault injection."""

from __future__ import annotations

import json
import socket
import xml.etree.ElementTree as ET

import pytest
from seeding import MODELS, grant_caller, rotate_key, seed_stack

from claude_foundry import _contract as c
from claude_foundry import cli
from claude_foundry._client import runtime as rt
from claude_foundry._client import smoke

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("clean_runtime_env")]

FAULTS = {
    "ok": None,
    "f401": {"status": 401},
    "f403": {"status": 403},
    "f404": {"status": 404},  # persistent 404 after propagation window
    "f404p": {"status": 404, "count": 2},  # propagating: passes on the third attempt
    "f429p": {"status": 429, "retry_after": 0.2, "count": 1},  # passes after honouring retry-after
    "f429": {"status": 429, "retry_after": 30},  # retry-after beyond the budget
    "f500": {"status": 500},
    "f503": {"status": 503},
    "fmal": {"malformed": True},
    "fhang": {"hang": 4},
}


@pytest.fixture(scope="module")
def fault_stack(sandbox, credential):
    stack = seed_stack(sandbox, credential, dict.fromkeys(FAULTS, MODELS["sonnet"]))
    for name, spec in FAULTS.items():
        if spec:
            sandbox.set_fault(stack.account, name, spec)
    yield stack
    sandbox.clear_faults(stack.account)


@pytest.fixture(scope="module")
def fault_run(fault_stack, conn_file, tmp_path_factory):
    out = tmp_path_factory.mktemp("reports")
    argv = ["smoke", "--vault-url", fault_stack.vault_url, "--prefix", fault_stack.prefix, "--sandbox", conn_file,
            "--propagation-timeout", "1.5", "--poll-interval", "0.1", "--rate-limit-timeout", "2",
            "--timeout", "1", "--report-json", str(out / "r.json"), "--report-junit", str(out / "r.xml")]
    return argv, out


def test_every_diagnosis(fault_run, fault_stack, capsys):
    argv, out = fault_run
    code = cli.main(argv)
    stdout, stderr = capsys.readouterr()
    assert code == 1
    report = json.loads((out / "r.json").read_text())
    res = {d["name"]: d for d in report["deployments"]}
    assert set(res) == set(FAULTS)
    assert res["ok"]["passed"]
    assert res["ok"]["request_id"].startswith("req_sbx_")
    assert res["ok"]["apim_request_id"]
    assert res["ok"]["model"] == MODELS["sonnet"]
    assert res["f404p"]["passed"]
    assert res["f404p"]["attempts"] == 3
    assert res["f429p"]["passed"]
    assert res["f429p"]["attempts"] == 2
    expect = {
        "f401": (smoke.AUTH, "wrong or was rotated"),
        "f403": (smoke.FORBIDDEN, "Cognitive Services User"),
        "f404": (smoke.NOT_FOUND, "not on resource"),
        "f429": (smoke.RATE_LIMITED, "TPM"),
        "f500": (smoke.SERVER_ERROR, "500 server error"),
        "f503": (smoke.SERVER_ERROR, "503 server error"),
        "fmal": (smoke.MALFORMED, "not a valid Messages API response"),
        "fhang": (smoke.TIMEOUT, "timed out"),
    }
    for name, (category, words) in expect.items():
        assert not res[name]["passed"], name
        assert res[name]["category"] == category, (name, res[name]["diagnosis"])
        assert words in res[name]["diagnosis"], name
    for name in ("f401", "f403", "f404", "f429", "f500", "f503"):
        assert res[name]["apim_request_id"], name
        assert res[name]["status"] == int(name[1:4])
    assert res["f401"]["attempts"] == 1
    assert res["f500"]["attempts"] == 1
    assert res["f404"]["attempts"] >= 3
    root = ET.parse(out / "r.xml").getroot()  # noqa: S314 - our own report
    assert root.tag == "testsuite"
    assert root.get("tests") == str(len(FAULTS))
    assert root.get("failures") == str(len(expect))
    failed = {case.get("name") for case in root.iter("testcase") if case.find("failure") is not None}
    assert failed == set(expect)
    assert "FAIL" in stdout
    key = fault_stack.current_key()
    for text in (stdout, stderr, (out / "r.json").read_text(), (out / "r.xml").read_text()):
        assert key not in text


def test_all_pass_with_stream_exit_0(sandbox, credential, conn_file, tmp_path, capsys):
    stack = seed_stack(sandbox, credential, MODELS)
    code = cli.main(["smoke", "--vault-url", stack.vault_url, "--prefix", stack.prefix, "--sandbox", conn_file,
                     "--stream", "--report-json", str(tmp_path / "r.json")])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["passed"]
    assert all(d["stream_checked"] for d in data["deployments"])
    assert stack.current_key() not in out + err


def test_smoke_survives_rotation(sandbox, credential):
    stack = seed_stack(sandbox, credential, {"sonnet": MODELS["sonnet"]})
    ca = sandbox.connection["ca_bundle"]
    runtime = rt.FoundryRuntime.from_key_vault(stack.vault_url, prefix=stack.prefix, credential=credential,
                                               ca_bundle=ca)
    rotate_key(stack)
    report = smoke.run_smoke(runtime)
    assert report.passed, report.summary()
    assert runtime.key_rereads == 1


def _base_url_smoke(base_url, deployments, *extra, key=None, ca=None, monkeypatch=None):
    if key:
        monkeypatch.setenv(c.ENV_API_KEY, key)
    argv = ["smoke", "--base-url", base_url, "--deployments", deployments, "--propagation-timeout", "0",
            "--timeout", "3", "-q", *extra]
    if ca:
        argv += ["--ca-bundle", ca]
    return argv


def _one(tmp_path, argv, capsys):
    argv = [*argv, "--report-json", str(tmp_path / "r.json")]
    code = cli.main(argv)
    capsys.readouterr()
    return code, json.loads((tmp_path / "r.json").read_text())["deployments"][0]


def test_wrong_key_local_auth_and_wrong_path(sandbox, credential, tmp_path, capsys, monkeypatch):
    stack = seed_stack(sandbox, credential, {"sonnet": MODELS["sonnet"]})
    ca = sandbox.connection["ca_bundle"]
    code, d = _one(tmp_path, _base_url_smoke(stack.base_url, "sonnet", key="not-the-key", ca=ca,
                                             monkeypatch=monkeypatch), capsys)
    assert code == 1
    assert d["category"] == smoke.AUTH
    assert c.ENV_API_KEY in d["diagnosis"]
    assert "disabled" in d["diagnosis"]
    code, d = _one(tmp_path, _base_url_smoke(stack.base_url, "nope", key=stack.current_key(), ca=ca,
                                             monkeypatch=monkeypatch), capsys)
    assert d["category"] == smoke.NOT_FOUND
    assert "'nope' is not on resource" in d["diagnosis"]
    wrong = stack.base_url.rsplit("/anthropic", 1)[0] + "/v2"
    code, d = _one(tmp_path, _base_url_smoke(wrong, "sonnet", key=stack.current_key(), ca=ca,
                                             monkeypatch=monkeypatch), capsys)
    assert d["category"] == smoke.NOT_FOUND
    assert "does not end in /anthropic" in d["diagnosis"]


def test_entra_403_names_role_and_scope(sandbox, credential, make_credential, tmp_path):
    stack = seed_stack(sandbox, credential, {"opus": MODELS["opus"]}, disable_local_auth=True)
    ca = sandbox.connection["ca_bundle"]
    stranger = sandbox.add_principal("smoke-stranger")
    cred = make_credential(stranger["client_id"], stranger["client_secret"])
    contract = rt.contract_from_key_vault(stack.vault_url, prefix=stack.prefix, credential=credential,
                                          ca_bundle=ca)
    runtime = rt.FoundryRuntime(contract, credential=cred, ca_bundle=ca)
    r = smoke.run_smoke(runtime, role_propagation_timeout=0).results[0]  # no role at all: nothing to wait for
    assert r.category == smoke.FORBIDDEN
    assert "Azure AI User" in r.diagnosis
    assert f"accounts/{stack.account}" in r.diagnosis
    grant_caller(stack, stranger["principal_id"])
    assert smoke.run_smoke(runtime).passed


def test_tls_dns_connection(sandbox, credential, tmp_path, capsys, monkeypatch):
    stack = seed_stack(sandbox, credential, {"sonnet": MODELS["sonnet"]})
    key = stack.current_key()
    code, d = _one(tmp_path, _base_url_smoke(stack.base_url, "sonnet", key=key, monkeypatch=monkeypatch), capsys)
    assert (code, d["category"]) == (1, smoke.TLS)
    assert "--ca-bundle" in d["diagnosis"]
    code, d = _one(tmp_path, _base_url_smoke("https://cf-nonexistent.invalid/anthropic", "sonnet", key=key,
                                             monkeypatch=monkeypatch), capsys)
    assert d["category"] == smoke.DNS
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code, d = _one(tmp_path, _base_url_smoke(f"https://127.0.0.1:{port}/foundry/x/anthropic", "sonnet", key=key,
                                             monkeypatch=monkeypatch), capsys)
    assert d["category"] == smoke.CONNECTION
