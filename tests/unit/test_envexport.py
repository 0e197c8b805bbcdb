"""Unit tests of the env export: variable choice, family pinning, quoting, private files, the CLI."""

from __future__ import annotations

import json
import os
import shlex
import stat
import subprocess

import pytest

from claude_foundry import _contract as c
from claude_foundry import cli
from claude_foundry._client import _sources, envexport
from claude_foundry._client import runtime as rt

KEY = "env-unit-key-abcdef0123456789"


def dep(model: str, family: str = "") -> c.DeploymentInfo:
    return c.DeploymentInfo(model=model, version="1", family=family)


def contract(**kw) -> c.Contract:
    base = {
        "resource": "acct",
        "base_url": "https://acct.services.ai.azure.com/anthropic",
        "api_key": KEY,
        "deployments": {
            "opus-old": dep("claude-opus-4-1", "opus"),
            "opus-new": dep("claude-opus-4-6", "opus"),
            "sonnet": dep("claude-sonnet-4-5"),  # family from the catalogue
            "haiku-b": dep("claude-haiku-4-5", "haiku"),
            "haiku-a": dep("claude-haiku-4-5", "haiku"),
        },
    }
    base.update(kw)
    return c.Contract(**base)


def test_standard_url_gives_resource_only():
    v = envexport.env_vars(contract())
    assert v[c.ENV_RESOURCE] == "acct"
    assert c.ENV_BASE_URL not in v
    assert v[c.ENV_CLAUDE_CODE_USE_FOUNDRY] == "1"
    assert c.ENV_API_KEY not in v


def test_a_base_url_for_every_client_on_real_azure_too():
    """The anthropic SDKs and Claude Code take the resource name; LiteLLM, LangChain, the Vercel AI SDK and curl
    need a URL: CLAUDE_FOUNDRY_BASE_URL carries it whichever form the SDK variables take."""
    azure = envexport.env_vars(contract())
    assert azure[c.ENV_CLIENT_BASE_URL] == "https://acct.services.ai.azure.com/anthropic"
    assert azure[c.ENV_CLIENT_BASE_URL] == c.foundry_base_url(azure[c.ENV_RESOURCE])
    sandbox = envexport.env_vars(contract(base_url="https://127.0.0.1:8443/foundry/acct/anthropic/"))
    assert sandbox[c.ENV_CLIENT_BASE_URL] == sandbox[c.ENV_BASE_URL] == "https://127.0.0.1:8443/foundry/acct/anthropic"
    assert c.ENV_CLIENT_BASE_URL not in c.RUNTIME_ENV_VARS  # an export for clients, never read back by the runtime


def test_claude_code_settings_block_holds_what_claude_code_reads(tmp_path):
    v = envexport.env_vars(contract(), with_key=True, ca_bundle=tmp_path / "ca.pem")
    settings = json.loads(envexport.render(v, "claude-code"))
    assert list(settings) == ["env"]
    env = settings["env"]
    assert env[c.ENV_CLAUDE_CODE_USE_FOUNDRY] == "1"
    assert env[c.ENV_RESOURCE] == "acct"
    assert env[c.ENV_API_KEY] == v[c.ENV_API_KEY]
    assert env["NODE_EXTRA_CA_CERTS"] == str(tmp_path / "ca.pem")
    assert {k for k in env if k.startswith("ANTHROPIC_DEFAULT_")} == {
        k for k in v if k.startswith("ANTHROPIC_DEFAULT_")}
    assert not {c.ENV_DEPLOYMENTS, c.ENV_CLIENT_BASE_URL, c.ENV_CA_BUNDLE} & set(env)  # not Claude Code's


def test_sandbox_url_gives_base_url_only():
    v = envexport.env_vars(contract(base_url="https://127.0.0.1:8443/foundry/acct/anthropic"))
    assert v[c.ENV_BASE_URL] == "https://127.0.0.1:8443/foundry/acct/anthropic"
    assert c.ENV_RESOURCE not in v


def test_family_pinning_newest_then_name():
    v = envexport.env_vars(contract())
    assert v["ANTHROPIC_DEFAULT_OPUS_MODEL"] == "opus-new"
    assert v["ANTHROPIC_DEFAULT_SONNET_MODEL"] == "sonnet"
    assert v["ANTHROPIC_DEFAULT_HAIKU_MODEL"] == "haiku-a"


def test_family_pinning_prefers_given_deployment():
    v = envexport.env_vars(contract(), deployment="opus-old")
    assert v["ANTHROPIC_DEFAULT_OPUS_MODEL"] == "opus-old"
    assert v["ANTHROPIC_DEFAULT_HAIKU_MODEL"] == "haiku-a"


