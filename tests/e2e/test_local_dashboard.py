"""The usage dashboard over real HTTPS: ``up --local`` of a stack with ``monitoring: {dashboard: true}`` creates
the workbook, read back through the unmodified management SDK; a second up changes nothing; the sandbox refuses
what Azure refuses (a name that is not a GUID, another kind, serializedData that is not JSON, a display name taken
in the same place)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from seeding import base_stack

from claude_foundry._azure import arm
from claude_foundry.cli import main
from claude_foundry.program.spec import load_spec
from claude_foundry_sandbox.testing import unique

pytestmark = pytest.mark.e2e

API = arm.API_VERSIONS[arm.WORKBOOK]


def test_dashboard_stack_deploys_twice_and_the_second_changes_nothing(tmp_path: Path, rm_client: Any,
                                                                        capsys: pytest.CaptureFixture[str],
                                                                        connection: dict[str, Any]) -> None:
    from azure.core.exceptions import ResourceNotFoundError

    stack = base_stack(tmp_path, "cf-dash-", extra="monitoring:\n  dashboard: true\n")
    spec = load_spec(stack)
    conn = tmp_path / "conn.json"
    conn.write_text(json.dumps(connection), encoding="utf-8")
    args = ["--local", "--sandbox", str(conn), "--state-dir", str(tmp_path / "state")]
    assert main(["up", str(stack), *args]) == 0
    assert "claude-foundry-dashboard-workbook" in capsys.readouterr().out

    sub, rg = connection["subscription_id"], spec.resource_group
    account = arm.account_id(sub, rg, spec.foundry.name)
    rid = arm.workbook_id(sub, rg, arm.workbook_name(spec.environment, [account]))
    wb = rm_client.resources.get_by_id(rid, api_version=API)
    assert (wb.type, wb.kind, wb.location) == ("Microsoft.Insights/workbooks", "shared", "eastus2")
    p = wb.properties
    assert p["category"] == "workbook"
    assert p["sourceId"] == arm.resource_group_id(sub, rg)
    assert uuid.UUID(p["revision"])
    assert p["timeModified"]
    assert p["userId"]
    content = json.loads(p["serializedData"])
    assert content["version"] == p["version"] == "Notebook/1.0"
    assert {tuple(i["content"]["resourceIds"]) for i in content["items"] if i["type"] == 10} == {(account,)}

    assert main(["verify", str(stack), "--sandbox", str(conn)]) == 0  # a stack with a workbook verifies as before
    assert "in sync" in capsys.readouterr().out
    assert main(["up", str(stack), *args]) == 0
    assert "0 to change" in capsys.readouterr().out
    assert rm_client.resources.get_by_id(rid, api_version=API).properties["revision"] == p["revision"]
    assert main(["down", str(stack), *args]) == 0
    capsys.readouterr()
    with pytest.raises(ResourceNotFoundError):
        rm_client.resources.get_by_id(rid, api_version=API)


@pytest.fixture
def group(rm_client: Any, connection: dict[str, Any]) -> dict[str, str]:
    rg = unique("rg-dash-")
    rm_client.resource_groups.create_or_update(rg, {"location": "eastus2"})
    return {"rg": rg, "sub": connection["subscription_id"]}


def _body(**props: Any) -> dict[str, Any]:
    base = {"displayName": "usage", "category": "workbook", "version": "Notebook/1.0",
            "serializedData": json.dumps({"version": "Notebook/1.0", "items": []})}
    return {"location": "eastus2", "kind": "shared", "properties": {**base, **props}}


def _put(rm_client: Any, rid: str, body: dict[str, Any]) -> Any:
    return rm_client.resources.begin_create_or_update_by_id(rid, api_version=API, parameters=body).result()


def _refused(rm_client: Any, rid: str, body: dict[str, Any], status: int = 400) -> Any:
    from azure.core.exceptions import HttpResponseError

    with pytest.raises(HttpResponseError) as info:
        _put(rm_client, rid, body)
    assert info.value.status_code == status
    return info.value.error


def test_sandbox_refuses_what_azure_refuses(group: dict[str, str], rm_client: Any) -> None:
    wid = lambda name: arm.workbook_id(group["sub"], group["rg"], name)  # noqa: E731
    err = _refused(rm_client, wid("nginxTst"), _body())
    assert err.message == "Invalid Workbook resource name: 'nginxtst'"
    good = str(uuid.uuid4())
    assert "kind" in _refused(rm_client, wid(good), {**_body(), "kind": "user"}).message
    assert "serializedData" in _refused(rm_client, wid(good), _body(serializedData="{not json")).message
    assert "displayName" in _refused(rm_client, wid(good), _body(displayName="")).message
    assert "version" in _refused(rm_client, wid(good), _body(version="Notebook/2.0")).message
    assert _refused(rm_client, wid(good), {"properties": _body()["properties"]}).code == "LocationRequired"

    first = _put(rm_client, wid(good), _body())
    assert first.properties["revision"]
    again = _put(rm_client, wid(good), _body(description="changed"))
    assert again.properties["revision"] != first.properties["revision"]
    taken = _refused(rm_client, wid(str(uuid.uuid4())), _body(), status=409)
    assert (taken.code, taken.message) == ("Conflict", "A Workbook with the same name already exists within this "
                                                       "subscription.")
    # the same display name under another source is another place
    _put(rm_client, wid(str(uuid.uuid4())), _body(sourceId=arm.resource_group_id(group["sub"], group["rg"])))
