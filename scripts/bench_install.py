"""Install size: the runtime-only install (``pip install claude-foundry``) versus the full one with the
Pulumi program's dependencies (``claude-foundry[infra]``). Target: runtime <= 1/10 of full.

Creates two throwaway virtualenvs (needs the package index), installs each, and sums the bytes of their
site-packages. Also proves the runtime install imports the runtime and smoke modules without Pulumi.

    python scripts/bench_install.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def install(where: Path, extras: str) -> Path:
    venv.EnvBuilder(with_pip=True).create(where)
    py = where / "bin" / "python"
    target = f"{ROOT}[{extras}]" if extras else str(ROOT)
    subprocess.run([str(py), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", target],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return py


#: The virtualenv's own tooling, present in both and not part of what the project installs.
TOOLING = {"pip", "setuptools", "wheel"}

SIZE_PROBE = """
import importlib.metadata as md, json, sys
tooling = set(sys.argv[1].split(","))
sizes = {}
for dist in md.distributions():
    name = dist.metadata["Name"].lower()
    if name in tooling:
        continue
    total = 0
    for f in dist.files or []:
        p = f.locate()
        try:
            total += p.stat().st_size
        except OSError:
            pass
    sizes[name] = total
print(json.dumps(sizes))
"""


def installed_sizes(py: Path) -> dict[str, int]:
    """Bytes per installed distribution (from their RECORD files), the venv's own tooling left out."""
    import json

    out = subprocess.run([str(py), "-c", SIZE_PROBE, ",".join(sorted(TOOLING))], check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout)


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        runtime_py = install(Path(tmp) / "runtime", "")
        full_py = install(Path(tmp) / "full", "infra")
        # the runtime install must serve the runtime, smoke and env export without Pulumi
        probe = ("import importlib.util, claude_foundry.client.runtime, claude_foundry.client.smoke, "
                 "claude_foundry.client.envexport;"
                 "assert importlib.util.find_spec('pulumi') is None, 'pulumi in the runtime install'")
        subprocess.run([str(runtime_py), "-c", probe], check=True)
        runtime_sizes = installed_sizes(runtime_py)
        full_sizes = installed_sizes(full_py)
    runtime, full = sum(runtime_sizes.values()), sum(full_sizes.values())
    ratio = runtime / full
    print("largest in the runtime install: " + ", ".join(
        f"{n} {b / 1e6:.1f} MB" for n, b in sorted(runtime_sizes.items(), key=lambda kv: -kv[1])[:5]))
    print("largest in the full install:    " + ", ".join(
        f"{n} {b / 1e6:.1f} MB" for n, b in sorted(full_sizes.items(), key=lambda kv: -kv[1])[:3]))
    print(f"runtime-only install: {runtime / 1e6:7.1f} MB")
    print(f"full install [infra]: {full / 1e6:7.1f} MB")
    print(f"ratio runtime/full:   {ratio:7.3f}  (target <= 0.100) {'OK' if ratio <= 0.1 else 'MISSED'}")
    return 0 if ratio <= 0.1 else 1


if __name__ == "__main__":
    sys.exit(main())