def test_unknown_preferred_deployment():
    with pytest.raises(envexport.EnvExportError, match="known deployments: haiku-a"):
        envexport.env_vars(contract(), deployment="nope")


def test_key_only_when_asked_and_never_for_entra():
    assert envexport.env_vars(contract(), with_key=True)[c.ENV_API_KEY] == KEY
    entra = contract(auth_mode=c.AUTH_MODE_ENTRA, api_key=None)
    assert c.ENV_API_KEY not in envexport.env_vars(entra, with_key=True)


def test_sh_quoting_survives_a_shell(tmp_path):
    v = {"A": "it's $HOME `x` \"q\"", "B": "plain"}
    script = envexport.render(v, "sh") + 'printf "%s|%s" "$A" "$B"'
    out = subprocess.run(["/bin/sh", "-c", script], capture_output=True, text=True, check=True).stdout  # noqa: S603
    assert out == "it's $HOME `x` \"q\"|plain"
    assert envexport.render(v, "dotenv").startswith("A=" + shlex.quote(v["A"]))


def test_write_private_is_0600_and_replaces(tmp_path):
    path = tmp_path / "foundry.env"
    path.write_text("old")
    os.chmod(path, 0o644)
    envexport.write_private(path, "A=1\n")
    assert path.read_text() == "A=1\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["foundry.env"]


# --- the CLI, with a fake Key Vault ---------------------------------------------------------------


class FakeSecretClient:
    vault_url = "https://kv.vault.azure.net"

    def __init__(self, secrets):
        self.secrets = secrets

    def close(self):
        pass

    def get_secret(self, name):
        from azure.core.exceptions import ResourceNotFoundError

        if name not in self.secrets:
            raise ResourceNotFoundError("not found")

        class S:
            value = self.secrets[name]
        return S()


@pytest.fixture
def vault(monkeypatch):
    for name in (c.ENV_API_KEY, c.ENV_RESOURCE, c.ENV_BASE_URL, c.ENV_DEPLOYMENTS, c.ENV_VAULT_URL,
                 c.ENV_CA_BUNDLE):
        monkeypatch.delenv(name, raising=False)
    rt.clear_contract_cache()
    names = c.SecretNames()
    secrets = {
        names.endpoint: "https://acct.services.ai.azure.com/anthropic",
        names.resource: "acct",
        names.deployments: c.dump_deployment_map(contract().deployments),
        names.auth_mode: "key",
        names.api_key: KEY,
    }
    monkeypatch.setattr(_sources, "_secret_client", lambda *a: FakeSecretClient(secrets))
    monkeypatch.setattr(_sources, "default_credential", lambda ca=None: object())
    yield secrets
    rt.clear_contract_cache()


def test_cli_env_sh_without_key(vault, capsys):
    assert cli.main(["env", "--vault-url", "https://kv.vault.azure.net"]) == 0
    out, err = capsys.readouterr()
    assert "export ANTHROPIC_FOUNDRY_RESOURCE=acct" in out
    assert "export ANTHROPIC_DEFAULT_OPUS_MODEL=opus-new" in out
    assert KEY not in out + err


