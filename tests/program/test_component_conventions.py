"""Pulumi's conventions for components (issue 21): ``(name, args, opts)`` with any ``ResourceOptions``; args are
frozen keyword-only dataclasses checked when built, with errors naming the field; the accounts of a stack reach
every component as one list of ``AccountRef``."""

from __future__ import annotations

import dataclasses
import warnings

import pulumi
import pytest

from claude_foundry import _contract as contract
from claude_foundry.program._plan import plan
from claude_foundry.program.components import (
    AccessAssignmentsArgs,
    AccountRef,
    Alerts,
    AlertsArgs,
    ClaudeDeploymentsArgs,
    ClaudeFoundryStack,
    ClaudeFoundryStackArgs,
    ClaudeUserArgs,
    ContractVaultArgs,
    CostBudgetArgs,
    DiagnosticsArgs,
    FoundryAccount,
    FoundryAccountArgs,
    FoundryProjectArgs,
    PrivateNetworkArgs,
    SecretReaderArgs,
    UsageDashboardArgs,
)

pytest.importorskip("pulumi_azure_native")

STACK_TYPE = "claude-foundry:index:ClaudeFoundryStack"


def test_name_args_opts_with_protect_works_and_protects(run_program, dev_spec) -> None:
    run = run_program(lambda: ClaudeFoundryStack("c", ClaudeFoundryStackArgs(spec=dev_spec),
                                                 pulumi.ResourceOptions(protect=True)), stack="dev")
    top = [r for r in run.resources if r.type == STACK_TYPE]
    assert [(r.name, r.protect) for r in top] == [("c", True)]
    custom = [r for r in run.resources if r.custom]
    assert custom
    # Pulumi hands protect down to children: every resource of the stack is protected, the unprotected dev spec
    # notwithstanding
    assert [r.name for r in custom if not r.protect] == []
    unprotected = run_program(lambda: ClaudeFoundryStack("c", ClaudeFoundryStackArgs(spec=dev_spec)), stack="dev")
    assert not any(r.protect for r in unprotected.resources)


def test_any_resource_options_reach_the_component(run_program, dev_spec) -> None:
    def program() -> None:
        dependency = pulumi.CustomResource("test:index:Thing", "thing", {})
        ClaudeFoundryStack("c", dev_spec, opts=pulumi.ResourceOptions(depends_on=[dependency]))

    run = run_program(program, stack="dev")
    thing = run.by_name("thing")
    top = run.by_name("c")
    assert thing.urn in top.depends_on


def test_the_old_third_positional_still_plans_the_same_with_a_warning(run_program, dev_spec) -> None:
    template = "https://{resource}.example.test/anthropic"
    with pytest.warns(DeprecationWarning, match="base_url_template"):
        old = run_program(lambda: ClaudeFoundryStack("claude-foundry", dev_spec, template),  # type: ignore[arg-type]
                          stack="dev")
    new = plan(dev_spec, base_url_template=template)
    assert [(r.urn, r.inputs) for r in old.resources] == [(r.urn, r.inputs) for r in new.resources]
    assert new.outputs["endpoint"] == "https://contoso-claude-dev.example.test/anthropic"


def test_the_keyword_template_sends_no_warning(run_program, dev_spec) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        run_program(lambda: ClaudeFoundryStack("c", dev_spec, base_url_template=contract.FOUNDRY_BASE_URL_TEMPLATE),
                    stack="dev")


@pytest.mark.parametrize(("call", "words"), [
    (lambda spec: ClaudeFoundryStack("c", spec, opts=42), "opts must be a pulumi.ResourceOptions"),  # type: ignore[arg-type]
    (lambda spec: ClaudeFoundryStack("c", {"spec": spec}), "args must be a ClaudeFoundryStackArgs"),  # type: ignore[arg-type]
])
def test_wrong_arguments_to_the_stack_are_refused_with_words(run_program, dev_spec, call, words) -> None:
    with pytest.raises(TypeError, match=words):
        run_program(lambda: call(dev_spec), stack="dev")


