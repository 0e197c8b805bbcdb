"""Unit tests of the smoke test's retry policy, checks, diagnoses and reports (tests/fakes.py's fake transport)."""

from __future__ import annotations

import json
import socket
import ssl
import xml.etree.ElementTree as ET

import httpx2
import pytest

from claude_foundry import _contract as c
from claude_foundry._client import runtime as rt
from claude_foundry._client import smoke
from claude_foundry.cli._smoke import render_report
from fakes import FakeTransport, answer, error

KEY = "smoke-unit-key-0123456789"
BASE = "https://acct.services.ai.azure.com/anthropic"
MODELS = {"opus": "claude-opus-4-6", "sonnet": "claude-sonnet-4-6", "haiku": "claude-haiku-4-5"}


class Script:
    """Per-deployment scripted answers: a list of callables/statuses consumed one per call; then 200."""

    def __init__(self, **plans) -> None:
        self.plans = {k: list(v) for k, v in plans.items()}
        self.calls: dict[str, int] = {}
        self.model_override: dict[str, str] = {}
        self.no_request_id: set[str] = set()

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        name = body["model"]
        self.calls[name] = self.calls.get(name, 0) + 1
        plan = self.plans.get(name) or []
        step = plan.pop(0) if plan else 200
        if callable(step):
            return step(request)
        if isinstance(step, tuple):
            status, headers = step
        else:
            status, headers = step, {}
        base_headers = {"apim-request-id": f"apim-{name}"}
        if status != 200:
            return error(status, "nope", code=str(status), headers={**base_headers, **headers})
        if name not in self.no_request_id:
            base_headers["request-id"] = f"req-{name}"
        model = self.model_override.get(name, MODELS.get(name, name))
        return answer(request, model=model, input_tokens=3, headers=base_headers)


def runtime(auth_mode: str = "key", deployments=MODELS, key: str | None = KEY, base_url: str = BASE):
    contract = c.Contract(
        resource="acct", base_url=base_url, auth_mode=auth_mode, api_key=key,
        deployments={n: c.DeploymentInfo(model=m, version="1", family=n) for n, m in deployments.items()},
    )
    return rt.FoundryRuntime(contract, credential=object())


def run(script, rt_=None, **kw) -> smoke.SmokeReport:
    kw.setdefault("poll_interval", 0.01)
    return smoke.run_smoke(rt_ or runtime(), http_client=FakeTransport(script).async_client(),
                           **kw)


def by_name(report):
    return {r.name: r for r in report.results}


def test_all_pass_and_reports(tmp_path):
    report = run(Script(), stream=True)
    assert report.passed
    res = by_name(report)
    assert set(res) == set(MODELS)
    assert all(r.stream_checked and r.attempts == 2 for r in res.values())
    assert res["opus"].request_id == "req-opus"
    assert res["opus"].apim_request_id == "apim-opus"
    report.write_json(tmp_path / "r.json")
    report.write_junit(tmp_path / "r.xml")
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["passed"] is True
    entry = data["deployments"][0]
    for key in ("name", "model", "passed", "diagnosis", "status", "request_id", "apim_request_id",
                "duration_s", "attempts"):
        assert key in entry
    root = ET.parse(tmp_path / "r.xml").getroot()  # noqa: S314 - our own report
    assert root.tag == "testsuite"
    assert root.get("tests") == "3"
    assert root.get("failures") == "0"
    assert len(root.findall("testcase")) == 3
    assert KEY not in (tmp_path / "r.json").read_text() + (tmp_path / "r.xml").read_text()


def test_404_is_retried_while_propagating():
    script = Script(sonnet=[404, 404, 404])
    report = run(script, propagation_timeout=5)
    r = by_name(report)["sonnet"]
    assert r.passed
    assert r.attempts == 4
    assert report.passed


def test_404_gives_up_after_window():
    report = run(Script(sonnet=[404] * 100), propagation_timeout=0.1)
    r = by_name(report)["sonnet"]
    assert not r.passed
    assert r.category == smoke.NOT_FOUND
    assert "not on resource 'acct'" in r.diagnosis
    assert "/anthropic" in r.diagnosis
    assert r.attempts >= 2
    assert by_name(report)["opus"].passed
    assert not report.passed


