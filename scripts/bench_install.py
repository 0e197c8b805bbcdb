"""Install size, measured as a new user would: throwaway virtualenvs from the package index, one per install.

* ``baseline``: ``anthropic`` + ``azure-identity`` + ``azure-keyvault-secrets`` alone (what an application
  calling Claude on Foundry with a Key Vault contract needs without claude-foundry);
* ``core``: ``pip install claude-foundry`` (the light install: runtime, smoke, env export, schema, doctor; no
  YAML reader: stack files need ``[cli]``);
* each extra: ``claude-foundry[cli]``, ``[ops]``, ``[infra]``, ``[sandbox]``, ``[test]``.

Target: core/baseline <= 1.05, from one run. Both distributions of this repository are built into wheels once
(``claude-foundry`` and ``claude-foundry-sandbox`` from ``sandbox/``, which ``[sandbox]`` pulls in and pip finds
next to the core wheel) and every virtualenv installs those (with the same specifiers for the baseline's three
packages as ``pyproject.toml``), so all installs resolve the same versions. Sizes are the bytes each
distribution's RECORD lists (the ``.pyc`` files pip compiles included), the virtualenv's own
pip/setuptools/wheel left out. Each install is also probed: the core imports the runtime, smoke and env export
with none of the extras' modules present (pyyaml neither), and a command of a missing extra exits 2 naming it;
each extra imports what its commands need.

    python scripts/bench_install.py                      # baseline, core and every extra
    python scripts/bench_install.py --only core          # baseline and core only (a minute)
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import re
import subprocess
import sys
import tempfile
import threading
import time
import venv
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET = 1.05

#: The runtime's own third-party dependencies: the baseline install.
BASELINE = ("anthropic", "azure-identity", "azure-keyvault-secrets")
EXTRAS = ("cli", "ops", "infra", "sandbox", "test")

#: The virtualenv's own tooling, present in every install and not part of what the project installs.
TOOLING = {"pip", "setuptools", "wheel"}

#: Import names each install must (True) or must not (False) find.
OPTIONAL_MODULES = ("rich", "yaml", "pulumi", "pulumi_azure_native", "azure.mgmt.resource",
                    "azure.mgmt.cognitiveservices", "starlette", "uvicorn", "claude_foundry_sandbox")
_SANDBOX_OFF = {"starlette": False, "uvicorn": False, "claude_foundry_sandbox": False}
EXPECT: dict[str, dict[str, bool]] = {
    "core": dict.fromkeys(OPTIONAL_MODULES, False),
    "cli": {**dict.fromkeys(OPTIONAL_MODULES, False), "rich": True, "yaml": True},
    "ops": {"rich": True, "yaml": True, "pulumi": True, "pulumi_azure_native": True, "azure.mgmt.resource": True,
            "azure.mgmt.cognitiveservices": True, **_SANDBOX_OFF},
    "infra": {"rich": True, "yaml": True, "pulumi": True, "pulumi_azure_native": True, "azure.mgmt.resource": False,
              "azure.mgmt.cognitiveservices": False, **_SANDBOX_OFF},
    "sandbox": {"rich": True, "yaml": True, "pulumi": False, "pulumi_azure_native": False,
                "azure.mgmt.resource": True, "azure.mgmt.cognitiveservices": True, "starlette": True, "uvicorn": True,
                "claude_foundry_sandbox": True},
    "test": dict.fromkeys(OPTIONAL_MODULES, True),
}
#: Modules each install must import (the code its commands run).
IMPORTS = {
    "core": ("claude_foundry._client.runtime", "claude_foundry._client.smoke", "claude_foundry._client.envexport",
             "claude_foundry.program.spec", "claude_foundry.cli"),
    "ops": ("claude_foundry._ops.preflight", "claude_foundry._ops.verify", "claude_foundry._ops.rotate",
            "claude_foundry.program._plan"),
    "infra": ("claude_foundry.program._plan", "claude_foundry.program.components"),
    "sandbox": ("claude_foundry_sandbox", "claude_foundry._azure.target", "claude_foundry.cli._sandbox"),
}
#: Commands run in an install: (install, argv, expected exit code, text stderr must hold).
COMMANDS = (
    ("core", ["schema"], 0, ""),
    ("core", ["validate", "stacks/dev.yaml"], 2, "pip install 'claude-foundry[cli]'"),
    ("core", ["smoke", "--stack", "stacks/dev.yaml"], 2, "pip install 'claude-foundry[cli]'"),
    ("cli", ["validate", "stacks/dev.yaml"], 0, ""),
    ("core", ["preflight", "stacks/dev.yaml"], 2, "pip install 'claude-foundry[ops]'"),
    ("core", ["plan", "stacks/dev.yaml"], 2, "pip install 'claude-foundry[infra]'"),
    ("core", ["sandbox"], 2, "pip install 'claude-foundry[sandbox]'"),
    ("infra", ["plan", "stacks/dev.yaml", "--json"], 0, ""),
    ("ops", ["plan", "stacks/dev.yaml", "--json"], 0, ""),
    ("ops", ["up", "--local", "stacks/dev.yaml"], 2, "pip install 'claude-foundry[infra,sandbox]'"),
)


def specifiers() -> dict[str, str]:
    """The pyproject's requirement string of each baseline package (so baseline and core resolve alike)."""
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    found = {}
    for name in BASELINE:
        m = re.search(rf'^\s*"({re.escape(name)}\b[^"]*)"', text, re.MULTILINE)
        found[name] = m.group(1) if m else name
    return found


