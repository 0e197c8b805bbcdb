"""``claude-foundry doctor``: is this machine ready for the real deploy (``pulumi up`` against Azure)?

One :class:`Step` per prerequisite, each ``ok``, ``missing`` (a step to take: the command that takes it in
``fix``), ``warn`` (works, but read the detail) or ``skip`` (needs a step above first):

* ``python``: Python >= 3.10;
* ``extras``: what the real deploy imports (``[ops]``, which includes ``[infra]``), from the CLI's own table;
* ``pulumi``: the Pulumi CLI on ``PATH`` (``pulumi version``) at :data:`MIN_PULUMI` or newer;
* ``backend``: the Pulumi state backend (``$PULUMI_BACKEND_URL``, else ``pulumi whoami --json``);
* ``login``: a credential that gets a token for ARM (``DefaultAzureCredential``, or the sandbox's);
* ``subscription``: ``--subscription`` / ``$AZURE_SUBSCRIPTION_ID`` (what ``preflight`` reads), else the Azure
  CLI's default (``az account show``) with the export that makes the other commands use it;
* ``eligibility``: the subscription's type may deploy Claude (preflight's check, the catalogue's table).

Every wait is bounded: each subprocess by ``timeout`` (killed after it), its output cut to :data:`OUTPUT_LIMIT`,
the token by :func:`claude_foundry._azure.target.arm_login`, ARM calls by a :class:`Target` with short bounds.
Without a credential or a network the ``login`` step says so once; the steps that need it are ``skip``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

OK, MISSING, WARN, SKIP = "ok", "missing", "warn", "skip"

#: The oldest Python claude-foundry supports (pyproject.toml ``requires-python``).
MIN_PYTHON = (3, 10)

#: The oldest Pulumi CLI the program is run with: pulumi-azure-native 3.29 (the floor of pyproject.toml's range)
#: requires the Pulumi Python SDK >= 3.231.0 (its package metadata, ``Requires-Dist: pulumi>=3.231.0``), and the
#: CLI that hosts a program should be at least as new as the SDK it runs (Pulumi releases them together).
MIN_PULUMI = (3, 231, 0)

#: Seconds one subprocess (``pulumi version``, ``pulumi whoami``, ``az account show``) may take.
COMMAND_TIMEOUT = 20.0
#: Bytes of a subprocess's output read (the rest is dropped).
OUTPUT_LIMIT = 64 * 1024

#: Pulumi's documented installs (https://www.pulumi.com/docs/install/): the script, Homebrew, Chocolatey / the MSI.
INSTALL_PULUMI = ("curl -fsSL https://get.pulumi.com | sh   (macOS: brew install pulumi/tap/pulumi; Windows: "
                  "choco install pulumi, or the MSI from https://www.pulumi.com/docs/install/); then: pulumi version")
LOGIN_BACKEND = ("pulumi login 'azblob://<container>?storage_account=<account>'   (state in Azure Blob storage; "
                 "or `pulumi login` for Pulumi Cloud)")


@dataclass
class Step:
    name: str
    status: str  # ok | missing | warn | skip
    detail: str
    fix: str = ""

    def to_json(self) -> dict[str, str]:
        return asdict(self)


@dataclass
class DoctorReport:
    steps: list[Step]
    #: the subscription checked (None: none found)
    subscription_id: str | None = None
    sandbox: bool = False
    facts: dict[str, Any] = field(default_factory=dict)  # pulumi version, backend url, ... (never a secret)

    @property
    def ready(self) -> bool:
        return not any(s.status == MISSING for s in self.steps)

    def step(self, name: str) -> Step:
        return next(s for s in self.steps if s.name == name)

    def to_json(self) -> dict[str, Any]:
        return {"ready": self.ready, "sandbox": self.sandbox, "subscription_id": self.subscription_id,
                "facts": self.facts, "steps": [s.to_json() for s in self.steps]}


# --- subprocesses, bounded ---------------------------------------------------------------------------


@dataclass
class Ran:
    """A finished (or stopped) subprocess: ``returncode`` None when it ran out of time and was killed."""

    returncode: int | None
    stdout: str
    stderr: str

    def first_line(self) -> str:
        for text in (self.stderr, self.stdout):
            for line in text.splitlines():
                if line.strip():
                    return line.strip()[:300]
        return f"exit {self.returncode}"


def run_bounded(argv: Sequence[str], timeout: float = COMMAND_TIMEOUT, limit: int = OUTPUT_LIMIT,
                env: dict[str, str] | None = None) -> Ran:
    """Run ``argv`` (no shell) for at most ``timeout`` seconds (then kill it) and read at most ``limit`` bytes of
    each of its outputs (kept in temporary files, so a chatty process never fills a pipe and stalls)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=out, stderr=err,  # noqa: S603
                                env=env)
        try:
            code: int | None = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            code = None

        def read(f: Any) -> str:
            f.seek(0)
            return f.read(limit).decode("utf-8", "replace")

        return Ran(code, read(out), read(err))


