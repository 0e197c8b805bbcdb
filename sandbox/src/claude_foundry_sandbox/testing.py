"""Small helpers for tests that drive the sandbox (shared by ``tests/e2e``)."""

from __future__ import annotations

import contextlib
import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from claude_foundry._azure import arm

CLAUDE_MODEL = "claude-sonnet-4-6"
PROVIDER_DATA = {"organizationName": "Contoso Test", "countryCode": "US", "industry": "technology"}


def deployment_body(model: str = CLAUDE_MODEL, capacity: int = 1, sku: str = "GlobalStandard",
                    provider_data: dict[str, Any] | None = None, version: str = "1") -> dict[str, Any]:
    """The raw deployment body a Claude deployment needs (with ``properties.modelProviderData``)."""
    return {"sku": {"name": sku, "capacity": capacity},
            "properties": {"model": {"format": "Anthropic", "name": model, "version": version},
                           "modelProviderData": dict(PROVIDER_DATA if provider_data is None else provider_data),
                           "versionUpgradeOption": arm.VERSION_UPGRADE_DEFAULT,
                           "raiPolicyName": arm.RAI_POLICY_DEFAULT}}


def unique(prefix: str) -> str:
    """``prefix`` plus ten random hex digits: names that do not collide between tests."""
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def write_stack(directory: Path, deployments: dict[str, Any] | None = None, *, tag: str = "e2e",
                **top: Any) -> Path:
    """A valid stack file with names unique in a sandbox (subdomains and vault names are global there too):
    eastus2, one sonnet deployment unless ``deployments`` says otherwise. Mapping values in ``top`` merge
    into the defaults (``foundry={"disable_local_auth": True}``), anything else replaces them."""
    import yaml

    suffix = uuid.uuid4().hex[:10]
    doc: dict[str, Any] = {
        "environment": tag, "location": "eastus2", "resource_group": f"rg-{tag}-{suffix}",
        "foundry": {"name": f"cf-{tag}-{suffix}",
                    "model_provider": {"organization_name": "Contoso", "country_code": "US",
                                       "industry": "technology"}},
        "deployments": deployments or {"sonnet": {"model": CLAUDE_MODEL, "capacity": 2}},
        "key_vault": {"name": f"kv-{suffix}"},
    }
    for key, value in top.items():
        doc[key] = {**doc[key], **value} if isinstance(value, dict) and isinstance(doc.get(key), dict) else value
    path = Path(directory) / f"stack-{suffix}.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


def extends_line(path: Path | str) -> str:
    """``extends:`` of a stack file outside the writing test's project (stack files extend only inside their
    project unless they say ``outside_project: true``)."""
    return f"extends: {{path: '{path}', outside_project: true}}\n"


@contextlib.contextmanager
def silent_server() -> Iterator[str]:
    """``https://127.0.0.1:<port>`` of a TCP server that accepts every connection and never sends a byte (not
    even the TLS handshake): what a hanging Azure endpoint looks like, for tests of bounded waits."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                continue
            held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{srv.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(2)
        for conn in held:
            conn.close()
        srv.close()