def test_404_with_wrong_path_says_so():
    rt_ = runtime(base_url="https://acct.services.ai.azure.com")
    report = run(Script(sonnet=[404] * 10), rt_, propagation_timeout=0)
    assert "does not end in /anthropic" in by_name(report)["sonnet"].diagnosis


def test_429_honours_retry_after():
    report = run(Script(haiku=[(429, {"retry-after": "0"}), (429, {"retry-after-ms": "10"})]))
    r = by_name(report)["haiku"]
    assert r.passed
    assert r.attempts == 3


def test_429_too_long_retry_after_gives_quota_diagnosis():
    report = run(Script(haiku=[(429, {"retry-after": "3600"})]), rate_limit_timeout=5)
    r = by_name(report)["haiku"]
    assert r.category == smoke.RATE_LIMITED
    assert "TPM" in r.diagnosis
    assert r.attempts == 1


@pytest.mark.parametrize(("status", "category", "words"), [
    (401, smoke.AUTH, "wrong or was rotated"),
    (403, smoke.FORBIDDEN, "Cognitive Services User"),
    (500, smoke.SERVER_ERROR, "500 server error"),
    (503, smoke.SERVER_ERROR, "503 server error"),
    (400, smoke.HTTP_ERROR, "HTTP 400"),
])
def test_status_diagnoses_not_retried(status, category, words):
    script = Script(opus=[status] * 5)
    report = run(script)
    r = by_name(report)["opus"]
    assert r.category == category
    assert words in r.diagnosis
    assert r.attempts == 1
    assert script.calls["opus"] == 1
    assert r.apim_request_id == "apim-opus"
    assert r.status == status


def test_403_names_the_scope():
    r = by_name(run(Script(opus=[403])))["opus"]
    assert "Azure AI User" in r.diagnosis
    assert "Microsoft.CognitiveServices/accounts/acct" in r.diagnosis


def test_401_on_entra_stack_with_key():
    r = by_name(run(Script(opus=[401]), runtime(auth_mode="entra")))["opus"]
    assert "disables local (key) auth" in r.diagnosis


class Cred:
    """An Entra ID credential handing out a fixed token."""

    def get_token_info(self, *scopes, options=None):
        from azure.core.credentials import AccessTokenInfo
        return AccessTokenInfo("tok", 2**31)

    def get_token(self, *scopes, **kw):
        from azure.core.credentials import AccessToken
        return AccessToken("tok", 2**31)


def entra_runtime(deployments=MODELS):
    contract = c.Contract(resource="acct", base_url=BASE, auth_mode="entra",
                          deployments={n: c.DeploymentInfo(m, "1", n) for n, m in deployments.items()})
    return rt.FoundryRuntime(contract, credential=Cred())


def test_401_with_entra_token_mentions_scope():
    script = Script(opus=[401] * 5)
    r = by_name(run(script, entra_runtime({"opus": MODELS["opus"]}), role_propagation_timeout=5))["opus"]
    assert "Entra ID token was refused" in r.diagnosis
    assert c.DEFAULT_TOKEN_SCOPE in r.diagnosis
    assert script.calls["opus"] == 1  # a refused token is not a role that propagates: no wait


def test_wrong_model_fails_check():
    script = Script()
    script.model_override["opus"] = "claude-opus-4-1"
    r = by_name(run(script))["opus"]
    assert r.category == smoke.CHECK_FAILED
    assert "claude-opus-4-1" in r.diagnosis


def test_dated_model_id_is_accepted():
    script = Script()
    script.model_override["opus"] = "claude-opus-4-6-20260101"
    assert by_name(run(script))["opus"].passed


