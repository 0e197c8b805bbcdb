"""The sandbox models the model lifecycle: a retired model's deployment stops answering, a deprecated model takes no
new deployment (existing ones keep answering), the models list carries stages and dates, and today is injectable."""

from __future__ import annotations

import datetime as dt
import json

import httpx
import pytest

from claude_foundry._azure import arm
from claude_foundry._catalogue import load_catalogue
from claude_foundry_sandbox.testing import deployment_body

pytestmark = pytest.mark.e2e

CAT = load_catalogue()
HI = [{"role": "user", "content": "hi"}]


@pytest.fixture
def clock(sandbox):
    """Moves the sandbox's date for one test, and back to the real date after."""
    yield sandbox
    sandbox.today = None


def _put(cs_client, account, name, model, version="1"):
    return cs_client.deployments.begin_create_or_update(
        account["resource_group"], account["account"], name,
        json.dumps(deployment_body(model=model, version=version)).encode(),
        api_version=arm.DEPLOYMENT_API_VERSION).result()


def _call(sandbox, account, key, deployment, ssl_context):
    with httpx.Client(verify=ssl_context, timeout=30) as http:
        return http.post(sandbox.foundry_base_url(account["subdomain"]) + "/v1/messages",
                         headers={"x-api-key": key, "anthropic-version": "2023-06-01"},
                         json={"model": deployment, "max_tokens": 8, "messages": HI})


def _key(cs_client, account):
    return cs_client.accounts.list_keys(account["resource_group"], account["account"]).key1


def _arm_error(exc_info):
    err = exc_info.value.response.json()["error"]
    return err["code"], err["message"]


@pytest.fixture
def timeline(sandbox, monkeypatch):
    """The sandbox's catalogue with claude-opus-4-5's timeline as dates only: active until its deprecation
    (2026-11-23, when Anthropic deprecated it), deprecated until its retirement (the catalogue's date), so a test
    can deploy it while it is active and then move the clock through both stages."""
    cat = sandbox.state.catalogue
    info = cat.models[MODEL].model_copy(update={"status": "ga", "stage": None, "deprecation": DEPRECATED})
    monkeypatch.setattr(sandbox.state, "catalogue", cat.model_copy(update={"models": {**cat.models, MODEL: info}}))
    return info.retirement_of("1")


MODEL = "claude-opus-4-5"
DEPRECATED = dt.date(2026, 11, 23)


def test_a_retired_models_deployment_stops_answering_with_the_wording(sandbox, clock, timeline, cs_client,
                                                                      claude_account, ssl_context):
    retirement = timeline
    key = _key(cs_client, claude_account)
    clock.today = DEPRECATED - dt.timedelta(days=1)  # still active: the deployment is made
    _put(cs_client, claude_account, "old-opus", MODEL)
    clock.today = retirement - dt.timedelta(days=1)  # deprecated, not retired: the existing deployment answers
    r = _call(sandbox, claude_account, key, "old-opus", ssl_context)
    assert r.status_code == 200, r.text
    assert r.json()["model"] == MODEL
    from azure.core.exceptions import HttpResponseError

    with pytest.raises(HttpResponseError) as info:  # while a new deployment of it is refused
        _put(cs_client, claude_account, "another-old-opus", MODEL)
    assert "no longer accepts new deployments" in _arm_error(info)[1]
    clock.today = retirement  # the retirement date: requests fail
    r = _call(sandbox, claude_account, key, "old-opus", ssl_context)
    assert r.status_code == 404
    assert r.json()["error"] == {"type": "not_found_error", "message": "model: old-opus"}
    assert r.headers["request-id"]
    r = _call(sandbox, claude_account, key, claude_account["deployment"], ssl_context)
    assert r.status_code == 200  # other models' deployments are not affected
    clock.today = retirement - dt.timedelta(days=1)  # the clock is what decides: back before it, it answers
    assert _call(sandbox, claude_account, key, "old-opus", ssl_context).status_code == 200
    cs_client.deployments.begin_delete(claude_account["resource_group"], claude_account["account"],
                                       "old-opus").result()


def test_a_deprecated_model_refuses_new_deployments_existing_keep_answering(sandbox, clock, cs_client,
                                                                            claude_account, ssl_context):
    from azure.core.exceptions import HttpResponseError

    # the bundled catalogue: claude-opus-4-5 is deprecated (stage), whatever the date before its retirement
    clock.today = CAT.model(MODEL).retirement_of("1") - dt.timedelta(days=10)
    with pytest.raises(HttpResponseError) as info:
        _put(cs_client, claude_account, "new-old-opus", MODEL)
    code, message = _arm_error(info)
    assert info.value.status_code == 400
    assert code == "DeploymentModelNotSupported"
    assert "is deprecated and no longer accepts new deployments" in message
    assert "claude-opus-5-5" in message  # the replacement is named
    names = [d.name for d in cs_client.deployments.list(claude_account["resource_group"], claude_account["account"])]
    assert "new-old-opus" not in names


def test_a_retired_model_is_refused_as_retired_not_deprecated(sandbox, clock, cs_client, claude_account):
    from azure.core.exceptions import HttpResponseError

    clock.today = None
    with pytest.raises(HttpResponseError) as info:
        _put(cs_client, claude_account, "retired-sonnet", "claude-sonnet-4-5")
    code, message = _arm_error(info)
    assert code == "DeploymentModelNotSupported"
    assert "is retired since 2026-11-30" in message
    assert "deprecated" not in message
    assert "claude-sonnet-5-5" in message


def test_today_is_injectable_and_the_models_list_follows_it(sandbox, clock, connection, ssl_context):
    sub = connection["subscription_id"]
    url = f"{connection['arm_endpoint'].rstrip('/')}/subscriptions/{sub}/providers/Microsoft.CognitiveServices/" \
          "locations/eastus2/models?api-version=2026-05-01"
    from azure.identity import ClientSecretCredential

    cred = ClientSecretCredential(connection["tenant_id"], connection["client_id"], connection["client_secret"],
                                  authority=connection["authority"], disable_instance_discovery=True,
                                  connection_verify=connection["ca_bundle"])
    token = cred.get_token(connection["arm_scope"]).token

    def opus_4_5() -> dict:
        with httpx.Client(verify=ssl_context, timeout=30) as http:
            r = http.get(url, headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200
        return next(m["model"] for m in r.json()["value"] if m["model"]["name"] == "claude-opus-4-5")

    retirement = CAT.model("claude-opus-4-5").retirement_of("1")
    clock.today = retirement - dt.timedelta(days=1)
    before = opus_4_5()
    assert before["lifecycleStatus"] == "Deprecating"
    assert before["deprecation"]["inference"] == f"{retirement.isoformat()}T00:00:00Z"
    clock.today = retirement
    assert opus_4_5()["lifecycleStatus"] == "Deprecated"
    # the admin route sets and reports it too; a bad date is refused with words
    with httpx.Client(verify=ssl_context, timeout=30, headers=sandbox.admin_headers) as http:
        base = sandbox.origin + "/_sandbox/settings"
        r = http.post(base, json={"today": "2030-02-03"})
        assert r.status_code == 200
        assert r.json()["today"] == "2030-02-03"
        assert r.json()["today_injected"] is True
        assert sandbox.today == dt.date(2030, 2, 3)
        r = http.post(base, json={"today": "next tuesday"})
        assert r.status_code == 400
        assert "YYYY-MM-DD" in r.json()["error"]["message"]
        r = http.post(base, json={"today": None})
        assert r.json()["today_injected"] is False
        assert r.json()["today"] == dt.date.today().isoformat()
