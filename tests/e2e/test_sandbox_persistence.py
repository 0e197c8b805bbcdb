"""State survives a restart with ``persist_file``; the CA in the state directory is reused."""

from __future__ import annotations

import json
import ssl

import pytest

from claude_foundry._azure import arm
from claude_foundry_sandbox import Sandbox, SandboxConfig
from claude_foundry_sandbox.testing import deployment_body

pytestmark = pytest.mark.e2e


def _clients(conn):
    from azure.identity import ClientSecretCredential
    from azure.mgmt.cognitiveservices import CognitiveServicesManagementClient
    from azure.mgmt.resource.resources import ResourceManagementClient

    cred = ClientSecretCredential(conn["tenant_id"], conn["client_id"], conn["client_secret"],
                                  authority=conn["authority"], disable_instance_discovery=True,
                                  connection_verify=conn["ca_bundle"])
    kw = {"base_url": conn["arm_endpoint"], "credential_scopes": [conn["arm_scope"]],
          "connection_verify": conn["ca_bundle"]}
    return (cred, ResourceManagementClient(cred, conn["subscription_id"], **kw),
            CognitiveServicesManagementClient(cred, conn["subscription_id"], **kw))


def test_state_survives_restart(tmp_path):
    from azure.keyvault.secrets import SecretClient

    persist = tmp_path / "state.json"
    config = SandboxConfig(state_dir=tmp_path / "run", persist_file=persist)
    with Sandbox(config) as sb:
        conn = sb.connection
        cred, rm, cs = _clients(conn)
        rm.resource_groups.create_or_update("rg-p", {"location": "eastus2"})
        cs.accounts.begin_create("rg-p", "acct-p", {"location": "eastus2", "kind": arm.ACCOUNT_KIND,
                                                    "sku": {"name": "S0"},
                                                    "properties": {"customSubDomainName": "acct-p"}}).result()
        cs.deployments.begin_create_or_update("rg-p", "acct-p", "d", json.dumps(deployment_body()).encode(),
                                              api_version=arm.DEPLOYMENT_API_VERSION).result()
        key = cs.accounts.list_keys("rg-p", "acct-p").key1
        vid = arm.vault_id(conn["subscription_id"], "rg-p", "kv-persist")
        rm.resources.begin_create_or_update_by_id(vid, {"location": "eastus2", "properties": {
            "tenantId": conn["tenant_id"], "sku": {"family": "A", "name": "standard"},
            "enableRbacAuthorization": True}}, api_version="2023-07-01").result()
        sb.grant(conn["principal_id"], "key-vault-secrets-officer", vid)
        with SecretClient(sb.vault_url("kv-persist"), cred, connection_verify=conn["ca_bundle"]) as sc:
            sc.set_secret("kept", "value-1")
        for c in (rm, cs, cred):
            c.close()
    assert persist.is_file()

    with Sandbox(config) as sb2:
        conn2 = sb2.connection
        assert {k: conn2[k] for k in ("tenant_id", "client_id", "client_secret", "subscription_id", "principal_id")} \
            == {k: conn[k] for k in ("tenant_id", "client_id", "client_secret", "subscription_id", "principal_id")}
        assert conn2["ca_bundle"] == conn["ca_bundle"]
        cred, rm, cs = _clients(conn2)
        assert cs.accounts.get("rg-p", "acct-p").properties.provisioning_state == "Succeeded"
        assert [d.name for d in cs.deployments.list("rg-p", "acct-p")] == ["d"]
        assert cs.accounts.list_keys("rg-p", "acct-p").key1 == key
        vault = rm.resources.get_by_id(vid, api_version="2023-07-01")
        assert vault["properties"]["vaultUri"] == sb2.vault_url("kv-persist")
        with SecretClient(vault["properties"]["vaultUri"], cred, connection_verify=conn2["ca_bundle"]) as sc:
            assert sc.get_secret("kept").value == "value-1"
        import anthropic

        http = anthropic.DefaultHttpxClient(verify=ssl.create_default_context(cafile=conn2["ca_bundle"]))
        client = anthropic.AnthropicFoundry(api_key=key, base_url=sb2.foundry_base_url("acct-p"), http_client=http,
                                            max_retries=0)
        assert client.messages.create(model="d", max_tokens=8, messages=[{"role": "user", "content": "x"}]).content
        http.close()
        for c in (rm, cs, cred):
            c.close()


def test_seed_file(tmp_path):
    seed = tmp_path / "seed.yaml"
    seed.write_text("quota:\n  GlobalStandard/claude-sonnet-4-6: 3\ntaken_subdomains: [taken-name]\n"
                    "models_by_location:\n  eastus2: [claude-sonnet-4-6]\n", encoding="utf-8")
    with Sandbox(SandboxConfig(seed=str(seed))) as sb:
        st = sb.state
        assert st.quota_limit("GlobalStandard", "claude-sonnet-4-6") == 3
        assert st.models_in("eastus2") == ["claude-sonnet-4-6"]
        assert "taken-name" in st.taken_subdomains


def test_bad_seed_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown seed key"):
        Sandbox(SandboxConfig(seed={"quotas": {}}))
