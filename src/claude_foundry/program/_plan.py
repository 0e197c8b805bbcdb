"""Run the real Pulumi program offline, under mocks, and return the list of resources it would create.

``plan(spec)`` builds :class:`~claude_foundry.program.components.ClaudeFoundryStack` under
``pulumi.runtime.set_mocks`` with a recording mock monitor. For every registered resource it keeps the
type, logical name, URN, parent, dependencies (explicit ``depends_on`` plus those implied by Output inputs,
as the RegisterResource request carries them), ``protect``, the inputs (camelCase, as registered), which
inputs were Pulumi secrets, and the ARM request (:mod:`claude_foundry.program._armmap`). Used by ``claude-foundry
plan``, the local deploy (``up --local``), policy checks and the tests.

Invokes are answered by the mocks: ``getClientConfig`` with fixed GUIDs (overridable: the local deploy
passes the sandbox's ids) and ``listAccountKeys`` with *placeholders* (:func:`key_placeholder`); the local
deploy substitutes the sandbox's real key when it writes the secret holding one.

Each call runs in a copied ``contextvars`` context with its own event loop and fresh Pulumi settings, so it
can be called any number of times in one process (and from inside a running event loop: it then runs on a
worker thread). The mock monitor is called inline instead of on the loop's thread pool: nothing in it
blocks, and it saves a thread hop per resource.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import dataclasses
import re
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from claude_foundry import _contract as contract
from claude_foundry._azure import arm
from claude_foundry._azure.resource import ArmResource
from claude_foundry.program import _armmap as armmap
from claude_foundry.program.spec._schema import Spec

_T = TypeVar("_T")

#: Pulumi's wire signature marking special values, and the value marking a secret.
SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"  # noqa: S105 (a public marker)
#: What masked secret values read in JSON and listings.
SECRET_MASK = "[secret]"  # noqa: S105

#: Client config answered for ``azure-native:authorization:getClientConfig`` unless overridden.
DEFAULT_CLIENT_CONFIG: dict[str, str] = {
    "clientId": "00000000-0000-0000-0000-00000000c11e",
    "objectId": "00000000-0000-0000-0000-0000000000b1",
    "subscriptionId": "00000000-0000-0000-0000-000000000000",
    "tenantId": "00000000-0000-0000-0000-0000000000a1",
}

#: ``${listAccountKeys:<account ARM id>:key1}`` — what the mocks answer for an account key.
KEY_PLACEHOLDER_RE = re.compile(r"\$\{listAccountKeys:(?P<account_id>/subscriptions/[^:}]+):(?P<key>key[12])\}")

STACK_TYPE = "claude-foundry:index:ClaudeFoundryStack"


def key_placeholder(account_id: str, key: str = "key1") -> str:
    """The placeholder the mocks return for ``listAccountKeys(...).<key>`` of the account ``account_id``."""
    if key not in ("key1", "key2"):
        raise ValueError("key must be key1 or key2")
    return f"${{listAccountKeys:{account_id}:{key}}}"


# --- secrets in deserialised property values ----------------------------------------------------------


def is_secret_value(value: Any) -> bool:
    return isinstance(value, dict) and value.get(SIG_KEY) == SECRET_SIG


def unwrap_secrets(value: Any, path: str = "", paths: list[str] | None = None) -> tuple[Any, list[str]]:
    """Strip Pulumi secret wrappers; return the plain value and the dotted paths that were secret."""
    if paths is None:
        paths = []
    if is_secret_value(value):
        paths.append(path)
        inner, _ = unwrap_secrets(value.get("value"), path, [])
        return inner, paths
    if isinstance(value, dict):
        return {k: unwrap_secrets(v, f"{path}.{k}" if path else k, paths)[0] for k, v in value.items()}, paths
    if isinstance(value, list):
        return [unwrap_secrets(v, f"{path}[{n}]", paths)[0] for n, v in enumerate(value)], paths
    return value, paths


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [x for v in value.values() for x in _leaves(v)]
    if isinstance(value, list):
        return [x for v in value for x in _leaves(v)]
    return [value]


def _mask_all(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _mask_all(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_all(v) for v in value]
    return SECRET_MASK


def _get_path(value: Any, path: str) -> Any:
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", path):
        if part.startswith("["):
            value = value[int(part[1:-1])] if isinstance(value, list) else None
        else:
            value = value.get(part) if isinstance(value, dict) else None
    return value


def mask_paths(value: Any, paths: list[str], prefix: str = "") -> Any:
    """Copy of ``value`` with every leaf under one of ``paths`` replaced by :data:`SECRET_MASK`."""
    if prefix in paths:
        return _mask_all(value)
    if isinstance(value, dict):
        return {k: mask_paths(v, paths, f"{prefix}.{k}" if prefix else k) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_paths(v, paths, f"{prefix}[{n}]") for n, v in enumerate(value)]
    return value


def _mask_values(value: Any, secrets: set[str]) -> Any:
    if isinstance(value, dict):
        return {k: _mask_values(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_values(v, secrets) for v in value]
    return SECRET_MASK if isinstance(value, str) and value in secrets else value


# --- the result ---------------------------------------------------------------------------------------


@dataclass
class PlannedResource:
    type: str  # Pulumi type token
    name: str  # logical name
    urn: str
    parent: str | None  # URN of the parent (None for top-level resources of the program)
    depends_on: list[str]  # URNs: explicit depends_on and those implied by Output inputs
    protect: bool
    custom: bool  # False for components
    inputs: dict[str, Any]  # camelCase as registered, secrets unwrapped, whole floats -> int
    secret_paths: list[str]  # dotted input paths that were Pulumi secrets
    arm: ArmResource | None  # None for components and unmapped types
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)
    id: str | None = None  # the id the mock gave it (the ARM id when mapped)

    def secret_values(self) -> set[str]:
        out: set[str] = set()
        for p in self.secret_paths:
            out.update(str(v) for v in _leaves(_get_path(self.inputs, p)) if v not in (None, ""))
        return out

    def masked_inputs(self) -> dict[str, Any]:
        masked: dict[str, Any] = mask_paths(self.inputs, self.secret_paths)
        return masked

    def to_json(self, reveal_secrets: bool = False) -> dict[str, Any]:
        arm_json = self.arm.to_json() if self.arm else None
        inputs = self.inputs
        if not reveal_secrets and self.secret_paths:
            inputs = self.masked_inputs()
            if arm_json is not None:
                arm_json["body"] = _mask_values(arm_json["body"], self.secret_values())
        return {
            "type": self.type,
            "name": self.name,
            "urn": self.urn,
            "parent": self.parent,
            "custom": self.custom,
            "protect": self.protect,
            "depends_on": list(self.depends_on),
            "inputs": inputs,
            "secret_paths": list(self.secret_paths),
            "id": self.arm.id if self.arm else self.id,
            "arm": arm_json,
        }


@dataclass
class Plan:
    resources: list[PlannedResource]
    outputs: dict[str, Any]  # the top component's outputs, resolved
    secret_outputs: set[str]  # names of outputs that are Pulumi secrets
    client_config: dict[str, str]
    project: str
    stack: str

    def by_urn(self) -> dict[str, PlannedResource]:
        return {r.urn: r for r in self.resources}

    def of_type(self, type_token: str) -> list[PlannedResource]:
        return [r for r in self.resources if r.type == type_token]

    def get(self, name: str) -> PlannedResource:
        for r in self.resources:
            if r.name == name:
                return r
        raise KeyError(name)

    def custom_resources(self) -> list[PlannedResource]:
        return [r for r in self.resources if r.custom]

    def outputs_json(self, reveal_secrets: bool = False) -> dict[str, Any]:
        return {k: (v if reveal_secrets or k not in self.secret_outputs else _mask_all(v))
                for k, v in self.outputs.items()}

    def to_json(self, reveal_secrets: bool = False) -> list[dict[str, Any]]:
        """One object per resource (registration order): type, name, urn, parent, custom, protect,
        depends_on, inputs (secrets masked unless ``reveal_secrets``), secret_paths, id, arm."""
        return [r.to_json(reveal_secrets) for r in self.resources]


# --- mocks --------------------------------------------------------------------------------------------


def _state(inputs: dict[str, Any], computed: dict[str, Any]) -> dict[str, Any]:
    """Inputs (secret wrappers kept, so outputs stay secret) with the computed outputs merged in."""
    out = dict(inputs)
    for k, v in computed.items():
        if k in out and is_secret_value(out[k]):
            continue
        out[k] = armmap.deep_merge(out[k], v) if k in out else v
    return out


def _to_value(value: Any) -> Any:
    from google.protobuf import struct_pb2

    v = struct_pb2.Value()
    if value is None:
        v.null_value = struct_pb2.NULL_VALUE
    elif isinstance(value, bool):
        v.bool_value = value
    elif isinstance(value, int | float):
        v.number_value = value
    elif isinstance(value, str):
        v.string_value = value
    elif isinstance(value, dict):
        v.struct_value.CopyFrom(_to_struct(value))
    elif isinstance(value, list | tuple):
        v.list_value.values.extend(_to_value(x) for x in value)
    else:
        v.string_value = str(value)
    return v


def _to_struct(d: dict[str, Any]) -> Any:
    from google.protobuf import struct_pb2

    s = struct_pb2.Struct()
    for k, val in d.items():
        if val is not None:
            s.fields[k].CopyFrom(_to_value(val))
    return s


def _make_monitor_classes() -> tuple[Any, Any]:
    """Define the mock classes lazily so that importing this module does not import Pulumi."""
    from pulumi.runtime import mocks as pmocks
    from pulumi.runtime import rpc
    from pulumi.runtime.proto import resource_pb2

    class PlanMocks(pmocks.Mocks):
        def __init__(self, client_config: dict[str, str]) -> None:
            self.client_config = client_config
            self.subscription_id = client_config["subscriptionId"]

        # Pulumi's annotation says (outputs, failures); its runtime takes the bare outputs this returns.
        def call(self, args: pmocks.MockCallArgs) -> Any:
            if args.token == "azure-native:authorization:getClientConfig":  # noqa: S105
                return dict(self.client_config)
            if args.token == "azure-native:cognitiveservices:listAccountKeys":  # noqa: S105
                aid = arm.account_id(self.subscription_id, args.args.get("resourceGroupName", ""),
                                            args.args.get("accountName", ""))
                return {"key1": key_placeholder(aid, "key1"), "key2": key_placeholder(aid, "key2")}
            return {}

        def new_resource(self, args: pmocks.MockResourceArgs) -> tuple[str, dict[str, Any]]:
            if not args.custom:
                return "", {}
            plain, _ = unwrap_secrets(args.inputs)
            request = armmap.to_arm(args.typ, plain, self.subscription_id)
            if request is None:
                return f"{args.name}_id", args.inputs
            return request.id, _state(args.inputs, armmap.computed_outputs(args.typ, plain, request))

    class RecordingMonitor(pmocks.MockMonitor):
        """MockMonitor that records each RegisterResource request (parent, dependencies, protect, secrets)
        and the outputs registered by components. Serialises without the event loop (runs inline)."""

        def __init__(self, mocks: PlanMocks) -> None:
            super().__init__(mocks)
            self.plan_mocks = mocks
            self.planned: list[PlannedResource] = []
            self.component_outputs: dict[str, tuple[dict[str, Any], set[str]]] = {}
            self._lock = threading.Lock()

        def RegisterResource(self, request: Any) -> Any:
            urn = self.make_urn(request.parent, request.type, request.name)
            if request.type == "pulumi:pulumi:Stack":
                return resource_pb2.RegisterResourceResponse(urn=urn)
            raw = rpc.deserialize_properties(request.object)
            custom = bool(request.custom)
            resource_args = pmocks.MockResourceArgs(typ=request.type, name=request.name, inputs=raw,
                                                    provider=request.provider, resource_id=request.importId,
                                                    custom=custom)
            id_, state = self.plan_mocks.new_resource(resource_args)
            plain, secret_paths = unwrap_secrets(raw)
            plain = armmap.normalise(plain)
            arm_req = armmap.to_arm(request.type, plain, self.plan_mocks.subscription_id) if custom else None
            if arm_req is not None:
                arm_req = dataclasses.replace(arm_req, logical_name=request.name)
            parent = request.parent or None
            if parent and parent.split("::")[2] == "pulumi:pulumi:Stack":
                parent = None  # top-level resources: the implicit root stack is no real parent
            planned = PlannedResource(
                type=request.type, name=request.name, urn=urn, parent=parent,
                depends_on=sorted(set(request.dependencies)), protect=bool(request.protect), custom=custom,
                inputs=plain, secret_paths=secret_paths, arm=arm_req,
                property_dependencies={k: sorted(v.urns) for k, v in request.propertyDependencies.items()
                                       if v.urns},
                id=id_ or None)
            with self._lock:
                self.planned.append(planned)
                self.resources[urn] = pmocks.MockMonitor.ResourceRegistration(urn, id_, state)
            return resource_pb2.RegisterResourceResponse(urn=urn, id=id_ or "", object=_to_struct(state))

        def RegisterResourceOutputs(self, request: Any) -> Any:
            raw = rpc.deserialize_properties(request.outputs)
            outputs, _ = unwrap_secrets(raw)
            secret = {k for k, v in raw.items() if is_secret_value(v)}
            with self._lock:
                self.component_outputs[request.urn] = (armmap.normalise(outputs), secret)
            return super().RegisterResourceOutputs(request)  # type: ignore[no-untyped-call]  # pulumi leaves it unannotated

        def Invoke(self, request: Any) -> Any:
            args = rpc.deserialize_properties(request.args)
            plain, _ = unwrap_secrets(args)
            ret = self.plan_mocks.call(pmocks.MockCallArgs(token=request.tok, args=plain,
                                                      provider=request.provider))
            return resource_pb2.ResourceInvokeResponse(failures=None, **{"return": _to_struct(ret)})

    return PlanMocks, RecordingMonitor


_CLASSES: tuple[Any, Any] | None = None


def _classes() -> tuple[Any, Any]:
    global _CLASSES
    if _CLASSES is None:
        _CLASSES = _make_monitor_classes()
    return _CLASSES


class _InlineExecutor(concurrent.futures.ThreadPoolExecutor):
    """Runs submitted calls at once in the calling thread (the mock monitor never blocks). A
    ThreadPoolExecutor subclass only because asyncio insists on one; it never starts a thread."""

    def submit(self, fn: Callable[..., _T], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[_T]:
        fut: concurrent.futures.Future[_T] = concurrent.futures.Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            fut.set_exception(exc)
        return fut


def run_program(program: Callable[[], Awaitable[None] | None], *, mocks: Any, monitor: Any, project: str,
                stack: str) -> None:
    """Run ``program()`` (which registers resources) under ``set_mocks`` in a fresh event loop and fresh
    Pulumi settings, waiting for every outstanding RPC. Reentrant; used by :func:`plan` and the tests."""

    def run() -> None:
        import pulumi.runtime.settings as psettings
        from pulumi.runtime import set_mocks
        from pulumi.runtime.stack import run_pulumi_func

        loop = asyncio.new_event_loop()
        loop.set_default_executor(_InlineExecutor())
        asyncio.set_event_loop(loop)
        try:
            psettings.ROOT.set(None)
            psettings.SETTINGS.outputs = set()
            psettings.SETTINGS.package_refs = {}
            set_mocks(mocks, project=project, stack=stack, preview=False, monitor=monitor)
            loop.run_until_complete(run_pulumi_func(program))
        finally:
            try:
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                asyncio.set_event_loop(None)
                loop.close()

    def isolated() -> None:
        contextvars.copy_context().run(run)

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        isolated()
        return
    # Called from inside a running loop (an async caller): run on a thread of our own.
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="claude-foundry-plan") as pool:
        pool.submit(isolated).result()


def plan(spec: Spec, *, base_url_template: str = contract.FOUNDRY_BASE_URL_TEMPLATE,
         client_config: dict[str, str] | None = None, project: str = "claude-foundry",
         stack: str | None = None, component_name: str | None = None) -> Plan:
    """Run the Pulumi program for ``spec`` under mocks and return what it would create.

    ``client_config`` overrides (some of) :data:`DEFAULT_CLIENT_CONFIG` (clientId, objectId,
    subscriptionId, tenantId). ``stack`` defaults to ``spec.environment``.
    """
    from claude_foundry.program.components import DEFAULT_COMPONENT_NAME, ClaudeFoundryStack

    config = {**DEFAULT_CLIENT_CONFIG, **(client_config or {})}
    plan_mocks_cls, monitor_cls = _classes()
    mocks = plan_mocks_cls(config)
    monitor = monitor_cls(mocks)
    name = component_name or DEFAULT_COMPONENT_NAME

    def program() -> None:
        ClaudeFoundryStack(name, spec, base_url_template=base_url_template)

    stack_name = stack or spec.environment
    run_program(program, mocks=mocks, monitor=monitor, project=project, stack=stack_name)
    top = next((r for r in monitor.planned if r.type == STACK_TYPE), None)
    outputs, secret = monitor.component_outputs.get(top.urn, ({}, set())) if top else ({}, set())
    return Plan(resources=list(monitor.planned), outputs=outputs, secret_outputs=secret,
                client_config=config, project=project, stack=stack_name)


def plan_for_target(spec: Spec, target: Any) -> Plan:
    """The program's plan with a target's ids and endpoint template: anything with ``subscription_id``,
    ``tenant_id``, ``principal_id`` and ``foundry_base_url_template`` (a
    :class:`~claude_foundry._azure.target.Target`)."""
    config = {"subscriptionId": target.subscription_id}
    if getattr(target, "tenant_id", None):
        config["tenantId"] = target.tenant_id
    if getattr(target, "principal_id", None):
        config["objectId"] = target.principal_id
    return plan(spec, base_url_template=target.foundry_base_url_template, client_config=config)