def _tool_env() -> dict[str, str]:
    """The environment for ``pulumi`` and ``az``: no update check, no colour, no prompt."""
    env = dict(os.environ)
    env.update({"PULUMI_SKIP_UPDATE_CHECK": "true", "NO_COLOR": "1", "PULUMI_NON_INTERACTIVE": "true",
                "AZURE_CORE_NO_COLOR": "true", "AZURE_CORE_ONLY_SHOW_ERRORS": "true"})
    return env


def _which(name: str, path: str | None = None) -> str | None:
    import shutil

    return shutil.which(name, path=path)


# --- the steps ---------------------------------------------------------------------------------------


def check_python(version: Sequence[int] = tuple(sys.version_info[:3])) -> Step:
    found = ".".join(str(v) for v in version[:3])
    want = ".".join(str(v) for v in MIN_PYTHON)
    if tuple(version[:2]) >= MIN_PYTHON:
        return Step("python", OK, f"Python {found} ({sys.executable})")
    return Step("python", MISSING, f"Python {found}; claude-foundry needs {want} or newer",
                f"install Python {want}+ (https://www.python.org/downloads/), then: python3 -m venv .venv")


def check_extras(missing: dict[str, list[str]], install: dict[str, str], required: Sequence[str]) -> Step:
    """``missing``: the import names each extra lacks (the CLI's ``missing_modules``); ``install``: the command
    that installs each extra; ``required``: the extras the real deploy needs."""
    lacking = [e for e in required if missing.get(e)]
    others = sorted(e for e, m in missing.items() if m and e not in required)
    have = sorted(e for e, m in missing.items() if not m)
    detail = f"installed: [{','.join(have)}]" if have else "only the core install"
    if others:
        detail += f"; not installed (not needed to deploy): [{','.join(others)}]"
    if lacking:
        gone = sorted({m for e in lacking for m in missing[e]})
        return Step("extras", MISSING, f"the deploy needs [{','.join(required)}]: {', '.join(gone)} not "
                                       f"importable; {detail}", install[lacking[-1]])
    return Step("extras", OK, detail)


_VERSION = re.compile(r"v?(\d+)\.(\d+)\.(\d+)")


def parse_version(text: str) -> tuple[int, int, int] | None:
    m = _VERSION.search(text or "")
    return (int(m[1]), int(m[2]), int(m[3])) if m else None


def check_pulumi(timeout: float = COMMAND_TIMEOUT, path: str | None = None) -> tuple[Step, str | None]:
    """The Pulumi CLI: on ``PATH`` (or ``path``), its version (``pulumi version``). Returns the step and the
    executable (None: not usable)."""
    exe = _which("pulumi", path)
    want = ".".join(map(str, MIN_PULUMI))
    if exe is None:
        return Step("pulumi", MISSING, "the Pulumi CLI is not on PATH", INSTALL_PULUMI), None
    try:
        ran = run_bounded([exe, "version"], timeout, env=_tool_env())
    except OSError as exc:
        return Step("pulumi", MISSING, f"{exe} does not run ({exc.__class__.__name__}: {exc.strerror or exc})",
                    INSTALL_PULUMI), None
    if ran.returncode is None:
        return Step("pulumi", MISSING, f"`pulumi version` did not answer within {timeout:g} s", INSTALL_PULUMI), None
    version = parse_version(ran.stdout) if ran.returncode == 0 else None
    if version is None:
        return Step("pulumi", MISSING, f"`pulumi version` failed: {ran.first_line()}", INSTALL_PULUMI), None
    found = ".".join(map(str, version))
    if version < MIN_PULUMI:
        return Step("pulumi", MISSING, f"Pulumi CLI {found} at {exe}; the program needs {want} or newer",
                    "curl -fsSL https://get.pulumi.com | sh   (installs the newest; or brew upgrade "
                    "pulumi/tap/pulumi, choco upgrade pulumi); then: pulumi version"), exe
    return Step("pulumi", OK, f"Pulumi CLI {found} ({exe})"), exe


