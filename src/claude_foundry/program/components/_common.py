"""Small helpers shared by the components."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_azure_native as azure_native

#: Type tokens read ``claude-foundry:index:<Component>``.
TYPE_PREFIX = "claude-foundry:index:"

#: Level and wording of the production delete lock.
LOCK_LEVEL = "CanNotDelete"


def child_opts(parent: pulumi.Resource, *, protect: bool = False,
               depends_on: Sequence[pulumi.Resource] | None = None) -> pulumi.ResourceOptions:
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


# --- validation of component args (at construction, naming the field) ---------------------------------------


def is_input(value: object) -> bool:
    """A ``pulumi.Input[str]``: a plain string, an ``Output`` or an awaitable (what Pulumi itself accepts)."""
    import inspect

    return isinstance(value, str | pulumi.Output) or inspect.isawaitable(value)


def check_input(owner: str, field_name: str, value: object, *, optional: bool = False) -> None:
    """``TypeError`` naming ``<owner>.<field_name>`` unless ``value`` is a ``pulumi.Input[str]`` (or None when
    ``optional``); ``ValueError`` for an empty string."""
    if value is None and optional:
        return
    if not is_input(value):
        raise TypeError(f"{owner}.{field_name} must be a str or a pulumi.Output[str] (pulumi.Input[str]), "
                        f"got {type(value).__name__}")
    if isinstance(value, str) and not value.strip():
        raise ValueError(f"{owner}.{field_name} must not be empty")


def check_type(owner: str, field_name: str, value: object, expected: type | tuple[type, ...], what: str) -> None:
    """``TypeError`` naming ``<owner>.<field_name>`` and what is allowed unless ``value`` is an ``expected``."""
    if not isinstance(value, expected):
        raise TypeError(f"{owner}.{field_name} must be {what}, got {type(value).__name__}")


def check_sequence(owner: str, field_name: str, value: object) -> None:
    """A list or tuple (not a string, not a mapping): ``TypeError`` naming the field otherwise."""
    if isinstance(value, str | bytes) or not isinstance(value, list | tuple):
        raise TypeError(f"{owner}.{field_name} must be a list or tuple, got {type(value).__name__}")