ARGS_CLASSES = [ClaudeFoundryStackArgs, FoundryAccountArgs, ClaudeDeploymentsArgs, ContractVaultArgs,
                AccessAssignmentsArgs, DiagnosticsArgs, PrivateNetworkArgs, AlertsArgs, CostBudgetArgs,
                FoundryProjectArgs, ClaudeUserArgs, SecretReaderArgs, AccountRef, UsageDashboardArgs]


@pytest.mark.parametrize("cls", ARGS_CLASSES, ids=lambda c: c.__name__)
def test_args_are_frozen_keyword_only_dataclasses(cls) -> None:
    params = cls.__dataclass_params__
    assert params.frozen
    assert all(f.kw_only for f in dataclasses.fields(cls)), cls.__name__
    with pytest.raises(TypeError):
        cls(object())  # a positional argument


def test_stack_args_are_checked_when_built_naming_the_field(dev_spec) -> None:
    with pytest.raises(TypeError, match=r"ClaudeFoundryStackArgs.__init__\(\) missing .*'spec'"):
        ClaudeFoundryStackArgs()  # type: ignore[call-arg]
    cases = [
        ({"spec": None}, TypeError, "ClaudeFoundryStackArgs.spec must be"),
        ({"resource_group_name": 5}, TypeError, "ClaudeFoundryStackArgs.resource_group_name must be a str"),
        ({"resource_group_name": " "}, ValueError, "ClaudeFoundryStackArgs.resource_group_name must not be empty"),
        ({"workspace_id": ["/x"]}, TypeError, "ClaudeFoundryStackArgs.workspace_id must be a str"),
        ({"claude_users": "11111111-2222-3333-4444-555555555555"}, TypeError,
         "ClaudeFoundryStackArgs.claude_users must be a list or tuple"),
        ({"claude_users": [7]}, TypeError, r"ClaudeFoundryStackArgs.claude_users\[0\] must be an object id"),
        ({"secret_readers": [ClaudeUserArgs(principal_id="11111111-2222-3333-4444-555555555555")]}, TypeError,
         r"ClaudeFoundryStackArgs.secret_readers\[0\] must be an object id .* or a SecretReaderArgs"),
        ({"secret_readers": ["nope"]}, ValueError, r"ClaudeFoundryStackArgs.secret_readers\[0\]: .*GUID"),
        ({"base_url_template": "https://x.example/anthropic"}, ValueError, "must contain {resource}"),
    ]
    for override, exc, words in cases:
        with pytest.raises(exc, match=words):
            ClaudeFoundryStackArgs(**{"spec": dev_spec, **override})
    # lists become tuples (Outputs are accepted too: tests/program/test_library.py wires them)
    args = ClaudeFoundryStackArgs(spec=dev_spec, resource_group_name="rg",
                                  claude_users=["11111111-2222-3333-4444-555555555555"])
    assert args.claude_users == ("11111111-2222-3333-4444-555555555555",)
    with pytest.raises(dataclasses.FrozenInstanceError):
        args.spec = dev_spec  # type: ignore[misc]


def test_principal_args_are_checked_when_built() -> None:
    with pytest.raises(ValueError, match=r"ClaudeUserArgs.principal_id: .*GUID"):
        ClaudeUserArgs(principal_id="app-team")
    with pytest.raises(ValueError, match=r"ClaudeUserArgs.role must be"):
        ClaudeUserArgs(principal_id="11111111-2222-3333-4444-555555555555", role="owner")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"SecretReaderArgs.principal_type must be"):
        SecretReaderArgs(principal_id="11111111-2222-3333-4444-555555555555", principal_type="Robot")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"SecretReaderArgs.principal_id must be a str"):
        SecretReaderArgs(principal_id=1234)  # type: ignore[arg-type]


def _ref(key: str = contract.PRIMARY_ACCOUNT, name: str = "acct-a") -> AccountRef:
    return AccountRef(key=key, name=name, location="eastus2", id=f"/subscriptions/s/x/{name}",
                      resource_group_name="rg")


