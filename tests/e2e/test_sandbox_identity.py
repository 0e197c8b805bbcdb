"""Entra ID stand-in: ClientSecretCredential gets tokens for every audience the toolkit uses."""

from __future__ import annotations

import base64
import json

import pytest
from azure.core.exceptions import ClientAuthenticationError

from claude_foundry import _contract as contract

pytestmark = pytest.mark.e2e


def _claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


@pytest.mark.parametrize("scope_key", ["arm", "key_vault", *contract.TOKEN_SCOPES])
def test_token_for_each_audience(scope_key, credential, connection):
    scope = {"arm": connection["arm_scope"], "key_vault": connection["key_vault_scope"]}.get(scope_key, scope_key)
    token = credential.get_token(scope).token
    claims = _claims(token)
    assert claims["aud"] == scope.removesuffix("/.default")
    assert claims["oid"] == connection["principal_id"]
    assert claims["tid"] == connection["tenant_id"]
    assert claims["exp"] > claims["iat"]


def test_wrong_secret_fails(make_credential, connection):
    cred = make_credential(connection["client_id"], "not-the-secret")
    with pytest.raises(ClientAuthenticationError) as info:
        cred.get_token(connection["arm_scope"])
    assert connection["client_secret"] not in str(info.value)


def test_wrong_secret_is_answered_as_entra_does(connection, ssl_context):
    """What the token endpoint answers (status and body), not how MSAL words it in an exception."""
    import httpx

    r = httpx.post(f"{connection['authority']}/{connection['tenant_id']}/oauth2/v2.0/token",
                   data={"grant_type": "client_credentials", "client_id": connection["client_id"],
                         "client_secret": "not-the-secret", "scope": connection["arm_scope"]},
                   verify=ssl_context, timeout=10)
    assert r.status_code == 401
    body = r.json()
    assert body["error"] == "invalid_client"
    assert 7000215 in body["error_codes"]
    assert "not-the-secret" not in r.text


def test_unknown_resource_is_refused(credential):
    with pytest.raises(ClientAuthenticationError):
        credential.get_token("https://storage.azure.com/.default")


def test_extra_principal_gets_its_own_oid(sandbox, make_credential, connection):
    p = sandbox.add_principal("role-less")
    token = make_credential(p["client_id"], p["client_secret"]).get_token(connection["arm_scope"]).token
    assert _claims(token)["oid"] == p["principal_id"] != connection["principal_id"]


def test_forged_token_is_refused(connection, ssl_context):
    import httpx

    token_parts = "eyJhbGciOiJub25lIn0", base64.urlsafe_b64encode(json.dumps(
        {"aud": "https://management.azure.com", "oid": connection["principal_id"], "tid": connection["tenant_id"],
         "exp": 9999999999}).encode()).decode().rstrip("="), ""
    r = httpx.get(f"{connection['arm_endpoint']}/subscriptions/{connection['subscription_id']}/resourcegroups",
                  params={"api-version": "2021-04-01"}, headers={"Authorization": "Bearer " + ".".join(token_parts)},
                  verify=ssl_context)
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "InvalidAuthenticationToken"