def test_missing_request_id_is_a_warning(tmp_path):
    script = Script()
    script.no_request_id.add("haiku")
    report = run(script)
    r = by_name(report)["haiku"]
    assert r.passed
    assert report.passed
    assert r.category == smoke.OK
    assert len(r.warnings) == 1
    assert "no request-id header" in r.warnings[0]
    assert "apim-request-id header" not in r.warnings[0]  # that one was there
    assert not by_name(report)["opus"].warnings
    assert "(1 with warnings)" in report.summary()
    assert "haiku: warning: the answer has no request-id" in report.summary()
    report.write_json(tmp_path / "r.json")
    report.write_junit(tmp_path / "r.xml")
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["passed"] is True
    assert {d["name"]: d["warnings"] for d in data["deployments"]}["haiku"] == r.warnings
    root = ET.parse(tmp_path / "r.xml").getroot()  # noqa: S314 - our own report
    assert root.get("failures") == "0"
    case = next(case for case in root.iter("testcase") if case.get("name") == "haiku")
    assert case.find("failure") is None
    assert "warning: the answer has no request-id" in case.find("system-out").text


def test_missing_request_id_warning_shows_in_table_and_cli_exit_0(capsys, monkeypatch):
    from rich.console import Console

    from claude_foundry import cli
    from claude_foundry.cli import _smoke as smoke_cli

    script = Script()
    script.no_request_id.add("haiku")
    report = run(script)
    console = Console(record=True, width=250)
    render_report(report, console)
    assert "warning: the answer has no request-id" in console.export_text()
    monkeypatch.setattr(smoke_cli, "build_runtime", lambda args, **kw: (object(), None))
    monkeypatch.setattr(smoke, "run_smoke", lambda *args, **kwargs: report)
    assert cli.main(["smoke", "--resource", "acct", "--deployments", "haiku", "-q"]) == 0
    assert "with warnings" in capsys.readouterr().out


# --- role assignment propagation (Entra ID) --------------------------------------------------------------

DENIED = {"error": {"code": "PermissionDenied", "message": "The principal `oid` lacks the required data action "
                    "`Microsoft.CognitiveServices/accounts/AIServices/anthropic/messages/action`."}}


def denied(status=403, body=DENIED):
    return lambda request: httpx2.Response(status, json=body, headers={"apim-request-id": "apim-x"})


def test_fresh_403_is_waited_out_with_progress():
    lines: list[str] = []
    script = Script(opus=[denied()] * 3)
    report = run(script, entra_runtime(), role_propagation_timeout=5, progress=lines.append)
    r = by_name(report)["opus"]
    assert report.passed
    assert r.attempts == 4
    assert r.diagnosis == "answered"
    assert len(lines) == 2, lines  # one when the wait starts, one when it is over: not one per poll
    assert "waiting for role assignment propagation on Foundry account 'acct': opus answered 403 " \
           "PermissionDenied; retrying for up to 5s" in lines[0]
    assert "over after" in lines[1]
    assert "1 granted" in lines[1]


def test_401_permission_denied_is_waited_out_too():
    script = Script(sonnet=[denied(401)] * 2)
    r = by_name(run(script, entra_runtime(), role_propagation_timeout=5))["sonnet"]
    assert r.passed
    assert r.attempts == 3


def test_403_that_persists_fails_after_the_bound():
    lines: list[str] = []
    script = Script(opus=[denied()] * 1000)
    report = run(script, entra_runtime(), role_propagation_timeout=0.3, progress=lines.append)
    r = by_name(report)["opus"]
    assert not r.passed
    assert r.category == smoke.FORBIDDEN
    assert "lacks the data-plane role 'Cognitive Services User' or 'Azure AI User'" in r.diagnosis
    assert "Microsoft.CognitiveServices/accounts/acct" in r.diagnosis
    assert "still denied after" in r.diagnosis
    assert "--role-propagation-timeout" in r.diagnosis
    assert 2 < script.calls["opus"] < 1000
    assert r.duration_s < 2
    assert by_name(report)["haiku"].passed
    assert "1 still denied" in lines[-1]


