"""The locks (requirements/*.txt, written by scripts/lock; package-lock.json files) agree with what they lock:
every dependency pyproject.toml declares for a role is pinned in that role's lock at a version its range allows,
with hashes, and no lock names a download host. A change to pyproject.toml without `scripts/lock` fails here, not
on a fresh machine."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
REQ = ROOT / "requirements"
PIN_RE = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;\\]+)"
                    r"(?:\s*;\s*(?P<marker>[^\\]+?))?\s*\\?$")

#: lock file → the extras scripts/bootstrap installs with it
ROLES = {"core": [], "cli": ["cli"], "infra": ["infra"], "ops": ["ops"], "sandbox": ["sandbox"],
         "infra-sandbox": ["infra", "sandbox"], "ops-sandbox": ["ops", "sandbox"], "test": ["test"]}
#: lock file → its input (requirements/<name>.in)
TOOL_LOCKS = ("build", "release", "azure-cli", "clients", "tools")


def pyproject() -> dict:
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11 (CI and the locks' own tooling)
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


#: this repository's own distributions: installed from the tree (scripts/bootstrap), never from a lock
OURS = {"claude-foundry": ROOT / "pyproject.toml", "claude-foundry-sandbox": ROOT / "sandbox" / "pyproject.toml"}


def requirements_of(extras: list[str]) -> list[Requirement]:
    """The third-party requirements of claude-foundry with ``extras``, following its self-references and the
    sandbox distribution's own dependencies."""
    project = pyproject()["project"]
    out: list[Requirement] = []
    todo: list[str | None] = [None, *extras]
    seen: set[str | None] = set()
    sandbox_seen = False
    while todo:
        extra = todo.pop()
        if extra in seen:
            continue
        seen.add(extra)
        texts = list(project["dependencies"] if extra is None else project["optional-dependencies"][extra])
        while texts:
            req = Requirement(texts.pop())
            name = canonicalize_name(req.name)
            if name == "claude-foundry":
                todo.extend(req.extras)
            elif name == "claude-foundry-sandbox":
                if not sandbox_seen:
                    sandbox_seen = True
                    tomllib = pytest.importorskip("tomllib")
                    texts.extend(tomllib.loads(OURS[name].read_text(encoding="utf-8"))["project"]["dependencies"])
            else:
                out.append(req)
    return out


def pins(lock: Path) -> dict[str, list[tuple[Version, str | None]]]:
    found: dict[str, list[tuple[Version, str | None]]] = {}
    for line in lock.read_text(encoding="utf-8").splitlines():
        m = PIN_RE.match(line)
        if m:
            found.setdefault(canonicalize_name(m["name"]), []).append((Version(m["version"]), m["marker"]))
    return found


@pytest.mark.parametrize("role", sorted(ROLES))
def test_every_declared_dependency_is_pinned_within_its_range(role: str):
    lock = REQ / f"{role}.txt"
    assert lock.is_file(), f"{lock} missing: run scripts/lock"
    pinned = pins(lock)
    for req in requirements_of(ROLES[role]):
        name = canonicalize_name(req.name)
        assert name in pinned, f"{lock.name}: {req} is not locked (run scripts/lock after editing pyproject.toml)"
        ok = [v for v, _ in pinned[name] if req.specifier.contains(v, prereleases=True)]
        assert ok, f"{lock.name}: {name} {[str(v) for v, _ in pinned[name]]} is outside {req} (run scripts/lock)"


@pytest.mark.parametrize("role", sorted(ROLES))
def test_no_lock_carries_more_than_its_role(role: str):
    """`scripts/bootstrap infra` gets neither pytest nor the sandbox's server: a lock holds its role only."""
    if role == "test":
        return
    pinned = pins(REQ / f"{role}.txt")
    assert "pytest" not in pinned
    if "sandbox" not in ROLES[role]:
        assert "uvicorn" not in pinned
    if not {"infra", "ops"} & set(ROLES[role]):
        assert "pulumi" not in pinned


def test_one_version_per_package_across_the_role_locks():
    """Every role lock is constrained to the test lock: a package has the same version whatever was installed."""
    test = pins(REQ / "test.txt")
    for role in ROLES:
        for name, versions in pins(REQ / f"{role}.txt").items():
            mine, whole = {v for v, _ in versions}, {v for v, _ in test.get(name, [])}
            assert mine <= whole, f"{role}.txt: {name} {sorted(map(str, mine))} differs from test.txt"


@pytest.mark.parametrize("lock", sorted(REQ.glob("*.txt")), ids=lambda p: p.name)
def test_every_pin_has_hashes_and_no_host_is_named(lock: Path):
    text = lock.read_text(encoding="utf-8")
    entries = re.split(r"\n(?=[A-Za-z0-9])", text)
    pinned = [e for e in entries if PIN_RE.match(e.splitlines()[0])]
    assert pinned, lock.name
    for entry in pinned:
        assert "--hash=sha256:" in entry, f"{lock.name}: {entry.splitlines()[0]} has no hash"
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    assert "://" not in code, f"{lock.name} names a URL: locks name packages and hashes, not hosts"


@pytest.mark.parametrize("name", TOOL_LOCKS)
def test_tool_locks_pin_their_inputs(name: str):
    pinned = pins(REQ / f"{name}.txt")
    for line in (REQ / f"{name}.in").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            req = Requirement(line)
            assert canonicalize_name(req.name) in pinned, f"{name}.txt lacks {req.name}: run scripts/lock"


@pytest.mark.parametrize("directory", [ROOT, ROOT / "tests" / "clients"], ids=["tools", "clients"])
def test_npm_locks_match_their_package_json_and_name_no_registry(directory: Path):
    manifest = json.loads((directory / "package.json").read_text(encoding="utf-8"))
    lock = json.loads((directory / "package-lock.json").read_text(encoding="utf-8"))
    root = lock["packages"][""]
    for field in ("dependencies", "devDependencies"):
        assert root.get(field, {}) == manifest.get(field, {}), f"{directory}: run scripts/lock ({field})"
        for name, version in manifest.get(field, {}).items():
            assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"{name}: pin an exact version, not {version}"
            assert lock["packages"][f"node_modules/{name}"]["version"] == version
    for path, entry in lock["packages"].items():
        assert "resolved" not in entry, f"{directory.name}/package-lock.json names a registry at {path}"
        if path:
            assert entry.get("integrity", "").startswith("sha512-") or entry.get("link"), path


def test_bootstrap_finds_a_lock_for_each_documented_extras():
    """The extras scripts/bootstrap documents map onto a lock file (order-insensitive)."""
    text = (ROOT / "scripts" / "bootstrap").read_text(encoding="utf-8")
    documented = re.findall(r"^#   (\"\"|[a-z,]+)\s{2,}", text, re.MULTILINE)
    assert documented
    for extras in documented:
        key = "-".join(sorted(e for e in extras.strip('"').split(",") if e)) or "core"
        assert (REQ / f"{key}.txt").is_file(), f"scripts/bootstrap {extras}: no requirements/{key}.txt"
