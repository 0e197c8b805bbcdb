"""``ClaudeDeployments``: one ``accounts/deployments`` per spec entry, created one after another.

The typed ``cognitiveservices.Deployment`` cannot carry ``properties.modelProviderData`` (required by
Azure for Anthropic models; a sibling of ``properties.model``, as Azure's starter kit sends it — Azure Verified
Modules held the feature back), so each
deployment is a generic ``resources.Resource`` at
:data:`claude_foundry._azure.arm.DEPLOYMENT_API_VERSION`. Azure refuses concurrent changes to one account, so each
deployment ``depends_on`` the previous one (the first on the account); other accounts stay parallel.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_azure_native as azure_native

from claude_foundry._azure import arm
from claude_foundry._catalogue import Catalogue, load_catalogue
from claude_foundry.program.components._common import TYPE_PREFIX, check_input, check_type, child_opts
from claude_foundry.program.spec._schema import DeploymentSpec, ModelProviderSpec


@dataclass(frozen=True, kw_only=True)
class ClaudeDeploymentsArgs:
    """The deployments of one account (``AccountRef.deployments``), the provider data, the account."""

    deployments: dict[str, DeploymentSpec]
    model_provider: ModelProviderSpec
    account: pulumi.Resource  # the Account (dependency of the first deployment)
    account_name: pulumi.Input[str]
    resource_group_name: pulumi.Input[str]
    protect: bool = False
    catalogue: Catalogue | None = None

    def __post_init__(self) -> None:
        owner = "ClaudeDeploymentsArgs"
        check_type(owner, "deployments", self.deployments, dict, "a dict of deployment name -> DeploymentSpec")
        bad = [k for k, v in self.deployments.items() if not isinstance(v, DeploymentSpec)]
        if bad:
            raise TypeError(f"{owner}.deployments[{bad[0]!r}] must be a DeploymentSpec")
        check_type(owner, "model_provider", self.model_provider, ModelProviderSpec, "a ModelProviderSpec")
        check_type(owner, "account", self.account, pulumi.Resource, "a pulumi.Resource (the Account)")
        check_input(owner, "account_name", self.account_name)
        check_input(owner, "resource_group_name", self.resource_group_name)


def deployment_properties(dep: DeploymentSpec, provider: ModelProviderSpec, model_format: str) -> dict[str, Any]:
    """The ARM ``properties`` of one Claude deployment (camelCase: the generic Resource sends them as is)."""
    if dep.version is None:
        # only a spec that skipped validation (model_construct) lacks one; never send "None" to Azure
        raise ValueError(f"deployment of {dep.model}: no model version; build the spec with load_spec or "
                         "spec_from_mapping (they resolve it from the catalogue)")
    props = {
        "model": {
            "format": model_format,
            "name": dep.model,
            "version": str(dep.version),
        },
        # Not inside "model": ARM takes it at properties.modelProviderData (not yet in the published REST
        # spec, azure-rest-api-specs issue 43610; Azure's starter kit sends it here, AVM no longer does).
        "modelProviderData": {
            "organizationName": provider.organization_name,
            "countryCode": provider.country_code,
            "industry": provider.industry,
        },
        "versionUpgradeOption": dep.version_upgrade_option,
    }
    if dep.rai_policy:  # optional: Foundry has no built-in content filter for Claude at deployment time
        props["raiPolicyName"] = dep.rai_policy
    return props


class ClaudeDeployments(pulumi.ComponentResource):
    """The Claude deployments of one account, chained."""

    resources: dict[str, azure_native.resources.Resource]

    def __init__(self, name: str, args: ClaudeDeploymentsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(f"{TYPE_PREFIX}ClaudeDeployments", name, None, opts)
        cat = args.catalogue or load_catalogue()
        parent_path = pulumi.Output.from_input(args.account_name).apply(lambda n: f"accounts/{n}")
        self.resources = {}
        previous: pulumi.Resource = args.account
        for dep_name, dep in args.deployments.items():
            res = azure_native.resources.Resource(
                f"{name}-{dep_name}",
                resource_name_=dep.deployment or dep_name,  # the physical name after a move (same URN)
                resource_group_name=args.resource_group_name,
                resource_provider_namespace=arm.COGNITIVE_SERVICES_NAMESPACE,
                parent_resource_path=parent_path,
                resource_type="deployments",
                api_version=arm.DEPLOYMENT_API_VERSION,
                sku={"name": dep.sku, "capacity": dep.capacity},
                properties=deployment_properties(dep, args.model_provider, cat.format),
                opts=child_opts(self, protect=args.protect, depends_on=[previous]),
            )
            self.resources[dep_name] = res
            previous = res
        self.register_outputs({"names": list(self.resources)})
