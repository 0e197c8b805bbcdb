"""The stack loader under hostile input: every malformed or oversized file ends in a SpecError naming the file
(exit 2 from the CLI), bounded in time and memory, never a traceback; duplicate-looking keys and pasted secrets
are refused without echoing; ``extends`` is linear and stays inside the project."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stacktext import one_deployment_stack

from claude_foundry.cli import main
from claude_foundry.program.spec import SpecError, load_spec
from claude_foundry.program.spec import _loader as ld

GOOD = one_deployment_stack()


def write(tmp_path: Path, text: str | bytes, name: str = "stack.yaml") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def refused(path: Path | str) -> str:
    with pytest.raises(SpecError) as info:
        load_spec(path)
    return str(info.value)


LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(8))


@pytest.mark.parametrize(("text", "fragment"), [
    ("a: " + "[" * 500 + "]" * 500 + "\n", "nested more than"),
    (LAUGHS, "aliases expand to more than"),
    ("a: &a [*a]\n", "an alias refers to itself"),
    ("environment: " + "x" * 20000 + "\n", "a value longer than"),
    ("environment: " + "9" * 4400 + "\n", "environment: not a valid value: Exceeds the limit"),
    ("environment: dev\x00\n", "not valid YAML"),
    ("environment: !custom dev\n", "the YAML tag !custom is not allowed"),
    ("? {a: 1}\n: x\n", "mapping keys must be plain strings"),
    ("note: !!binary c2stYW50LWFwaTAzLWFiY2RlZmdoaWprbG1ub3A=\n", "the YAML tag tag:yaml.org,2002:binary"),
])
def test_hostile_yaml_is_a_readable_refusal(tmp_path: Path, text: str, fragment: str) -> None:
    path = write(tmp_path, text)
    started = time.monotonic()
    message = refused(path)
    assert time.monotonic() - started < 5
    assert fragment in message
    assert message.startswith(str(path.name)) or str(path) in message or "stack.yaml" in message


def test_a_huge_file_is_refused_before_reading_it(tmp_path: Path) -> None:
    path = write(tmp_path, b"#" * (ld.MAX_FILE_BYTES + 10))
    assert "a stack file is at most" in refused(path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_a_fifo_or_device_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    assert "not a regular file" in refused(fifo)
    assert "not a regular file" in refused("/dev/zero")


def test_a_symlink_loop_is_refused(tmp_path: Path) -> None:
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.symlink_to(b)
    b.symlink_to(a)
    assert "cannot read" in refused(a)


def test_keys_differing_only_by_whitespace_cannot_collide(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("  fast: {model: claude-haiku-4-5}",
                                        '  fast: {model: claude-haiku-4-5}\n  "fast ": {model: claude-sonnet-4-6}'))
    message = refused(path)
    assert "key 'fast' has leading or trailing spaces" in message


def test_an_extends_chain_is_bounded_and_linear(tmp_path: Path) -> None:
    for n in range(ld.MAX_EXTENDS + 2):
        write(tmp_path, f"extends: s{n + 1}.yaml\n" if n <= ld.MAX_EXTENDS else GOOD, f"s{n}.yaml")
    assert f"extends chain longer than {ld.MAX_EXTENDS} files" in refused(tmp_path / "s0.yaml")
    # linear: 8,000 tags through extends cost about what they cost without it
    tags = "tags:\n" + "".join(f"  t{i}: v{i}\n" for i in range(8000))
    base = write(tmp_path, GOOD + tags, "base.yaml")
    child = write(tmp_path, "extends: base.yaml\nenvironment: dev\n" + tags.replace(": v", ": w"), "child.yaml")
    started = time.monotonic()
    ld.load_document(base)
    plain = time.monotonic() - started
    started = time.monotonic()
    doc = ld.load_document(child)
    merged = time.monotonic() - started
    assert doc.data["tags"]["t7999"] == "w7999"
    assert merged < max(10 * plain, 1.0), (plain, merged)


def test_extends_stays_inside_the_project_unless_the_stack_says_so(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "stacks").mkdir(parents=True)
    (project / "Pulumi.yaml").write_text("name: x\nruntime: python\n", encoding="utf-8")
    outside = write(tmp_path, GOOD, "elsewhere.yaml")
    stack = write(project / "stacks", "extends: ../../elsewhere.yaml\n", "dev.yaml")
    assert "lies outside the stack's project" in refused(stack)
    ok = write(project / "stacks", "extends: {path: ../../elsewhere.yaml, outside_project: true}\n", "dev2.yaml")
    assert load_spec(ok).environment == "dev"
    assert outside.is_file()
    inside = write(project, GOOD, "shared.yaml")
    assert load_spec(write(project / "stacks", "extends: ../shared.yaml\n", "dev3.yaml")).environment == "dev"
    assert inside.is_file()


def outcome(path: Path) -> str:
    """``"ok"`` or the SpecError's message (never anything else: a traceback fails the test)."""
    try:
        load_spec(path)
    except SpecError as exc:
        return str(exc)
    return "ok"


def test_the_cli_exits_2_on_hostile_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "a: &a [*a]\n")
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "stack.yaml:1" in err


@settings(max_examples=150, deadline=2000, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=400))
def test_any_bytes_end_in_a_spec_or_a_spec_error(tmp_path: Path, data: bytes) -> None:
    assert outcome(write(tmp_path, data, "fuzz.yaml"))


@settings(max_examples=150, deadline=2000, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(min_value=0, max_value=len(GOOD) - 1), st.text(max_size=12))
def test_any_mutation_of_a_valid_stack_ends_in_a_spec_or_a_spec_error(tmp_path: Path, at: int, insert: str) -> None:
    assert outcome(write(tmp_path, GOOD[:at] + insert + GOOD[at:], "mutant.yaml"))


KEY84 = "Zx" * 42


@pytest.mark.parametrize("text", [
    f"tags: {{note: 'the key is {KEY84} for now'}}\n",          # embedded in a sentence
    f"tags: {{{KEY84}: x}}\n",                                  # used as a mapping key
    "tags: {note: 'use 0123456789abcdef0123456789abcdef here'}\n",
    f"foundry:\n  name: contoso-claude-dev\n  api_key: {KEY84}\n  model_provider: {{organization_name: C, "
    "country_code: US, industry: technology}\n",                # a field the schema does not know, holding a key
])
def test_a_pasted_secret_is_found_anywhere_and_never_echoed(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, GOOD.replace("foundry:\n  name: contoso-claude-dev\n  model_provider: {organization_name: "
                                        "Contoso, country_code: US, industry: technology}\n", "") + text)
    message = outcome(path)
    assert message != "ok"
    assert KEY84 not in message
    assert "0123456789abcdef0123456789abcdef" not in message
    assert "looks like a key or token" in message or "keys and tokens never belong" in message