def build_wheels(dist: Path) -> Path:
    """Both distributions' wheels into ``dist``; the core's path (the sandbox's is found with --find-links)."""
    for source in (ROOT, ROOT / "sandbox"):
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(dist), str(source)],
                       check=True, stdout=subprocess.DEVNULL)
    (wheel,) = dist.glob("claude_foundry-*.whl")
    (sandbox,) = dist.glob("claude_foundry_sandbox-*.whl")
    if sandbox.name.split("-")[1] != wheel.name.split("-")[1]:
        raise SystemExit(f"the two wheels disagree on the version: {wheel.name}, {sandbox.name}")
    with zipfile.ZipFile(wheel) as zf:  # a stale build/ directory of an older layout would put it back
        stray = [n for n in zf.namelist() if n.startswith(("claude_foundry/sandbox/", "claude_foundry_sandbox/"))]
    if stray:
        raise SystemExit(f"{wheel.name} carries the sandbox ({stray[0]}, ...): remove build/ and run again")
    return wheel


#: Creating a venv copies the interpreter and runs it (ensurepip); doing that in two threads at once can fail
#: with ETXTBSY ("Text file busy": one thread forks while another still holds a freshly written executable
#: open), so venvs are created one at a time and only the pip installs run in parallel.
_VENV_LOCK = threading.Lock()


def install(where: Path, requirements: list[str]) -> tuple[Path, float]:
    started = time.monotonic()
    with _VENV_LOCK:
        venv.EnvBuilder(with_pip=True).create(where)
    py = where / "bin" / "python"
    result = subprocess.run([str(py), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                             *requirements], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"pip install {' '.join(requirements)} failed:\n{result.stderr[-3000:]}")
    return py, time.monotonic() - started


SIZE_PROBE = """
import importlib.metadata as md, json, sys
tooling = set(sys.argv[1].split(","))
sizes = {}
for dist in md.distributions():
    name = dist.metadata["Name"].lower().replace("_", "-")
    if name in tooling:
        continue
    total = 0
    for f in dist.files or []:
        try:
            total += f.locate().stat().st_size
        except OSError:
            pass
    sizes[name] = total
print(json.dumps(sizes))
"""

FIND_PROBE = """
import importlib.util, json, sys
found = {}
for name in sys.argv[1:]:
    try:
        found[name] = importlib.util.find_spec(name) is not None
    except ImportError:
        found[name] = False
print(json.dumps(found))
"""