def test_401_permission_denied_that_persists_names_the_role_not_the_scope():
    r = by_name(run(Script(opus=[denied(401)] * 1000), entra_runtime(), role_propagation_timeout=0.1))["opus"]
    assert r.category == smoke.AUTH
    assert "Cognitive Services User" in r.diagnosis
    assert "token was refused" not in r.diagnosis


def test_no_wait_with_zero_timeout():
    script = Script(opus=[denied()] * 5)
    r = by_name(run(script, entra_runtime(), role_propagation_timeout=0))["opus"]
    assert r.category == smoke.FORBIDDEN
    assert script.calls["opus"] == 1
    assert "still denied after" not in r.diagnosis


def test_network_rule_403_with_entra_is_not_waited_for():
    body = {"error": {"code": "403", "message": "Public access is disabled. Please configure private endpoint."}}
    script = Script(opus=[denied(403, body)] * 5)
    r = by_name(run(script, entra_runtime(), role_propagation_timeout=5))["opus"]
    assert r.category == smoke.FORBIDDEN
    assert script.calls["opus"] == 1


@pytest.mark.parametrize("status", [401, 403])
def test_key_auth_denials_are_not_role_propagation(status):
    script = Script(opus=[denied(status)] * 5)
    r = by_name(run(script, role_propagation_timeout=5))["opus"]
    assert not r.passed
    assert script.calls["opus"] == 1
    assert r.attempts == 1


def test_key_auth_401_still_rereads_the_key():
    new_key = "smoke-unit-key-rotated-987654"

    def keyed(request):
        if request.headers.get("x-api-key") != new_key:
            return error(401, "Access denied", code="401")
        return answer(request, model=MODELS["opus"], headers={"request-id": "r", "apim-request-id": "a"})

    contract = c.Contract(resource="acct", base_url=BASE, api_key=KEY,
                          deployments={"opus": c.DeploymentInfo(MODELS["opus"], "1", "opus")})
    rt_ = rt.FoundryRuntime(contract, credential=object(), key_reader=lambda: new_key)
    report = run(Script(opus=[keyed] * 3), rt_, role_propagation_timeout=5)
    assert report.passed, report.summary()
    assert rt_.key_rereads == 1
    assert by_name(report)["opus"].attempts == 1


def test_progress_lines_are_bounded_across_deployments():
    names = {f"d{i}": f"d{i}" for i in range(12)}  # the script answers with the name as the model
    lines: list[str] = []
    script = Script(**{n: [denied()] * 4 for n in names})
    report = run(script, entra_runtime(names), role_propagation_timeout=5, progress=lines.append)
    assert report.passed
    assert len(lines) == 2, lines
    assert "answered 403 PermissionDenied" in lines[0]
    assert "12 granted" in lines[1]


def test_propagation_log_throttles_by_gap():
    now = [0.0]
    lines: list[str] = []
    log = smoke.PropagationLog(lines.append, "X", timeout=300, clock=lambda: now[0])
    assert log.gap == 30
    for t in range(0, 300, 2):  # a poll every 2 s for the whole timeout
        now[0] = float(t)
        log.denied("a", "403")
    assert len(lines) == 10  # every 30 s, not every poll
    now[0] = 301.0
    log.done("a", granted=False)
    assert len(lines) == 11
    assert "over after 301s: 1 still denied" in lines[-1]
    log.done("a")  # not waiting any more: no line
    assert len(lines) == 11


def test_negative_role_propagation_timeout_is_a_usage_error(capsys):
    from claude_foundry import cli

    for value in ("-1", "inf"):
        code = cli.main(["smoke", "--resource", "acct", "--deployments", "a", "--role-propagation-timeout", value])
        err = capsys.readouterr().err
        assert code == 2
        assert "--role-propagation-timeout" in err
        assert "Traceback" not in err
    with pytest.raises(ValueError, match="must not be negative"):
        run(Script(), role_propagation_timeout=-1)


# --- Key Vault: a fresh Key Vault Secrets User assignment -------------------------------------------------