def _safe_url(url: str) -> str:
    """A backend URL without user info, query or fragment (where a credential could sit)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<not a URL>"
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def check_backend(pulumi: str | None, timeout: float = COMMAND_TIMEOUT) -> Step:
    """The state backend: ``$PULUMI_BACKEND_URL``, else ``pulumi whoami --json`` (the stored login)."""
    env_url = os.environ.get("PULUMI_BACKEND_URL", "").strip()
    if env_url:
        return Step("backend", OK, f"PULUMI_BACKEND_URL: {_safe_url(env_url)}")
    if pulumi is None:
        return Step("backend", SKIP, "needs the Pulumi CLI (above)", LOGIN_BACKEND)
    try:
        ran = run_bounded([pulumi, "whoami", "--json"], timeout, env=_tool_env())
    except OSError as exc:
        return Step("backend", MISSING, f"`pulumi whoami` does not run ({exc.__class__.__name__})", LOGIN_BACKEND)
    if ran.returncode is None:
        return Step("backend", MISSING, f"`pulumi whoami` did not answer within {timeout:g} s (network, or a "
                                        "backend that is not reachable)", LOGIN_BACKEND)
    if ran.returncode != 0:
        return Step("backend", MISSING, f"not logged in to a state backend ({ran.first_line()})", LOGIN_BACKEND)
    try:
        data = json.loads(ran.stdout)
    except ValueError:
        data = None
    url = data.get("url") if isinstance(data, dict) else None
    if not isinstance(url, str) or not url:
        return Step("backend", WARN, "`pulumi whoami --json` did not name a backend URL", LOGIN_BACKEND)
    user = data.get("user") if isinstance(data, dict) else None
    who = f" as {user}" if isinstance(user, str) and user else ""
    return Step("backend", OK, f"{_safe_url(url)}{who}")


def check_login(credential: Any, timeout: float, sandbox: bool = False) -> Step:
    from claude_foundry._azure.errors import LOGIN_STEPS
    from claude_foundry._azure.target import arm_login

    what = "the sandbox's credential" if sandbox else "DefaultAzureCredential"
    login = arm_login(credential, timeout)
    if login.ok:
        return Step("login", OK, f"{what} gets a token for ARM")
    if login.problem == "no-credential":
        return Step("login", MISSING, login.detail, LOGIN_STEPS)
    if login.problem == "unreachable":
        return Step("login", MISSING, f"no network to Azure's login endpoint: {login.detail}",
                    "check the network or proxy (HTTPS_PROXY), then run doctor again")
    return Step("login", MISSING, login.detail, "check the network or proxy, then run doctor again")


def az_default_subscription(timeout: float = COMMAND_TIMEOUT) -> tuple[str | None, str]:
    """The Azure CLI's default subscription (``az account show``): ``(id, "")``, or ``(None, why not)``."""
    az = _which("az")
    if az is None:
        return None, "the Azure CLI is not on PATH"
    try:
        ran = run_bounded([az, "account", "show", "--output", "json"], timeout, env=_tool_env())
    except OSError as exc:
        return None, f"`az account show` does not run ({exc.__class__.__name__})"
    if ran.returncode != 0:
        return None, ("`az account show` did not answer in time" if ran.returncode is None
                      else f"`az account show`: {ran.first_line()}")
    try:
        data = json.loads(ran.stdout)
    except ValueError:
        return None, "`az account show` did not print JSON"
    sub = data.get("id") if isinstance(data, dict) else None
    return (sub, "") if isinstance(sub, str) and sub else (None, "`az account show` named no subscription")