def test_lower_component_args_take_one_list_of_accounts(dev_spec) -> None:
    for accounts, exc, words in [
        ([], ValueError, "AlertsArgs.accounts must name at least one account"),
        ("acct-a", TypeError, "AlertsArgs.accounts must be a list of AccountRef"),
        ([("primary", "/id")], TypeError, "AlertsArgs.accounts must hold AccountRef"),
        ([_ref(), _ref(name="acct-b")], ValueError, "key must be unique"),
    ]:
        with pytest.raises(exc, match=words):
            AlertsArgs(spec=dev_spec, resource_group_name="rg", accounts=accounts)
    args = AlertsArgs(spec=dev_spec, resource_group_name="rg", accounts=[_ref(), _ref("west", "acct-b")])
    assert args.accounts == (_ref(), _ref("west", "acct-b"))
    with pytest.raises(TypeError, match=r"DiagnosticsArgs.vault_id must be a str"):
        DiagnosticsArgs(spec=dev_spec, resource_group_name="rg", accounts=[_ref()], vault_id=None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"ContractVaultArgs.spec must be"):
        ContractVaultArgs(spec="dev", resource_group_name="rg", tenant_id="t", accounts=[_ref()])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"AccountRef.id must be a str"):
        AccountRef(name="a", location="eastus2", id=None)  # type: ignore[arg-type]


def test_account_refs_name_the_first_account_as_a_one_account_stack() -> None:
    first, other = _ref(), _ref("west", "acct-b")
    assert (first.suffix, first.label("_"), first.scope_name()) == ("", "", "rg/acct-a")
    assert (other.suffix, other.label("_"), other.scope_name()) == ("-west", "_west", "rg/acct-b")


def test_a_lower_component_loops_over_the_accounts_it_is_given(run_program, make_spec) -> None:
    """Used one by one: two accounts of a program's own (``FoundryAccount.ref()``), alerts on both."""
    spec = make_spec("dev", "alerts: {emails: [a@contoso.com]}\n")

    def program() -> None:
        accounts = []
        for key, name, region in (("primary", "team-a", "eastus2"), ("west", "team-b", "westus3")):
            fa = FoundryAccount(f"acct-{key}", FoundryAccountArgs(
                foundry=spec.foundry.model_copy(update={"name": name}), location=region, resource_group_name="rg"))
            accounts.append(fa.ref(key=key))
        Alerts("alerts", AlertsArgs(spec=spec, resource_group_name="rg", accounts=accounts))

    run = run_program(program)
    alerts = run.of_type("azure-native:monitor:MetricAlert")
    assert sorted(a.name for a in alerts) == sorted(
        [f"alerts-{k}" for k in ("throttling", "server-errors", "latency")]
        + [f"alerts-west-{k}" for k in ("throttling", "server-errors", "latency")])
    scopes = {a.inputs["ruleName"].split("-")[1]: a.inputs["scopes"][0] for a in alerts}
    assert scopes["a"].endswith("/accounts/team-a")
    assert scopes["b"].endswith("/accounts/team-b")


def test_the_stack_hands_every_component_the_same_accounts(run_program, make_spec) -> None:
    spec = make_spec("dev", "accounts:\n  west: {name: contoso-claude-dev-w, location: westus3}\n")
    holder: dict[str, ClaudeFoundryStack] = {}
    run_program(lambda: holder.setdefault("s", ClaudeFoundryStack("s", spec)))
    stack = holder["s"]
    assert [(a.key, a.name, a.location) for a in stack.account_refs] == [
        ("primary", "contoso-claude-dev", "eastus2"), ("west", "contoso-claude-dev-w", "westus3")]
    assert list(stack.foundry_accounts) == list(stack.deployment_components) == ["primary", "west"]
    assert stack.foundry is stack.foundry_accounts["primary"]
    assert stack.diagnostics is not None
    assert list(stack.diagnostics.account_settings) == ["primary", "west"]
    assert stack.diagnostics.account_setting is stack.diagnostics.account_settings["primary"]
    assert set(stack.vault.secrets) >= {"api_key", "api_key_west", "accounts"}