def _kv_forbidden(inner="ForbiddenByRbac"):
    from azure.core.exceptions import HttpResponseError

    exc = HttpResponseError(message=f"(Forbidden) Caller is not authorized to perform action on resource.\n"
                                    f"Code: Forbidden\nInner error: {{\"code\": \"{inner}\"}}")
    exc.status_code = 403
    return exc


def _vault_script(monkeypatch, failures):
    from claude_foundry._client import targets

    calls = []

    def from_key_vault(vault_url, **kw):
        calls.append(vault_url)
        if failures:
            raise failures.pop(0)
        return runtime()

    monkeypatch.setattr(targets.rt.FoundryRuntime, "from_key_vault", staticmethod(from_key_vault))
    return targets, calls


def test_key_vault_forbidden_by_rbac_is_waited_out(monkeypatch):
    targets, calls = _vault_script(monkeypatch, [_kv_forbidden(), _kv_forbidden()])
    lines: list[str] = []
    runtime_, _names = targets.resolve_runtime(targets.RuntimeTarget(vault_url="https://kv.vault.azure.net"),
                                              environ={}, role_propagation_timeout=5, poll_interval=0.01,
                                              progress=lines.append)
    assert runtime_.resource == "acct"
    assert len(calls) == 3
    assert len(lines) == 2
    assert "Key Vault https://kv.vault.azure.net" in lines[0]
    assert "403 ForbiddenByRbac" in lines[0]


def test_key_vault_forbidden_by_rbac_that_persists_says_which_role(monkeypatch):
    from claude_foundry._errors import OperationFailed

    targets, calls = _vault_script(monkeypatch, [_kv_forbidden() for _ in range(1000)])
    with pytest.raises(OperationFailed) as info:
        targets.resolve_runtime(targets.RuntimeTarget(vault_url="https://kv.vault.azure.net"), environ={},
                                role_propagation_timeout=0.2, poll_interval=0.01)
    assert "Key Vault Secrets User" in str(info.value)
    assert "still denied after waiting" in str(info.value)
    assert 2 < len(calls) < 1000


def test_key_vault_firewall_403_is_not_waited_for(monkeypatch):
    from claude_foundry._errors import OperationFailed

    targets, calls = _vault_script(monkeypatch, [_kv_forbidden("ForbiddenByFirewall") for _ in range(5)])
    with pytest.raises(OperationFailed) as info:
        targets.resolve_runtime(targets.RuntimeTarget(vault_url="https://kv.vault.azure.net"), environ={},
                                role_propagation_timeout=5, poll_interval=0.01)
    assert len(calls) == 1
    assert "Key Vault Secrets User" not in str(info.value)


def test_empty_text_and_usage_fail():
    script = Script(sonnet=[lambda req: answer(req, text="", usage={"input_tokens": 3, "output_tokens": 0})])
    r = by_name(run(script))["sonnet"]
    assert "no text content" in r.diagnosis
    assert "no token usage" in r.diagnosis


def test_malformed_body():
    script = Script(sonnet=[lambda req: httpx2.Response(200, text="<html>gateway</html>",
                                                        headers={"request-id": "r",
                                                                 "content-type": "application/json"})])
    r = by_name(run(script))["sonnet"]
    assert r.category == smoke.MALFORMED


def _raiser(exc):
    def handler(request):
        raise exc
    return handler


def _with_cause(exc, cause):
    exc.__cause__ = cause
    return exc


@pytest.mark.parametrize(("exc", "category"), [
    (httpx2.ReadTimeout("timed out"), smoke.TIMEOUT),
    (_with_cause(httpx2.ConnectError("boom"), ssl.SSLCertVerificationError("certificate verify failed")),
     smoke.TLS),
    (_with_cause(httpx2.ConnectError("boom"), socket.gaierror(-2, "Name or service not known")), smoke.DNS),
    (_with_cause(httpx2.ConnectError("boom"), ConnectionRefusedError(111, "Connection refused")),
     smoke.CONNECTION),
])
def test_transport_failures(exc, category):
    script = Script(opus=[_raiser(exc)])
    r = by_name(run(script))["opus"]
    assert r.category == category, r.diagnosis
    assert r.status is None
    assert r.attempts == 1


