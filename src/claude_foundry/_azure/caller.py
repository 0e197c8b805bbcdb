"""Raw ARM requests (for what the management SDKs do not model, or model differently across versions), and the
bounded wait for an ARM long-running operation."""

from __future__ import annotations

import math
from typing import Any

from claude_foundry._azure.target import OPERATION_TIMEOUT, Target
from claude_foundry._errors import OperationFailed, Parameter


def check_operation_timeout(seconds: float) -> float:
    """``seconds`` when it is a usable long-running-operation bound (finite, > 0); else ``ValueError``."""
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not math.isfinite(seconds) \
            or seconds <= 0:
        raise ValueError(f"the operation timeout must be a finite number of seconds > 0, not {seconds!r}")
    return float(seconds)


def wait_for(poller: Any, what: str, timeout: float = OPERATION_TIMEOUT) -> Any:
    """The result of an SDK poller (``begin_*``), waiting at most ``timeout`` seconds.

    azure-core's ``LROPoller.result(timeout=...)`` returns without raising when the time is up; this checks
    ``done()`` afterwards and fails with :class:`OperationFailed` naming ``what``. The operation itself goes on
    in Azure (ARM has no cancel): the message says so."""
    timeout = check_operation_timeout(timeout)
    result = poller.result(timeout=timeout)
    if not poller.done():
        raise OperationFailed(f"the long-running operation for {what} did not finish within {timeout:g} s (",
                              Parameter("operation_timeout"), "); it may still be running in ARM: run the same "
                              "command again later (it resumes), or allow more time")
    return result


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