def check_subscription(explicit: str | None, timeout: float) -> tuple[Step, str | None]:
    """Which subscription the ops commands will use: ``--subscription`` / ``$AZURE_SUBSCRIPTION_ID`` (what
    preflight reads), else the Azure CLI's default, which the ops commands do not read on their own."""
    from claude_foundry._azure.target import subscription_from_env

    sub = subscription_from_env(explicit)
    if sub:
        source = "--subscription" if explicit else (
            "AZURE_SUBSCRIPTION_ID" if os.environ.get("AZURE_SUBSCRIPTION_ID") else "ARM_SUBSCRIPTION_ID")
        return Step("subscription", OK, f"{sub} (from {source})"), sub
    sub, why = az_default_subscription(timeout)
    if sub:
        return Step("subscription", MISSING, f"{sub} is the Azure CLI's default, but preflight, verify and "
                                             "rotate-keys read --subscription or AZURE_SUBSCRIPTION_ID",
                    f"export AZURE_SUBSCRIPTION_ID={sub}"), sub
    return Step("subscription", MISSING, f"no subscription: not passed, AZURE_SUBSCRIPTION_ID not set, and {why}",
                "az account list --output table, then: export AZURE_SUBSCRIPTION_ID=<id>"), None


def check_eligibility(target: Any) -> Step:
    """Preflight's subscription check (its type against the catalogue's eligibility table), as a doctor step."""
    from claude_foundry._azure.caller import ArmCaller
    from claude_foundry._azure.errors import describe
    from claude_foundry._catalogue import load_catalogue
    from claude_foundry._ops import preflight

    try:
        with ArmCaller(target) as caller:
            check = preflight.check_subscription(caller, target.subscription_id, load_catalogue())
    except Exception as exc:  # the network, the token: the step says what and goes on
        return Step("eligibility", WARN, f"could not read the subscription's type: {describe(exc)}",
                    "run doctor again where ARM is reachable, or check the subscription's offer in the portal")
    status = {preflight.PASS: OK, preflight.WARN: WARN, preflight.FAIL: MISSING}[check.status]
    return Step("eligibility", status, check.reason, "" if status == OK else check.fix)


# --- all of it ---------------------------------------------------------------------------------------


def run_doctor(extras_step: Step, *, connection: dict[str, Any] | str | Path | None = None,
               subscription: str | None = None, timeout: float = COMMAND_TIMEOUT,
               credential: Any = None, has_mgmt: bool = True) -> DoctorReport:
    """Every step in order. ``extras_step``: made by the CLI (it owns the table of extras); ``connection``: the
    sandbox's connection file (its credential and subscription instead of Azure's); ``credential``: a credential
    to use instead of ``DefaultAzureCredential``; ``has_mgmt``: whether the management SDK the eligibility check
    needs (``[ops]``) is installed."""
    import dataclasses

    from claude_foundry._azure.target import Target, default_credential, sandbox_target

    steps = [check_python(), extras_step]
    pulumi_step, pulumi = check_pulumi(timeout)
    steps += [pulumi_step, check_backend(pulumi, timeout)]
    facts: dict[str, Any] = {"min_python": ".".join(map(str, MIN_PYTHON)),
                             "min_pulumi": ".".join(map(str, MIN_PULUMI))}
    short: dict[str, Any] = {"connect_timeout": min(10.0, timeout), "read_timeout": timeout, "retry_total": 1,
             "retry_backoff_max": 2.0, "call_timeout": timeout * 2}
    target: Target | None = None
    if connection is not None:
        target = dataclasses.replace(sandbox_target(connection), **short)
        cred = target.credential
        sub_step = Step("subscription", OK, f"{target.subscription_id} (the sandbox's)")
        sub: str | None = target.subscription_id
    else:
        sub_step, sub = check_subscription(subscription, timeout)
        cred = credential if credential is not None else default_credential()
        if sub:
            target = Target(credential=cred, subscription_id=sub, **short)
    try:
        login = check_login(cred, timeout, connection is not None)
        steps += [login, sub_step]
        if login.status != OK:
            steps.append(Step("eligibility", SKIP, "needs the Azure login (above)"))
        elif target is None:
            steps.append(Step("eligibility", SKIP, "needs a subscription (above)"))
        elif not has_mgmt:
            steps.append(Step("eligibility", SKIP, "needs claude-foundry[ops] (above)"))
        else:
            steps.append(check_eligibility(target))
    finally:
        close = getattr(cred, "close", None)
        if close is not None:
            close()
    return DoctorReport(steps, subscription_id=sub, sandbox=connection is not None, facts=facts)