def test_cli_env_with_key_write(vault, capsys, tmp_path):
    target = tmp_path / "f.env"
    assert cli.main(["env", "--vault-url", "https://kv.vault.azure.net", "--with-key", "--write",
                     str(target)]) == 0
    out, err = capsys.readouterr()
    assert KEY not in out + err
    assert f"ANTHROPIC_FOUNDRY_API_KEY={KEY}" in target.read_text()
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_cli_env_json_is_public_contract(vault, capsys):
    assert cli.main(["env", "--vault-url", "https://kv.vault.azure.net", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["resource"] == "acct"
    assert data["env"][c.ENV_RESOURCE] == "acct"
    assert KEY not in json.dumps(data)
    assert rt.contract_from_json(data).deployments == contract().deployments


def test_cli_env_claude_code_with_key_only_into_a_file(vault, capsys, tmp_path):
    assert cli.main(["env", "--vault-url", "https://kv.vault.azure.net", "--format", "claude-code", "--with-key"]) == 2
    err = capsys.readouterr()
    assert "--write" in err.err
    assert KEY not in err.out + err.err
    target = tmp_path / "settings.local.json"
    assert cli.main(["env", "--vault-url", "https://kv.vault.azure.net", "--format", "claude-code", "--with-key",
                     "--write", str(target)]) == 0
    assert (target.stat().st_mode & 0o777) == 0o600
    assert json.loads(target.read_text(encoding="utf-8"))["env"][c.ENV_API_KEY] == KEY
    assert KEY not in capsys.readouterr().out


def test_cli_env_json_with_key_refused(vault, capsys):
    assert cli.main(["env", "--vault-url", "https://kv.vault.azure.net", "--format", "json",
                     "--with-key"]) == 2
    assert "never holds the key" in capsys.readouterr().err


def test_cli_env_entra_stack_with_key_prints_nothing_secret(vault, capsys):
    names = c.SecretNames()
    vault[names.auth_mode] = "entra"
    del vault[names.api_key]
    assert cli.main(["env", "--vault-url", "https://kv.vault.azure.net", "--with-key"]) == 0
    out, err = capsys.readouterr()
    assert c.ENV_API_KEY not in out
    assert "Entra ID" in err


def test_cli_env_unknown_deployment(vault, capsys):
    assert cli.main(["env", "--vault-url", "https://kv.vault.azure.net", "--deployment", "zzz"]) == 2
    assert "known deployments" in capsys.readouterr().err


def test_cli_env_needs_vault(vault, capsys):
    assert cli.main(["env"]) == 2
    assert "--vault-url" in capsys.readouterr().err


# --- Claude Code capabilities, display names and the sandbox CA -----------------------------------------


@pytest.mark.parametrize(("model", "tokens"), [
    ("claude-sonnet-4-5", "thinking,interleaved_thinking"),
    ("claude-haiku-4-5", "thinking,interleaved_thinking"),
    ("claude-opus-4-5", "effort,thinking,interleaved_thinking"),
    ("claude-opus-4-6", "effort,max_effort,thinking,adaptive_thinking,interleaved_thinking"),
    ("claude-opus-5-5", "effort,xhigh_effort,max_effort,thinking,adaptive_thinking,interleaved_thinking,"
                        "mid_conversation_system"),
    ("claude-fable-5", "effort,xhigh_effort,thinking,adaptive_thinking,interleaved_thinking"),
])
def test_claude_code_capabilities_follow_the_catalogue(model, tokens):
    from claude_foundry._catalogue import load_catalogue

    assert ",".join(envexport.claude_code_capabilities(load_catalogue().models[model].capabilities)) == tokens


def test_capabilities_names_and_context_per_pinned_family():
    out = envexport.env_vars(contract())
    assert out["ANTHROPIC_DEFAULT_OPUS_MODEL"] == "opus-new"
    assert out["ANTHROPIC_DEFAULT_OPUS_MODEL_SUPPORTED_CAPABILITIES"] == \
        "effort,max_effort,thinking,adaptive_thinking,interleaved_thinking"
    assert out["ANTHROPIC_DEFAULT_OPUS_MODEL_NAME"] == "opus-new (claude-opus-4-6)"
    assert out["ANTHROPIC_DEFAULT_OPUS_MODEL_DESCRIPTION"] == "claude-opus-4-6 version 1 on Microsoft Foundry"
    assert out["ANTHROPIC_DEFAULT_SONNET_MODEL_SUPPORTED_CAPABILITIES"] == "thinking,interleaved_thinking"
    assert out["ANTHROPIC_DEFAULT_HAIKU_MODEL"] == "haiku-a"
    assert out["CLAUDE_CODE_MAX_CONTEXT_TOKENS"] == "200000"  # the smallest window of the pinned models
    # each capability variable follows its model variable
    keys = list(out)
    for family in ("OPUS", "SONNET", "HAIKU"):
        var = f"ANTHROPIC_DEFAULT_{family}_MODEL"
        assert keys.index(var + "_SUPPORTED_CAPABILITIES") == keys.index(var) + 1
    assert not any(k.startswith(("NODE_", "SSL_", "REQUESTS_")) for k in out)  # not a sandbox target


def test_a_deployment_named_like_its_model_and_fable_family():
    out = envexport.env_vars(contract(deployments={"claude-fable-5": dep("claude-fable-5", "fable")}))
    assert out["ANTHROPIC_DEFAULT_FABLE_MODEL"] == "claude-fable-5"
    assert out["ANTHROPIC_DEFAULT_FABLE_MODEL_NAME"] == "claude-fable-5"
    assert out["CLAUDE_CODE_MAX_CONTEXT_TOKENS"] == "1000000"


def test_unknown_model_leaves_claude_code_to_its_own_detection():
    out = envexport.env_vars(contract(deployments={"x": dep("claude-sonnet-9", "sonnet")}))
    assert out["ANTHROPIC_DEFAULT_SONNET_MODEL"] == "x"
    assert "ANTHROPIC_DEFAULT_SONNET_MODEL_SUPPORTED_CAPABILITIES" not in out
    assert "CLAUDE_CODE_MAX_CONTEXT_TOKENS" not in out


def test_sandbox_ca_and_combined_bundle(tmp_path):
    ca = tmp_path / "sandbox-ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\nSANDBOX\n-----END CERTIFICATE-----\n")
    combined = envexport.write_combined_bundle(ca)
    assert combined == tmp_path / envexport.COMBINED_BUNDLE_NAME
    text = combined.read_text()
    assert text.rstrip().endswith("SANDBOX\n-----END CERTIFICATE-----")
    system = envexport.system_ca_file()
    if system is not None:
        assert text.startswith(system.read_text()[:200])
        assert text.count("BEGIN CERTIFICATE") > 1
    out = envexport.env_vars(contract(), ca_bundle=ca, combined_bundle=combined)
    assert out["NODE_EXTRA_CA_CERTS"] == out[c.ENV_CA_BUNDLE] == str(ca)
    assert out["SSL_CERT_FILE"] == out["REQUESTS_CA_BUNDLE"] == str(combined)


def test_claude_code_managed_settings_hold_the_team_contract_and_no_credential():
    v = envexport.env_vars(contract(), with_key=True)
    v["ANTHROPIC_FOUNDRY_AUTH_TOKEN"] = "a-token-from-somewhere"
    managed = json.loads(envexport.render(v, "claude-code-managed"))
    assert managed["$schema"] == "https://json.schemastore.org/claude-code-settings.json"
    env = managed["env"]
    assert env[c.ENV_CLAUDE_CODE_USE_FOUNDRY] == "1"
    assert env[c.ENV_RESOURCE] == "acct"
    assert env["ANTHROPIC_DEFAULT_OPUS_MODEL"] == "opus-new"
    assert env["ANTHROPIC_DEFAULT_OPUS_MODEL_SUPPORTED_CAPABILITIES"] == \
        v["ANTHROPIC_DEFAULT_OPUS_MODEL_SUPPORTED_CAPABILITIES"]
    assert env["CLAUDE_CODE_MAX_CONTEXT_TOKENS"] == v["CLAUDE_CODE_MAX_CONTEXT_TOKENS"]
    assert c.ENV_API_KEY not in env
    assert "ANTHROPIC_FOUNDRY_AUTH_TOKEN" not in env
    assert KEY not in json.dumps(managed)
    assert not {c.ENV_DEPLOYMENTS, c.ENV_CLIENT_BASE_URL} & set(env)


def test_managed_settings_paths_are_claude_codes():
    assert envexport.MANAGED_SETTINGS_PATHS == {
        "linux": "/etc/claude-code/managed-settings.json",
        "macos": "/Library/Application Support/ClaudeCode/managed-settings.json",
        "windows": "C:\\Program Files\\ClaudeCode\\managed-settings.json",
    }


def test_cli_env_claude_code_managed_refuses_a_key(vault, capsys):
    assert cli.main(["env", "--vault-url", "https://kv.vault.azure.net", "--format", "claude-code-managed",
                     "--with-key"]) == 2
    err = capsys.readouterr()
    assert "never holds a key" in err.err
    assert KEY not in err.out + err.err
    assert cli.main(["env", "--vault-url", "https://kv.vault.azure.net", "--format", "claude-code-managed"]) == 0
    out = capsys.readouterr().out
    assert json.loads(out)["env"][c.ENV_RESOURCE] == "acct"
    assert KEY not in out


@pytest.mark.parametrize(("argv", "expected"), [([], None), (["--vault-timeout", "4.5"], 4.5)])
def test_env_passes_its_vault_timeout_to_the_runtime(argv: list[str], expected: float | None,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """`env --vault-timeout S` bounds the contract's Key Vault reads as `smoke --vault-timeout` does; without it the
    runtime's default applies (the keyword is not sent)."""
    from claude_foundry._client import targets
    from claude_foundry._errors import UserError

    seen: dict[str, object] = {}

    def resolve(target: object, **kwargs: object) -> object:
        seen.update(kwargs)
        raise UserError("stop here")

    monkeypatch.setattr(targets, "resolve_runtime", resolve)
    code = cli.main(["env", "--vault-url", "https://kv-example.vault.azure.net", *argv])
    assert code == 2
    assert "stop here" in capsys.readouterr().err
    assert seen.get("vault_timeout") == expected
