"""Raw ARM requests (for what the management SDKs do not model, or model differently across versions)."""

from __future__ import annotations

from typing import Any

from claude_foundry.azure.target import Target


class ArmCaller:
    """Raw ARM requests through the Target's credential and pipeline (``ResourceManagementClient.send_request``)."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.client = target.resource_client()

    def call(self, method: str, path: str, api_version: str, body: Any = None) -> tuple[int, Any]:
        """``(status, parsed JSON or None)``; ``path`` starts at ``/subscriptions/...`` (or is a full URL's
        path); the api-version is added."""
        from azure.core.rest import HttpRequest

        sep = "&" if "?" in path else "?"
        url = f"{self.target.arm_endpoint}{path}{sep}api-version={api_version}"
        kwargs: dict[str, Any] = {}
        if body is not None:
            kwargs["json"] = body
        response = self.client.send_request(HttpRequest(method, url, **kwargs))
        try:
            data = response.json() if response.content else None
        except ValueError:
            data = None
        return response.status_code, data

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> ArmCaller:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
