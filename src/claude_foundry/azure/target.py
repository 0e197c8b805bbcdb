"""How a client reaches Azure or the local sandbox: credential, ARM endpoint, CA bundle.

The sandbox writes a connection file (``claude-foundry sandbox --connection-file FILE``); this module turns
it into the standard Azure SDK arguments. Against real Azure, :func:`azure_target` uses
``DefaultAzureCredential`` and the public cloud endpoints. Light: no Pulumi, no sandbox imports.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from claude_foundry import contract
from claude_foundry.errors import UserError

ARM_ENDPOINT = "https://management.azure.com"
ARM_SCOPE = "https://management.azure.com/.default"
CONNECTION_KEYS = ("arm_endpoint", "authority", "tenant_id", "client_id", "client_secret", "principal_id",
                   "subscription_id", "ca_bundle", "foundry_base_url_template")


@dataclass(frozen=True)
class Target:
    """Where management and data-plane calls go, and with which credential."""

    credential: Any
    subscription_id: str
    arm_endpoint: str = ARM_ENDPOINT
    ca_bundle: str | None = None  # only for the local sandbox
    foundry_base_url_template: str = contract.FOUNDRY_BASE_URL_TEMPLATE
    tenant_id: str | None = None
    principal_id: str | None = None  # object id of the caller, when known
    is_sandbox: bool = False

    def close(self) -> None:
        """Close the credential's HTTP session (the SDK clients made here are closed by their users)."""
        close = getattr(self.credential, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> Target:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def mgmt_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for any ``azure-mgmt-*`` client."""
        kwargs: dict[str, Any] = {"base_url": self.arm_endpoint, "credential_scopes": [ARM_SCOPE]}
        if self.ca_bundle:
            kwargs["connection_verify"] = self.ca_bundle
        return kwargs

    def data_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for data-plane clients such as ``SecretClient``."""
        return {"connection_verify": self.ca_bundle} if self.ca_bundle else {}

    def resource_client(self) -> Any:
        from azure.mgmt.resource.resources import ResourceManagementClient

        return ResourceManagementClient(self.credential, self.subscription_id, **self.mgmt_kwargs())

    def cognitive_client(self) -> Any:
        from azure.mgmt.cognitiveservices import CognitiveServicesManagementClient

        return CognitiveServicesManagementClient(self.credential, self.subscription_id, **self.mgmt_kwargs())

    def secret_client(self, vault_url: str) -> Any:
        from azure.keyvault.secrets import SecretClient

        return SecretClient(vault_url, self.credential, **self.data_kwargs())


def read_connection_file(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path}: sandbox connection file not found (start one with "
                        "`claude-foundry sandbox --connection-file FILE`)") from None
    except (OSError, ValueError) as exc:
        raise UserError(f"{path}: not a sandbox connection file ({exc.__class__.__name__})") from None
    missing = [k for k in CONNECTION_KEYS if k not in data]
    if not isinstance(data, dict) or missing:
        raise UserError(f"{path}: not a sandbox connection file; missing: {', '.join(missing)}")
    return data


def sandbox_credential(connection: dict[str, Any]) -> Any:
    """A ``ClientSecretCredential`` against the sandbox's own token endpoint, trusting only its CA."""
    from azure.identity import ClientSecretCredential

    return ClientSecretCredential(
        connection["tenant_id"], connection["client_id"], connection["client_secret"],
        authority=connection["authority"], disable_instance_discovery=True,
        connection_verify=connection["ca_bundle"],
    )


def sandbox_target(connection: dict[str, Any] | str | Path) -> Target:
    """A :class:`Target` for the local sandbox, from its connection file (path or parsed dict)."""
    data = connection if isinstance(connection, dict) else read_connection_file(connection)
    return Target(credential=sandbox_credential(data), subscription_id=data["subscription_id"],
                  arm_endpoint=data["arm_endpoint"].rstrip("/"), ca_bundle=data["ca_bundle"],
                  foundry_base_url_template=data["foundry_base_url_template"], tenant_id=data["tenant_id"],
                  principal_id=data["principal_id"], is_sandbox=True)


def azure_target(subscription_id: str | None = None) -> Target:
    """A :class:`Target` for real Azure with ``DefaultAzureCredential``."""
    from azure.identity import DefaultAzureCredential

    sub = subscription_id or os.environ.get("AZURE_SUBSCRIPTION_ID") or os.environ.get("ARM_SUBSCRIPTION_ID")
    if not sub:
        raise UserError("no subscription: pass --subscription or set AZURE_SUBSCRIPTION_ID")
    return Target(credential=DefaultAzureCredential(), subscription_id=sub)
