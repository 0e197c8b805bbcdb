"""``foundry_project``: the optional Foundry project (``Microsoft.CognitiveServices/accounts/projects``).

Claude needs no project (Azure's starter kit dropped its project in 2026-07); the Foundry portal's playground and
monitoring want one. It is the typed ``cognitiveservices.Project`` of pulumi-azure-native (its default API version,
:data:`claude_foundry._azure.arm.API_VERSIONS`), a child of the :class:`FoundryAccount` component
(:meth:`FoundryAccount.add_project`), whose account then carries ``properties.allowProjectManagement: true``.

Azure refuses concurrent changes below one account (409 ``RequestConflict``, as for deployments), so the project
waits for the account and for the last deployment: it joins the end of the deployments' chain, and Claude's
deployments never wait for (or fail with) the optional project.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_azure_native as azure_native

from claude_foundry.program.components._common import child_opts
from claude_foundry.program.spec._schema import ProjectSpec


@dataclass(frozen=True, kw_only=True)
class FoundryProjectArgs:
    project: ProjectSpec
    account_name: pulumi.Input[str]
    location: str
    resource_group_name: pulumi.Input[str]
    tags: dict[str, str] = field(default_factory=dict)
    protect: bool = False
    #: what the project waits for: the account and the last deployment (one change below an account at a time)
    depends_on: Sequence[pulumi.Resource] = ()


def project_properties(project: ProjectSpec) -> dict[str, str]:
    """``properties`` of the project (snake_case input shape): displayName (default: the name), description."""
    props = {"display_name": project.resolved_display_name}
    if project.description:
        props["description"] = project.description
    return props


def foundry_project(name: str, args: FoundryProjectArgs, parent: pulumi.Resource) -> \
        azure_native.cognitiveservices.Project:
    """The project ``<name>`` (logical name), parented to ``parent`` (the FoundryAccount component)."""
    return azure_native.cognitiveservices.Project(  # type: ignore[call-overload, no-any-return]  # the ARM property dicts are plain dicts, not the SDK's TypedDicts; tests/program's golden plans pin them
        name,
        project_name=args.project.name,
        account_name=args.account_name,
        resource_group_name=args.resource_group_name,
        location=args.location,
        identity={"type": "SystemAssigned"},
        properties=project_properties(args.project),
        tags=args.tags,
        opts=child_opts(parent, protect=args.protect, depends_on=list(args.depends_on)),
    )