def test_stream_failure_is_reported():
    script = Script(opus=[200, 503])
    r = by_name(run(script, stream=True))["opus"]
    assert not r.passed
    assert r.diagnosis.startswith("streaming call: 503")


def test_concurrency_bound_and_subset():
    report = run(Script(), deployments=["opus", "haiku"], concurrency=1)
    assert [r.name for r in report.results] == ["opus", "haiku"]
    assert report.passed


def test_unknown_deployment_in_subset_is_config_failure():
    report = run(Script(), deployments=["nope"])
    assert report.results[0].category == smoke.CONFIG
    assert "known deployments" in report.results[0].diagnosis


def test_empty_report_does_not_pass():
    report = run(Script(), runtime(deployments={}))
    assert not report.passed
    with pytest.raises(AssertionError, match="no deployments"):
        smoke.assert_smoke_passed(report)


def test_assert_smoke_passed_lists_failures():
    report = run(Script(opus=[403]))
    with pytest.raises(AssertionError, match="opus: 403"):
        smoke.assert_smoke_passed(report)


def test_render_table_has_no_key():
    from rich.console import Console

    console = Console(record=True, width=200)
    render_report(run(Script(opus=[401])), console)
    out = console.export_text()
    assert "FAIL" in out
    assert KEY not in out


# --- a stack with two accounts ----------------------------------------------------------------------------------

KEY_SC = "smoke-unit-key-sweden-9876543210"
BASE_SC = "https://acct-sc.services.ai.azure.com/anthropic"
HOSTS = {"acct.services.ai.azure.com": "primary", "acct-sc.services.ai.azure.com": "sweden"}


class Accounts:
    """A transport for two accounts: each host its own :class:`Script`; records the key each host was sent."""

    def __init__(self, primary: Script | None = None, sweden: Script | None = None) -> None:
        self.scripts = {"primary": primary or Script(), "sweden": sweden or Script()}
        self.keys: dict[str, set[str]] = {"primary": set(), "sweden": set()}

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        account = HOSTS[request.url.host]
        self.keys[account].add(request.headers.get("x-api-key") or request.headers.get("api-key") or "")
        return self.scripts[account](request)


def two_accounts(sweden=("sonnet",), auth_mode="key", credential=None):
    def contract(account, resource, base_url, key, region, names):
        return c.Contract(resource=resource, base_url=base_url, auth_mode=auth_mode,
                          api_key=key if auth_mode == "key" else None, region=region, account=account,
                          deployments={n: c.DeploymentInfo(MODELS[n], "1", n) for n in names})

    primary = contract("primary", "acct", BASE, KEY, "eastus2", MODELS)
    stack = c.StackContract((primary, contract("sweden", "acct-sc", BASE_SC, KEY_SC, "swedencentral", sweden)),
                            version=2)
    return rt.FoundryRuntime(primary, credential=credential or object(), _stack=stack)


