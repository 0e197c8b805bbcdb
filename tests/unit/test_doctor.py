"""``claude-foundry doctor`` on this machine: a fake ``pulumi`` written by the test on PATH (or none), fake or absent
Azure credentials; and ``preflight`` without a credential saying so once. No network: DefaultAzureCredential is
held to its developer credentials (AZURE_TOKEN_CREDENTIALS=dev), none of which exists here."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from claude_foundry import cli
from claude_foundry._azure.target import arm_login
from claude_foundry._ops import doctor
from claude_foundry.cli import exit_code
from fakepulumi import fake_pulumi

ROOT = Path(__file__).resolve().parents[2]
STACK = str(ROOT / "stacks" / "dev.yaml")
SECRET_TOKEN = "eyJ-not-a-real-token-but-secret"


class FakeCredential:
    def __init__(self, error: Exception | None = None, delay: float = 0.0) -> None:
        self.error, self.delay, self.closed = error, delay, False

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        assert scopes == ("https://management.azure.com/.default",)
        time.sleep(self.delay)
        if self.error is not None:
            raise self.error
        return AccessToken(SECRET_TOKEN, int(time.time()) + 3600)

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """PATH holds only a directory of the test's own (no real pulumi or az), HOME is empty, no Azure variables,
    DefaultAzureCredential limited to the developer credentials (no managed identity probe: no network)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for name in list(os.environ):
        if name.startswith(("AZURE_", "ARM_", "PULUMI_", "IDENTITY_", "MSI_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AZURE_TOKEN_CREDENTIALS", "dev")
    return bin_dir


def step(report: doctor.DoctorReport, name: str) -> doctor.Step:
    return report.step(name)


def extras_ok() -> doctor.Step:
    return doctor.Step("extras", doctor.OK, "installed: [ops]")


# --- Pulumi CLI and backend --------------------------------------------------------------------------------


def test_fake_pulumi_new_enough_and_logged_in(machine: Path) -> None:
    fake_pulumi(machine)
    found, exe = doctor.check_pulumi(5)
    assert (found.status, exe) == (doctor.OK, str(machine / "pulumi"))
    assert "3.240.0" in found.detail
    backend = doctor.check_backend(exe, 5)
    assert backend.status == doctor.OK
    assert backend.detail == "azblob://pulumi-state as platform@contoso.example"  # the query string is dropped


def test_no_pulumi_on_path(machine: Path) -> None:
    found, exe = doctor.check_pulumi(5)
    assert (found.status, exe) == (doctor.MISSING, None)
    assert found.fix == doctor.INSTALL_PULUMI
    backend = doctor.check_backend(exe, 5)
    assert backend.status == doctor.SKIP


def test_pulumi_older_than_the_minimum(machine: Path) -> None:
    fake_pulumi(machine, version="v3.100.0")
    found, _ = doctor.check_pulumi(5)
    assert found.status == doctor.MISSING
    assert "3.100.0" in found.detail
    assert ".".join(map(str, doctor.MIN_PULUMI)) in found.detail
    assert "get.pulumi.com" in found.fix


def test_pulumi_that_hangs_is_stopped(machine: Path) -> None:
    fake_pulumi(machine, sleep=30)
    started = time.monotonic()
    found, exe = doctor.check_pulumi(0.5)
    assert time.monotonic() - started < 10
    assert (found.status, exe) == (doctor.MISSING, None)
    assert "within 0.5 s" in found.detail


def test_not_logged_in_to_a_backend(machine: Path) -> None:
    exe = fake_pulumi(machine, whoami_exit=255)
    backend = doctor.check_backend(str(exe), 5)
    assert backend.status == doctor.MISSING
    assert backend.fix == doctor.LOGIN_BACKEND
    assert "PULUMI_ACCESS_TOKEN" in backend.detail  # pulumi's own reason, first line


def test_backend_url_from_the_environment_without_its_secrets(machine: Path, monkeypatch) -> None:
    monkeypatch.setenv("PULUMI_BACKEND_URL", "https://user:s3cret@state.example/x?sig=abc")
    backend = doctor.check_backend(None, 5)
    assert backend.status == doctor.OK
    assert "s3cret" not in backend.detail
    assert "sig=abc" not in backend.detail
    assert "state.example/x" in backend.detail


def test_output_is_read_up_to_the_limit(machine: Path) -> None:
    ran = doctor.run_bounded([sys.executable, "-c", "print('x' * 100000)"], 10, limit=1000)
    assert ran.returncode == 0
    assert len(ran.stdout) == 1000


# --- Python, extras --------------------------------------------------------------------------------------


def test_python_version() -> None:
    assert doctor.check_python((3, 10, 0)).status == doctor.OK
    old = doctor.check_python((3, 9, 18))
    assert old.status == doctor.MISSING
    assert "3.10" in old.fix


def test_extras_from_the_cli_table(monkeypatch) -> None:
    from claude_foundry.cli import _doctor as doctor_cli

    monkeypatch.setattr(cli, "missing_modules",
                        lambda extras: ["azure.mgmt.resource"] if "ops" in extras else [])
    found = doctor_cli.extras_step()
    assert found.status == doctor.MISSING
    assert found.fix == cli.install_hint(["ops"])
    assert "azure.mgmt.resource" in found.detail
    monkeypatch.setattr(cli, "missing_modules", lambda extras: ["starlette"] if "sandbox" in extras else [])
    found = doctor_cli.extras_step()
    assert found.status == doctor.OK  # the sandbox is not needed to deploy
    assert "[sandbox]" in found.detail


# --- login -----------------------------------------------------------------------------------------------


def test_login_gets_a_token_and_drops_it() -> None:
    login = arm_login(FakeCredential(), 5)
    assert login.ok
    assert login.problem == ""
    assert SECRET_TOKEN not in repr(login)


def test_login_bounded_in_time() -> None:
    started = time.monotonic()
    login = arm_login(FakeCredential(delay=5), 0.3)
    assert time.monotonic() - started < 3
    assert (login.ok, login.problem) == (False, "timeout")


def test_login_unreachable_is_the_network() -> None:
    from azure.core.exceptions import ServiceRequestError

    login = arm_login(FakeCredential(ServiceRequestError("Name or service not known")), 5)
    assert (login.ok, login.problem) == (False, "unreachable")


# --- the whole report, through the CLI ----------------------------------------------------------------------


def test_ready_with_a_fake_pulumi_and_a_credential(machine: Path, monkeypatch, capsys) -> None:
    fake_pulumi(machine)
    cred = FakeCredential()
    report = doctor.run_doctor(extras_ok(), subscription="11111111-2222-3333-4444-555555555555", timeout=5,
                               credential=cred, has_mgmt=False)
    statuses = {s.name: s.status for s in report.steps}
    assert statuses == {"python": "ok", "extras": "ok", "pulumi": "ok", "backend": "ok", "login": "ok",
                        "subscription": "ok", "eligibility": "skip"}
    assert report.ready
    assert report.subscription_id == "11111111-2222-3333-4444-555555555555"
    assert cred.closed
    assert SECRET_TOKEN not in json.dumps(report.to_json())


def test_no_credentials_said_once(machine: Path, capsys) -> None:
    """The real DefaultAzureCredential with nothing to log in with: the login step says so once, in plain words
    with the commands; the steps that need it are skipped, not failed again; exit 1."""
    fake_pulumi(machine)
    assert cli.main(["doctor", "--subscription", "11111111-2222-3333-4444-555555555555", "--timeout", "15"]) == 1
    out, err = capsys.readouterr()
    assert out.count("no Azure credential is available") == 1
    assert out.count("az login") == 1
    assert "DefaultAzureCredential failed to retrieve a token" not in err  # its log warnings stay off the terminal
    assert "Attempted credentials" not in out + err
    assert "not ready: 1 step(s) missing (login)" in out

    assert cli.main(["doctor", "--subscription", "11111111-2222-3333-4444-555555555555", "--format", "json"]) == 1
    data = json.loads(capsys.readouterr().out)
    by_name = {s["name"]: s for s in data["steps"]}
    assert data["ready"] is False
    assert by_name["login"]["status"] == "missing"
    assert by_name["login"]["fix"].startswith("`az login`")
    assert by_name["eligibility"]["status"] == "skip"
    assert [s["name"] for s in data["steps"] if s["status"] == "missing"] == ["login"]


def test_no_subscription_anywhere(machine: Path, capsys) -> None:
    fake_pulumi(machine)
    report = doctor.run_doctor(extras_ok(), timeout=5, credential=FakeCredential(), has_mgmt=True)
    sub = step(report, "subscription")
    assert sub.status == doctor.MISSING
    assert "AZURE_SUBSCRIPTION_ID" in sub.fix
    assert step(report, "eligibility").status == doctor.SKIP


def test_the_azure_cli_default_subscription_needs_exporting(machine: Path) -> None:
    az = machine / "az"
    az.write_text(f"#!{sys.executable}\nimport json\nprint(json.dumps({{'id': 'abcd-ef', 'isDefault': True}}))\n",
                  encoding="utf-8")
    az.chmod(0o755)
    found, sub = doctor.check_subscription(None, 5)
    assert sub == "abcd-ef"
    assert found.status == doctor.MISSING
    assert found.fix == "export AZURE_SUBSCRIPTION_ID=abcd-ef"


def test_sandbox_and_subscription_are_exclusive(capsys) -> None:
    assert cli.main(["doctor", "--sandbox", "x.json", "--subscription", "s"]) == 2
    assert "exclusive" in capsys.readouterr().err


# --- preflight without a credential -----------------------------------------------------------------------


def test_preflight_without_a_credential_says_so_once(machine: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("AZURE_SUBSCRIPTION_ID", "11111111-2222-3333-4444-555555555555")
    assert cli.main(["preflight", STACK]) == 2
    out, err = capsys.readouterr()
    assert err.count("\n") == 1
    assert err.startswith("error: no Azure credential is available")
    assert "az login" in err
    assert "AZURE_CLIENT_SECRET" in err
    assert "unexpected error" not in out + err
    assert "Attempted credentials" not in err


def test_preflight_stops_at_the_first_credential_failure(monkeypatch) -> None:
    """The root of the eight identical lines: each check caught the credential error by itself. Now the first
    one ends the run (a 401 from ARM too, worded as a refusal)."""
    from azure.core.exceptions import ClientAuthenticationError

    from claude_foundry._azure.errors import NoCredential
    from claude_foundry._ops import preflight

    calls: list[str] = []

    class Refused:
        status_code = 401

    def refuse(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append("call")
        raise ClientAuthenticationError("InvalidAuthenticationToken", response=None)

    pf = object.__new__(preflight.Preflight)
    pf.accounts, pf.spec = [], None
    monkeypatch.setattr(preflight.Preflight, "check_subscription", refuse)
    monkeypatch.setattr(preflight, "check_provider_data", lambda bodies: preflight.Check("provider-data", "pass", ""))
    with pytest.raises(NoCredential) as info:
        pf.run()
    assert calls == ["call"]
    assert exit_code(info.value) == 2
    exc = ClientAuthenticationError("token rejected")
    exc.response = Refused()  # type: ignore[assignment]
    from claude_foundry._azure.errors import no_credential

    assert str(no_credential(exc)).startswith("Azure refused the credential (401: token rejected)")


def test_doctor_runs_on_the_core_install(machine: Path, monkeypatch, capsys) -> None:
    """Every extra missing (the core install): doctor still runs, names [ops] with the command, skips the
    eligibility step (it needs the management SDK) instead of failing on it."""
    from test_extras import OPTIONAL, _Blocker

    monkeypatch.setattr(sys, "meta_path", [_Blocker(OPTIONAL), *sys.meta_path])
    for mod in list(sys.modules):
        if any(mod == n or mod.startswith(n + ".") for n in OPTIONAL):
            monkeypatch.setitem(sys.modules, mod, None)
    fake_pulumi(machine)
    monkeypatch.setattr(doctor, "check_login", lambda *a, **k: doctor.Step("login", doctor.OK, "a token"))
    assert cli.main(["doctor", "--subscription", "11111111-2222-3333-4444-555555555555", "--format", "json"]) == 1
    data = json.loads(capsys.readouterr().out)
    by_name = {s["name"]: s for s in data["steps"]}
    assert by_name["extras"]["status"] == "missing"
    assert by_name["extras"]["fix"] == "pip install 'claude-foundry[ops]'"
    assert by_name["eligibility"] == {"name": "eligibility", "status": "skip",
                                      "detail": "needs claude-foundry[ops] (above)", "fix": ""}
