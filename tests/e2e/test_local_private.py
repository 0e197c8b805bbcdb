"""``up --local`` of a stack with ``private_network``: the sandbox accepts the virtual network, endpoints, zones, links
and zone groups, and answers as Azure does to a caller outside the network (everyone here): the Foundry endpoint
403 "Public access is disabled", Key Vault 403 ``ForbiddenByConnection``. ``smoke`` and ``verify`` say so."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from seeding import base_stack

from claude_foundry import _contract as c
from claude_foundry._azure import arm
from claude_foundry._azure.target import sandbox_target
from claude_foundry._client import smoke
from claude_foundry._rehearse import SAME, up_local
from claude_foundry.cli import main
from claude_foundry.program.spec import load_spec

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("clean_runtime_env")]

PRIVATE = "private_network: {address_space: 10.40.0.0/16, subnet_prefix: 10.40.1.0/24}\n"


def private_stack(tmp_path: Path) -> Path:
    return base_stack(tmp_path, "cf-pn-", extra=PRIVATE)


@pytest.fixture
def deployed(tmp_path: Path, connection: dict[str, Any]) -> Any:
    path = private_stack(tmp_path)
    spec = load_spec(path)
    with sandbox_target(connection) as target:
        deploy = up_local(spec, target, state_dir=tmp_path)
        assert deploy.result.ok, [(r.step.name, r.error) for r in deploy.result.results if r.error]
        yield path, spec, target, deploy


def _get(rm_client: Any, rid: str, token: str) -> dict[str, Any]:
    return rm_client.resources.get_by_id(rid, api_version=arm.API_VERSIONS[token]).as_dict()


def test_up_applies_the_private_network_and_a_second_run_changes_nothing(deployed, rm_client, tmp_path):
    _, spec, target, _ = deployed
    sub, rg = target.subscription_id, spec.resource_group
    account = _get(rm_client, arm.account_id(sub, rg, spec.foundry.name), arm.ACCOUNT)
    assert account["properties"]["publicNetworkAccess"] == "Disabled"
    vault = _get(rm_client, arm.vault_id(sub, rg, spec.key_vault.name), arm.VAULT)
    assert vault["properties"]["publicNetworkAccess"] == "Disabled"
    assert vault["properties"]["networkAcls"]["defaultAction"] == "Deny"

    pe = _get(rm_client, arm.private_endpoint_id(sub, rg, f"pe-{spec.foundry.name}-account"), arm.PRIVATE_ENDPOINT)
    (conn,) = pe["properties"]["privateLinkServiceConnections"]
    assert conn["properties"]["groupIds"] == ["account"]
    assert conn["properties"]["privateLinkServiceConnectionState"]["status"] == "Approved"
    fqdns = {d["fqdn"] for d in pe["properties"]["customDnsConfigs"]}
    assert f"{spec.foundry.name}.services.ai.azure.com" in fqdns
    ip = pe["properties"]["customDnsConfigs"][0]["ipAddresses"][0]
    assert ip.startswith("10.40.1.")

    group = _get(rm_client, arm.private_endpoint_id(sub, rg, f"pe-{spec.foundry.name}-account")
                 + "/privateDnsZoneGroups/default", arm.PRIVATE_DNS_ZONE_GROUP)
    records = {r["fqdn"]: r["ipAddresses"] for conf in group["properties"]["privateDnsZoneConfigs"]
               for r in conf["properties"]["recordSets"]}
    assert records[f"{spec.foundry.name}.privatelink.services.ai.azure.com"] == [ip]

    zone = _get(rm_client, arm.private_dns_zone_id(sub, rg, "privatelink.vaultcore.azure.net"), arm.PRIVATE_DNS_ZONE)
    assert zone["location"] == "global"
    assert zone["properties"]["numberOfVirtualNetworkLinks"] == 1

    again = up_local(spec, target, state_dir=tmp_path)
    assert again.result.ok
    assert again.result.count(SAME) == len(again.result.results)


def test_smoke_from_outside_the_network_says_so(deployed, capsys, monkeypatch, tmp_path, conn_file):
    path, spec, target, deploy = deployed
    # the Foundry endpoint, called with a valid key: Azure's network answer, before any authentication
    with target.cognitive_client() as cs:
        key = cs.accounts.list_keys(spec.resource_group, spec.foundry.name).key1
    monkeypatch.setenv(c.ENV_API_KEY, key)
    report_file = tmp_path / "r.json"
    code = main(["smoke", "--base-url", deploy.endpoint, "--deployments", ",".join(spec.deployments),
                 "--ca-bundle", target.ca_bundle or "", "--propagation-timeout", "0", "--timeout", "5", "-q",
                 "--report-json", str(report_file)])
    capsys.readouterr()
    assert code == 1
    for d in json.loads(report_file.read_text())["deployments"]:
        assert d["category"] == smoke.FORBIDDEN
        assert d["diagnosis"].startswith("403 Forbidden, outside the network")  # not the generic 403 (a role)
        assert "Public access is disabled" in d["diagnosis"]
        assert "Cognitive Services User" not in d["diagnosis"]

    # smoke --stack reads the contract from the private vault first: Key Vault's network answer
    assert main(["smoke", "--stack", str(path), "--sandbox", conn_file]) == 1
    err = capsys.readouterr().err
    assert "Public network access is disabled" in err


def test_key_vault_and_verify_from_outside_the_network(deployed, capsys, conn_file):
    from azure.core.exceptions import HttpResponseError

    path, spec, target, deploy = deployed
    client = target.secret_client(deploy.vault_url)
    try:
        with pytest.raises(HttpResponseError) as err:
            client.get_secret(spec.secret_names.endpoint)
    finally:
        client.close()
    assert err.value.status_code == 403
    assert err.value.error.innererror["code"] == "ForbiddenByConnection"
    assert smoke.outside_network(403, str(err.value))

    assert main(["verify", str(path), "--sandbox", conn_file, "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    (drift,) = report["drift"]
    assert drift["field"] == "read secrets"
    assert "outside the network" in drift["actual"]


def test_smoke_reading_the_contract_from_outside_the_network_says_so(deployed, capsys, conn_file):
    *_, deploy = deployed
    assert main(["smoke", "--vault-url", deploy.vault_url, "--sandbox", conn_file, "--timeout", "5"]) == 1
    err = capsys.readouterr().err
    assert "Public network access is disabled" in err  # Key Vault's own words
    assert "outside the network" in err