def installed_sizes(py: Path) -> dict[str, int]:
    """Bytes per installed distribution (from their RECORD files), the virtualenv's own tooling left out."""
    out = subprocess.run([str(py), "-c", SIZE_PROBE, ",".join(sorted(TOOLING))], check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout)


def probe(label: str, py: Path) -> list[str]:
    """What is wrong with this install (empty when its modules and commands are as the extras say)."""
    problems = []
    out = subprocess.run([str(py), "-c", FIND_PROBE, *OPTIONAL_MODULES], check=True, capture_output=True, text=True)
    found = json.loads(out.stdout)
    for name, want in EXPECT.get(label, {}).items():
        if found[name] != want:
            problems.append(f"{name} {'missing' if want else 'present'}")
    modules = IMPORTS.get(label, ())
    if modules:
        r = subprocess.run([str(py), "-c", "import " + ", ".join(modules)], capture_output=True, text=True,
                           check=False)
        if r.returncode:
            problems.append(f"import failed: {r.stderr.strip().splitlines()[-1]}")
    exe = py.parent / "claude-foundry"
    for where, argv, code, text in COMMANDS:
        if where != label:
            continue
        r = subprocess.run([str(exe), *argv], capture_output=True, text=True, cwd=ROOT, check=False, timeout=300)
        if r.returncode != code or text not in r.stderr or "Traceback" in r.stderr:
            problems.append(f"claude-foundry {' '.join(argv)}: exit {r.returncode} (want {code}): "
                            f"{r.stderr.strip()[-300:]}")
    return problems


def mb(n: float) -> str:
    return f"{n / 1e6:7.1f} MB"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", choices=("core", "all"), default="all",
                    help="core: the baseline and core installs only; all (default): every extra too")
    ap.add_argument("--jobs", type=int, default=3, help="installs built at once (3)")
    args = ap.parse_args(argv)

    labels = ["baseline", "core"] + ([] if args.only == "core" else list(EXTRAS))
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-install-") as tmp:
        wheel = build_wheels(Path(tmp) / "dist")
        # claude-foundry-sandbox is on no index before a release: pip finds it next to the core wheel.
        reqs = {"baseline": list(specifiers().values()), "core": [str(wheel)]}
        reqs.update({e: ["--find-links", str(wheel.parent), f"{wheel}[{e}]"] for e in EXTRAS})
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            futures = {label: pool.submit(install, Path(tmp) / label, reqs[label]) for label in labels}
            built = {label: f.result() for label, f in futures.items()}
        sizes = {label: installed_sizes(py) for label, (py, _) in built.items()}
        problems = {label: probe(label, py) for label, (py, _) in built.items() if label != "baseline"}

    base = sum(sizes["baseline"].values())
    core_sizes = sizes["core"]
    print(f"baseline = {' + '.join(reqs['baseline'])}")
    print(f"core = {wheel.name}")
    print(f"{'install':<10} {'size':>10} {'x baseline':>11}  {'seconds':>7}  what it adds (largest first)")
    for label in labels:
        total = sum(sizes[label].values())
        ref = sizes["baseline"] if label in ("baseline", "core") else core_sizes
        added = {n: b for n, b in sizes[label].items() if n not in ref}
        if label == "baseline":
            added = dict(sizes[label])
        top = ", ".join(f"{n} {b / 1e6:.1f}" for n, b in sorted(added.items(), key=lambda kv: -kv[1])[:6])
        more = f" (+{len(added) - 6} more)" if len(added) > 6 else ""
        name = label if label in ("baseline", "core") else f"[{label}]"
        print(f"{name:<10} {mb(total)} {total / base:10.3f}x  {built[label][1]:7.0f}  {top}{more}")
    ratio = sum(core_sizes.values()) / base
    ok = ratio <= TARGET
    print(f"core/baseline: {ratio:.3f} (target <= {TARGET:.2f}) {'OK' if ok else 'MISSED'}; "
          f"{time.monotonic() - started:.0f} s in all")
    for label, items in problems.items():
        for p in items:
            print(f"PROBLEM in {label}: {p}")
    return 0 if ok and not any(problems.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