def test_two_accounts_report_shape(tmp_path):
    from rich.console import Console

    transport = Accounts()
    report = run(transport, two_accounts())
    assert report.passed
    assert [(r.account, r.name, r.resource, r.region) for r in report.results] == [
        ("primary", "haiku", "acct", "eastus2"), ("primary", "opus", "acct", "eastus2"),
        ("primary", "sonnet", "acct", "eastus2"), ("sweden", "sonnet", "acct-sc", "swedencentral")]
    assert transport.keys == {"primary": {KEY}, "sweden": {KEY_SC}}  # each account its own key
    assert transport.scripts["sweden"].calls == {"sonnet": 1}
    assert report.multi_account
    assert report.summary() == "4/4 deployments passed on 2 accounts (primary, sweden)"

    report.write_json(tmp_path / "r.json")
    data = json.loads((tmp_path / "r.json").read_text())
    assert (data["resource"], data["base_url"]) == ("acct", BASE)  # the primary's, as before
    assert data["accounts"] == [
        {"account": "primary", "resource": "acct", "base_url": BASE, "region": "eastus2", "auth": "key"},
        {"account": "sweden", "resource": "acct-sc", "base_url": BASE_SC, "region": "swedencentral", "auth": "key"}]
    last = data["deployments"][-1]
    assert (last["account"], last["resource"], last["region"], last["name"]) == \
        ("sweden", "acct-sc", "swedencentral", "sonnet")

    report.write_junit(tmp_path / "r.xml")
    root = ET.parse(tmp_path / "r.xml").getroot()  # noqa: S314 - our own report
    assert root.get("tests") == "4"
    cases = [(case.get("classname"), case.get("name")) for case in root.iter("testcase")]
    assert cases == [("claude_foundry.smoke.acct", "haiku"), ("claude_foundry.smoke.acct", "opus"),
                     ("claude_foundry.smoke.acct", "sonnet"), ("claude_foundry.smoke.acct-sc", "sonnet")]
    props = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert props["accounts"] == "primary,sweden"
    assert "account=sweden resource=acct-sc region=swedencentral" in root.findall("testcase")[-1].find(
        "system-out").text

    console = Console(record=True, width=250)
    render_report(report, console)
    table = console.export_text()
    assert table.splitlines()[0].strip() == "claude-foundry smoke: 2 accounts (primary, sweden) (key auth)"
    header = next(line for line in table.splitlines() if "deployment" in line and "model" in line)
    assert header.split("┃")[1].strip() == "account"
    assert "sweden (swedencentral)" in table
    assert "4/4 deployments passed on 2 accounts" in table
    for text in (table, (tmp_path / "r.json").read_text(), (tmp_path / "r.xml").read_text(), report.summary()):
        assert KEY not in text
        assert KEY_SC not in text


def test_one_account_report_is_as_before(tmp_path):
    from rich.console import Console

    report = run(Script(opus=[403]))
    assert not report.multi_account
    assert report.summary().splitlines()[0] == "2/3 deployments passed on acct"
    assert report.summary().splitlines()[1].startswith("- opus: 403 Forbidden: the caller lacks the data-plane "
                                                       "role 'Cognitive Services User' or 'Azure AI User' on "
                                                       "Foundry account 'acct' (assign it")
    assert {(r.account, r.resource, r.region) for r in report.results} == {("primary", "acct", "")}
    root = report.to_junit()
    assert "accounts" not in {p.get("name") for p in root.iter("property")}
    assert "account=" not in root.find("testcase/system-out").text
    console = Console(record=True, width=250)
    render_report(report, console)
    header = next(line for line in console.export_text().splitlines() if "deployment" in line and "model" in line)
    assert header.split("┃")[1].strip() == "deployment"
    assert "on 2 accounts" not in console.export_text()


@pytest.mark.parametrize(("plan", "words"), [
    ([403], "on Foundry account 'acct-sc' (sweden, swedencentral) (assign it at scope"),
    ([404] * 5, "is not on resource 'acct-sc' (sweden, swedencentral)"),
    ([(429, {"retry-after": "3600"})], "429 Too Many Requests on Foundry account 'acct-sc' (sweden, swedencentral)"),
    ([500], "500 server error from Foundry account 'acct-sc' (sweden, swedencentral)"),
    ([401], "401 Unauthorized on Foundry account 'acct-sc' (sweden, swedencentral): the API key is wrong"),
    ([denied(403, {"error": {"code": "403", "message": "Public access is disabled. Please configure private "
                                                        "endpoint."}})],
     "403 Forbidden, outside the network: Foundry account 'acct-sc' (sweden, swedencentral) refuses callers"),
])
def test_a_failure_on_the_second_account_names_it(plan, words):
    transport = Accounts(sweden=Script(sonnet=plan))
    report = run(transport, two_accounts(), propagation_timeout=0, rate_limit_timeout=1)
    assert [(r.account, r.name) for r in report.failures] == [("sweden", "sonnet")]
    (failed,) = report.failures
    assert words in failed.diagnosis
    assert "'acct'" not in failed.diagnosis
    assert all(r.passed for r in report.results if r.account == "primary")
    assert f"- sonnet on sweden: {failed.diagnosis}" in report.summary()
    assert report.summary().startswith("3/4 deployments passed on 2 accounts (primary, sweden)")


