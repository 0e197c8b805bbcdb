"""Benchmark the smoke test's concurrency and the runtime's cold path against the local sandbox.

    .venv/bin/python scripts/bench_smoke.py [--latency 0.3] [--repeat 3]

* smoke of 1 deployment vs 20 deployments, each call delayed ``--latency`` seconds by the sandbox's fault
  injection: prints wall(20)/wall(1) (target <= 1.2: the 20 calls run in one concurrent wave);
* runtime cold path (contract from Key Vault + first call, fresh credential, empty cache) vs a bare
  ``AnthropicFoundry`` built from environment-style values + first call: prints the ratio (target <= 1.1)
  and the runtime's Key Vault round trips (target: 1 contract load).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import uuid
from typing import Any


def seed(conn: dict[str, Any], n: int) -> dict[str, Any]:
    """An account with ``n`` deployments and its contract in a vault, through the Azure SDKs."""
    from azure.identity import ClientSecretCredential
    from azure.keyvault.secrets import SecretClient
    from azure.mgmt.cognitiveservices import CognitiveServicesManagementClient
    from azure.mgmt.resource.resources import ResourceManagementClient

    from claude_foundry import _contract as c
    from claude_foundry._azure import arm

    vault_url_of = conn["key_vault_url_template"].format
    base_url_of = conn["foundry_base_url_template"].format
    cred = ClientSecretCredential(conn["tenant_id"], conn["client_id"], conn["client_secret"],
                                  authority=conn["authority"], disable_instance_discovery=True,
                                  connection_verify=conn["ca_bundle"])
    kw = {"base_url": conn["arm_endpoint"], "credential_scopes": [conn["arm_scope"]],
          "connection_verify": conn["ca_bundle"]}
    sub = conn["subscription_id"]
    rm = ResourceManagementClient(cred, sub, **kw)
    cs = CognitiveServicesManagementClient(cred, sub, **kw)
    tag = uuid.uuid4().hex[:8]
    rg, account, vault = f"rg-bench-{tag}", f"cf-bench-{tag}", f"kv-bench-{tag}"
    rm.resource_groups.create_or_update(rg, {"location": "eastus2"})
    cs.accounts.begin_create(rg, account, {"location": "eastus2", "kind": arm.ACCOUNT_KIND,
                                           "sku": {"name": arm.ACCOUNT_SKU},
                                           "properties": {"customSubDomainName": account}}).result()
    model = "claude-sonnet-4-6"
    names = [f"d{i:02d}" for i in range(n)]
    for name in names:
        body = {"sku": {"name": "GlobalStandard", "capacity": 1},
                "properties": {"model": {"format": "Anthropic", "name": model, "version": "1"},
                               "modelProviderData": {"organizationName": "Bench", "countryCode": "US",
                                                     "industry": "technology"},
                               "versionUpgradeOption": arm.VERSION_UPGRADE_DEFAULT,
                               "raiPolicyName": arm.RAI_POLICY_DEFAULT}}
        cs.deployments.begin_create_or_update(rg, account, name, json.dumps(body).encode(),
                                              api_version=arm.DEPLOYMENT_API_VERSION).result()
    vid = arm.vault_id(sub, rg, vault)
    rm.resources.begin_create_or_update_by_id(vid, api_version="2023-07-01", parameters={
        "location": "eastus2", "properties": {"tenantId": conn["tenant_id"], "enableRbacAuthorization": True,
                                              "sku": {"family": "A", "name": "standard"}}}).result()
    rm.resources.begin_create_or_update_by_id(
        f"{vid}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}", api_version="2022-04-01",
        parameters={"properties": {"roleDefinitionId": arm.role_definition_id(sub, "key-vault-secrets-officer"),
                                   "principalId": conn["principal_id"], "principalType": "ServicePrincipal"}},
    ).result()
    key = cs.accounts.list_keys(rg, account).key1
    secrets = SecretClient(vault_url_of(vault=vault), cred, connection_verify=conn["ca_bundle"])
    sn = c.SecretNames()
    secrets.set_secret(sn.endpoint, base_url_of(resource=account).rstrip("/"))
    secrets.set_secret(sn.resource, account)
    secrets.set_secret(sn.deployments, c.dump_deployment_map(
        {d: c.DeploymentInfo(model=model, version="1", family="sonnet") for d in names}))
    secrets.set_secret(sn.auth_mode, c.AUTH_MODE_KEY)
    secrets.set_secret(sn.api_key, key)
    secrets.close()
    rm.close()
    cs.close()
    cred.close()
    return {"account": account, "vault_url": vault_url_of(vault=vault), "names": names, "key": key,
            "base_url": base_url_of(resource=account).rstrip("/")}


def _serve(queue: Any, stop: Any) -> None:
    """Child process: run the sandbox (its own CPU and GIL, like a remote service) until told to stop."""
    from claude_foundry_sandbox import Sandbox, SandboxConfig

    with Sandbox(SandboxConfig(provisioning_delay=0.0)) as sandbox:
        queue.put(sandbox.connection)
        stop.wait()


def set_latency(conn: dict[str, Any], account: str, latency: float) -> None:
    import httpx2

    from claude_foundry._client.runtime import ssl_context

    with httpx2.Client(verify=ssl_context(conn["ca_bundle"])) as client:
        client.post(conn["admin_url"] + "/faults", headers={"Authorization": f"Bearer {conn['admin_token']}"},
                    json={"account": account, "deployment": "*", "latency": latency}).raise_for_status()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency", type=float, default=0.3, help="injected latency per call (0.3 s)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement; the median is kept (3)")
    parser.add_argument("--deployments", type=int, default=20, help="deployments in the wide smoke (20)")
    parser.add_argument("--subprocess", action="store_true",
                        help="run the sandbox in a child process instead of a thread of this one")
    args = parser.parse_args(argv)

    import multiprocessing

    import anthropic
    from azure.identity import ClientSecretCredential

    from claude_foundry._client import runtime as rt
    from claude_foundry._client.smoke import run_smoke

    if not args.subprocess:
        from claude_foundry_sandbox import Sandbox, SandboxConfig

        with Sandbox(SandboxConfig(provisioning_delay=0.0)) as sandbox:
            return _bench(args, sandbox.connection, anthropic, ClientSecretCredential, rt, run_smoke)
    mp = multiprocessing.get_context("spawn")
    queue, stop = mp.Queue(), mp.Event()
    child = mp.Process(target=_serve, args=(queue, stop), daemon=True)
    child.start()
    try:
        return _bench(args, queue.get(timeout=60), anthropic, ClientSecretCredential, rt, run_smoke)
    finally:
        stop.set()
        child.join(timeout=15)


def _bench(args: Any, conn: dict[str, Any], anthropic: Any, ClientSecretCredential: Any, rt: Any,
           run_smoke: Any) -> int:
    if True:
        ca = conn["ca_bundle"]
        stack = seed(conn, args.deployments)
        set_latency(conn, stack["account"], args.latency)

        def credential() -> Any:
            return ClientSecretCredential(conn["tenant_id"], conn["client_id"], conn["client_secret"],
                                          authority=conn["authority"], disable_instance_discovery=True,
                                          connection_verify=ca)

        cred = credential()
        runtime = rt.FoundryRuntime.from_key_vault(stack["vault_url"], credential=cred, ca_bundle=ca)

        def smoke_wall(names: list[str]) -> float:
            start = time.perf_counter()
            report = run_smoke(runtime, names)
            wall = time.perf_counter() - start
            if not report.passed:
                raise SystemExit("smoke failed:\n" + report.summary())
            return wall

        smoke_wall(stack["names"][:1])  # warm imports
        smoke_wall(stack["names"])
        # Interleaved, so that drift in the machine's load (other processes) hits both sides alike.
        pairs = [(smoke_wall(stack["names"][:1]), smoke_wall(stack["names"])) for _ in range(args.repeat)]
        one = statistics.median(p[0] for p in pairs)
        wide = statistics.median(p[1] for p in pairs)
        ratio = wide / one
        print(f"smoke, {args.latency * 1000:.0f} ms injected latency per call:")
        print(f"  wall(1)  = {one:.3f} s")
        print(f"  wall({args.deployments}) = {wide:.3f} s")
        print(f"  wall({args.deployments})/wall(1) = {ratio:.2f}  (target <= 1.2) "
              f"{'OK' if ratio <= 1.2 else 'MISSED'}")
        per_added = (wide - one) / max(args.deployments - 1, 1) * 1000
        print(f"  per added deployment: (wall({args.deployments}) - wall(1)) / {args.deployments - 1} = "
              f"{per_added:.1f} ms  (target <= 2 ms: one connection pool per endpoint) "
              f"{'OK' if per_added <= 2.0 else 'MISSED'}")

        hi = [{"role": "user", "content": "hi"}]
        deployment = stack["names"][0]

        def cold_runtime() -> tuple[float, int]:
            rt.clear_contract_cache()
            fresh = credential()
            start = time.perf_counter()
            r = rt.FoundryRuntime.from_key_vault(stack["vault_url"], credential=fresh, ca_bundle=ca)
            with r.client(deployment) as client:
                client.messages.create(model=deployment, max_tokens=16, messages=hi)
            wall = time.perf_counter() - start
            trips = r.key_vault_round_trips
            fresh.close()
            return wall, trips

        def cold_bare() -> float:
            start = time.perf_counter()
            client = anthropic.AnthropicFoundry(api_key=stack["key"], base_url=stack["base_url"] + "/",
                                                http_client=anthropic.DefaultHttpxClient(verify=rt.ssl_context(ca)))
            with client:
                client.messages.create(model=deployment, max_tokens=16, messages=hi)
            return time.perf_counter() - start

        cold_bare()
        cold_runtime()  # warm imports on both paths
        runs, bares = [], []
        for _ in range(args.repeat):  # interleaved, as above
            runs.append(cold_runtime())
            bares.append(cold_bare())
        rt_wall = statistics.median(w for w, _ in runs)
        trips = max(t for _, t in runs)
        bare = statistics.median(bares)
        cold_ratio = rt_wall / bare
        print("runtime cold path (contract from Key Vault + first call) vs bare AnthropicFoundry from env:")
        print(f"  runtime = {rt_wall:.3f} s, bare = {bare:.3f} s, ratio = {cold_ratio:.2f}  (target <= 1.1) "
              f"{'OK' if cold_ratio <= 1.1 else 'MISSED'}")
        print(f"  Key Vault round trips (contract loads + key re-reads) = {trips}  (target 1) "
              f"{'OK' if trips == 1 else 'MISSED'}")
        rt.clear_contract_cache()
        cred.close()
        ok = ratio <= 1.2 and cold_ratio <= 1.1 and trips == 1
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
