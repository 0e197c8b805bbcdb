"""Fixtures for end-to-end tests against the embedded sandbox over real HTTPS.

* ``sandbox``: the running ``Sandbox`` (session-scoped; provisioning delay 0).
* ``connection``: its connection dict (the connection file's content).
* ``credential``: a ``ClientSecretCredential`` for the sandbox's deployer principal (Owner of the subscription).
* ``arm_client_kwargs``: keyword arguments for any ``azure.mgmt`` client (``base_url``, ``credential_scopes``,
  ``connection_verify``): ``CognitiveServicesManagementClient(credential, sub, **arm_client_kwargs)``.
* ``ssl_context``: an ``ssl.SSLContext`` trusting only the sandbox CA (httpx and the anthropic SDK want a context;
  ``verify=<path>`` is deprecated there and ``filterwarnings=error`` turns that into a failure).
* ``make_credential``: a factory for a credential of another principal (from ``sandbox.add_principal()``).
* ``claude_account``: a resource group, an AIServices account and one Claude deployment, made once per session
  through the Azure SDKs; a dict with ``resource_group``, ``account``, ``subdomain``, ``deployment``, ``model``,
  ``base_url``, ``account_id``.
* ``provisioning_delay``: a function that sets the sandbox's provisioning delay for one test (restored after).
* ``demo_state_home`` (autouse): ``$XDG_STATE_HOME`` in the test's own temporary directory, so a ``demo`` (which
  keeps its sandbox in the per-user state directory, ``cli._local.demo_state_dir``) starts from nothing and
  leaves nothing in the user's home.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from claude_foundry._azure import arm

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from claude_foundry_sandbox import Sandbox, SandboxConfig
from claude_foundry_sandbox.testing import CLAUDE_MODEL, deployment_body, unique


@pytest.fixture(autouse=True)
def demo_state_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("xdg-state")))


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    state_dir = tmp_path_factory.mktemp("sandbox")
    # a quota of 5,000K TPM per model and region: the session's many stacks (several with two accounts) add up
    # past Azure's usual 1,000K, while a 10,000K deployment is still refused (test_sandbox_arm)
    seed = {"default_quota": 5000}
    with Sandbox(SandboxConfig(state_dir=state_dir, provisioning_delay=0.0, seed=seed)) as sb:
        yield sb


@pytest.fixture(scope="session")
def connection(sandbox: Sandbox) -> dict[str, Any]:
    return sandbox.connection


@pytest.fixture(scope="session")
def ssl_context(connection: dict[str, Any]) -> ssl.SSLContext:
    """Trusts the sandbox's CA only: for ``httpx``/``anthropic.DefaultHttpxClient(verify=...)``."""
    return ssl.create_default_context(cafile=connection["ca_bundle"])


@pytest.fixture(scope="session")
def make_credential(connection: dict[str, Any]) -> Iterator[Callable[..., Any]]:
    from azure.identity import ClientSecretCredential

    made: list[Any] = []

    def make(client_id: str | None = None, client_secret: str | None = None) -> Any:
        cred = ClientSecretCredential(connection["tenant_id"], client_id or connection["client_id"],
                                      client_secret or connection["client_secret"],
                                      authority=connection["authority"], disable_instance_discovery=True,
                                      connection_verify=connection["ca_bundle"])
        made.append(cred)
        return cred

    yield make
    for cred in made:
        cred.close()


@pytest.fixture(scope="session")
def credential(make_credential: Callable[..., Any]) -> Any:
    return make_credential()


@pytest.fixture(scope="session")
def arm_client_kwargs(connection: dict[str, Any]) -> dict[str, Any]:
    return {"base_url": connection["arm_endpoint"], "credential_scopes": [connection["arm_scope"]],
            "connection_verify": connection["ca_bundle"]}


@pytest.fixture(scope="session")
def cs_client(credential: Any, connection: dict[str, Any], arm_client_kwargs: dict[str, Any]) -> Iterator[Any]:
    from azure.mgmt.cognitiveservices import CognitiveServicesManagementClient

    client = CognitiveServicesManagementClient(credential, connection["subscription_id"], **arm_client_kwargs)
    yield client
    client.close()


@pytest.fixture(scope="session")
def rm_client(credential: Any, connection: dict[str, Any], arm_client_kwargs: dict[str, Any]) -> Iterator[Any]:
    from azure.mgmt.resource.resources import ResourceManagementClient

    client = ResourceManagementClient(credential, connection["subscription_id"], **arm_client_kwargs)
    yield client
    client.close()


@pytest.fixture(scope="session")
def claude_account(sandbox: Sandbox, cs_client: Any, rm_client: Any) -> dict[str, Any]:
    rg = unique("rg-e2e-")
    name = unique("cf-e2e-")
    rm_client.resource_groups.create_or_update(rg, {"location": "eastus2"})
    cs_client.accounts.begin_create(rg, name, {
        "location": "eastus2", "kind": arm.ACCOUNT_KIND, "sku": {"name": arm.ACCOUNT_SKU},
        "properties": {"customSubDomainName": name, "publicNetworkAccess": "Enabled"}}).result()
    deployment = "claude-sonnet"
    cs_client.deployments.begin_create_or_update(
        rg, name, deployment, json.dumps(deployment_body(capacity=5)).encode(),
        api_version=arm.DEPLOYMENT_API_VERSION).result()
    return {"resource_group": rg, "account": name, "subdomain": name, "deployment": deployment,
            "model": CLAUDE_MODEL, "base_url": sandbox.foundry_base_url(name),
            "account_id": arm.account_id(sandbox.state.subscription_id, rg, name)}


@pytest.fixture
def provisioning_delay(sandbox: Sandbox) -> Iterator[Callable[[float], None]]:
    before = sandbox.provisioning_delay

    def set_delay(seconds: float) -> None:
        sandbox.provisioning_delay = seconds

    yield set_delay
    sandbox.provisioning_delay = before




@pytest.fixture(scope="module")
def conn_file(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The sandbox's connection file, as `--sandbox FILE` takes it."""
    return str(sandbox.write_connection_file(tmp_path_factory.mktemp("conn") / "sandbox.json"))


@pytest.fixture(scope="module")
def http_client(ssl_context: ssl.SSLContext) -> Iterator[Any]:
    """The anthropic SDK's own HTTP client trusting the sandbox CA (what AnthropicFoundry takes as http_client)."""
    import anthropic

    client = anthropic.DefaultHttpxClient(verify=ssl_context)
    yield client
    client.close()


@pytest.fixture(scope="module")
def account_key(cs_client: Any, claude_account: dict[str, Any]) -> str:
    """key1 of the session's Claude account, read through ARM."""
    return str(cs_client.accounts.list_keys(claude_account["resource_group"], claude_account["account"]).key1)
