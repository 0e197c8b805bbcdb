"""Small helpers shared by the components."""

from __future__ import annotations

import pulumi
import pulumi_azure_native as azure_native

#: Type tokens read ``claude-foundry:index:<Component>``.
TYPE_PREFIX = "claude-foundry:index:"

#: Level and wording of the production delete lock.
LOCK_LEVEL = "CanNotDelete"


def child_opts(parent: pulumi.Resource, *, protect: bool = False,
               depends_on: list[pulumi.Resource] | None = None) -> pulumi.ResourceOptions:
    """Options of a child: parented to its component; ``protect`` only when asked (never ``False`` noise).

    Renaming a logical name later changes the URN and would make Pulumi replace the resource. Keep the old
    identity with an alias, e.g. ``pulumi.ResourceOptions(aliases=[pulumi.Alias(name="old-name")])`` (or
    ``Alias(parent=...)`` when moving a resource between components); remove the alias once every stack has
    been updated.
    """
    return pulumi.ResourceOptions(parent=parent, protect=protect or None, depends_on=depends_on)


def delete_lock(name: str, scope: pulumi.Input[str], what: str, parent: pulumi.Resource) -> \
        azure_native.authorization.ManagementLockByScope:
    """A CanNotDelete management lock on ``scope`` (an ARM id)."""
    return azure_native.authorization.ManagementLockByScope(
        name,
        scope=scope,
        lock_name="claude-foundry-do-not-delete",
        level=LOCK_LEVEL,
        notes=f"Production {what} managed by claude-foundry (spec protect: true). Remove protect first.",
        opts=pulumi.ResourceOptions(parent=parent),
    )