def test_names_from_the_stack_file_each_account_must_serve_its_own():
    transport = Accounts()
    report = run(transport, two_accounts(), deployments={"primary": ["opus"], "sweden": ["sonnet", "haiku"],
                                                         "west": ["opus"]})
    got = {(r.account, r.name): r for r in report.results}
    assert list(got) == [("primary", "opus"), ("sweden", "sonnet"), ("sweden", "haiku"), ("west", "opus")]
    assert got["primary", "opus"].passed
    assert got["sweden", "sonnet"].passed
    missing = got["sweden", "haiku"]
    assert missing.category == smoke.CONFIG
    assert "unknown deployment 'haiku' on resource 'acct-sc'" in missing.diagnosis
    assert "the stack file says its sweden account (swedencentral) serves it" in missing.diagnosis
    assert got["west", "opus"].category == smoke.CONFIG
    assert "names account 'west', but the contract read from Key Vault does not" in got["west", "opus"].diagnosis
    assert transport.scripts["sweden"].calls == {"sonnet": 1}  # nothing sent for a name the account lacks
    assert transport.scripts["primary"].calls == {"opus": 1}
    assert [a.account for a in report.accounts] == ["primary", "sweden", "west"]
    assert report.summary().startswith("2/4 deployments passed on 3 accounts (primary, sweden, west)")


def test_given_names_each_account_calls_those_it_serves():
    transport = Accounts()
    report = run(transport, two_accounts(), deployments=["sonnet", "opus", "nope"])
    assert [(r.account, r.name, r.passed) for r in report.results] == [
        ("primary", "sonnet", True), ("primary", "opus", True), ("primary", "nope", False),
        ("sweden", "sonnet", True)]
    nope = report.results[2]
    assert nope.category == smoke.CONFIG
    assert "no account of the stack serves it" in nope.diagnosis
    assert "sweden: sonnet" in nope.diagnosis
    only = run(Accounts(), two_accounts(), deployments=["opus"])
    assert [(r.account, r.name) for r in only.results] == [("primary", "opus")]
    assert not only.multi_account
    assert only.summary() == "1/1 deployments passed on acct"
    with pytest.raises(ValueError, match="list of deployment names"):
        run(Accounts(), two_accounts(), deployments={"sweden": "sonnet"})


def test_role_propagation_is_waited_per_account():
    lines: list[str] = []
    transport = Accounts(sweden=Script(sonnet=[denied()] * 2))
    report = run(transport, two_accounts(auth_mode="entra", credential=Cred()), role_propagation_timeout=5,
                 progress=lines.append)
    assert report.passed, report.summary()
    assert len(lines) == 2, lines
    assert "on Foundry account 'acct-sc' (sweden, swedencentral): sonnet answered 403 PermissionDenied" in lines[0]
    assert "role assignment wait on Foundry account 'acct-sc' (sweden, swedencentral) over after" in lines[1]
    assert transport.scripts["primary"].calls == {"haiku": 1, "opus": 1, "sonnet": 1}  # not held by sweden's wait


def test_an_account_of_the_contract_the_stack_file_does_not_name_is_smoked_and_said():
    transport = Accounts(sweden=Script(sonnet=[500]))
    report = run(transport, two_accounts(), deployments={"primary": ["opus"]})
    assert [(r.account, r.name) for r in report.results] == [("primary", "opus"), ("sweden", "sonnet")]
    primary, sweden = report.results
    assert primary.passed
    assert not primary.warnings
    assert not sweden.passed
    assert "500 server error from Foundry account 'acct-sc'" in sweden.diagnosis
    assert "account sweden (acct-sc) is in the contract read from Key Vault but not in the stack file" \
        in sweden.diagnosis
    passing = run(Accounts(), two_accounts(), deployments={"primary": ["opus"]})
    assert passing.passed  # a warning, not a failure
    assert "not in the stack file" in passing.results[1].warnings[0]
