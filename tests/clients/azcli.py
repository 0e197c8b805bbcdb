"""Driving the real Azure CLI (``az``, from ``pip install azure-cli``) against the sandbox.

``scripts/install_azure_cli`` puts az in its own venv, ``.clients/az-venv`` (ignored by git), so the project
venv keeps its own azure-* SDK versions. Without that venv the Azure CLI tests skip (:func:`skip_reason`).

:class:`AzCli` runs az with an isolated ``AZURE_CONFIG_DIR``, trusting the sandbox CA through
``REQUESTS_CA_BUNDLE`` (az's HTTP goes through requests: azure-core's transport and MSAL), with MSAL's instance
discovery off (it would ask login.microsoftonline.com about the loopback authority) and every connection that
is not to 127.0.0.1 sent to a dead proxy, so nothing leaves the machine. The client secret is redacted from
anything it raises.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
AZ_VENV = ROOT / ".clients" / "az-venv"
AZ = AZ_VENV / "bin" / "az"
CLOUD = "claude-sandbox"
REDACTED = "<redacted>"


def skip_reason() -> str | None:
    """Why the Azure CLI tests cannot run here, or None."""
    if not AZ.is_file():
        log = AZ_VENV.parent / "az-install.log"
        why = f"; the last install failed, see {log.relative_to(ROOT)}" if log.is_file() else ""
        return (f"the Azure CLI is not installed at {AZ.relative_to(ROOT)}: run scripts/install_azure_cli "
                f"(it needs network once; scripts/test runs it){why}")
    return None


def ca_bundle(sandbox_ca: str | os.PathLike[str], dest: Path) -> Path:
    """System CAs (certifi's, else OpenSSL's default file) plus the sandbox CA, for ``REQUESTS_CA_BUNDLE``
    (which replaces requests' own bundle)."""
    import ssl

    parts: list[str] = []
    try:
        import certifi

        parts.append(Path(certifi.where()).read_text(encoding="utf-8"))
    except ImportError:
        cafile = ssl.get_default_verify_paths().cafile
        if cafile and Path(cafile).is_file():
            parts.append(Path(cafile).read_text(encoding="utf-8"))
    parts.append(Path(sandbox_ca).read_text(encoding="utf-8"))
    dest.write_text("\n".join(p.rstrip("\n") for p in parts) + "\n", encoding="utf-8")
    return dest


class AzError(AssertionError):
    """An az command that failed (its command line and output, secrets redacted)."""


@dataclass
class AzCli:
    """``az`` with its own config directory, pointed at one sandbox through its connection dict."""

    connection: dict[str, Any]
    workdir: Path
    timings: list[tuple[str, float]] = field(default_factory=list)
    #: what ``az login`` printed: the subscriptions it found
    subscriptions: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.config_dir = self.workdir / "azure-config"
        self.config_dir.mkdir(parents=True, exist_ok=True)
        bundle = ca_bundle(self.connection["ca_bundle"], self.workdir / "ca-bundle.pem")
        keep = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "TMPDIR", "HOME")}
        self.env = {
            **keep,
            "AZURE_CONFIG_DIR": str(self.config_dir),
            "REQUESTS_CA_BUNDLE": str(bundle),
            "AZURE_CORE_INSTANCE_DISCOVERY": "false",
            "AZURE_CORE_COLLECT_TELEMETRY": "false",
            "AZURE_CORE_SURVEY_MESSAGE": "false",
            "AZURE_CORE_NO_COLOR": "true",
            "AZURE_CORE_OUTPUT": "json",
            # everything but the sandbox goes to a dead proxy: az never reaches the internet from a test
            "HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9",
            "NO_PROXY": "127.0.0.1,localhost",
            "PYTHONWARNINGS": "ignore",
        }
        self._secrets = [str(self.connection["client_secret"])]

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text

    def hide(self, secret: str) -> None:
        """Redact ``secret`` (a key az printed, say) from anything this runner raises."""
        self._secrets.append(secret)

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        start = time.perf_counter()
        proc = subprocess.run([str(AZ), *args], env=self.env, capture_output=True, text=True,  # noqa: S603
                              timeout=timeout, check=False, cwd=self.workdir)
        self.timings.append((" ".join(args[:3]), time.perf_counter() - start))
        if proc.returncode != 0:
            raise AzError(self.redact(f"az {' '.join(args)} exited {proc.returncode}\n"
                                      f"stdout: {proc.stdout[-4000:]}\nstderr: {proc.stderr[-4000:]}"))
        return proc

    def json(self, *args: str) -> Any:
        out = self.run(*args, "--output", "json").stdout
        return json.loads(out) if out.strip() else None

    def login(self) -> list[dict[str, Any]]:
        """Register the sandbox as a cloud (its ARM's ``/metadata/endpoints``), make it active and log in
        with the connection's service principal; az's subscription list (``GET /subscriptions``)."""
        c = self.connection
        self.run("cloud", "register", "--name", CLOUD, "--endpoint-resource-manager", c["arm_endpoint"])
        self.run("cloud", "set", "--name", CLOUD)
        self.subscriptions = self.json("login", "--service-principal", "--username", c["client_id"],
                                       "--password", c["client_secret"], "--tenant", c["tenant_id"])
        return self.subscriptions

    def remove(self) -> None:
        """Delete the config directory (az keeps the service principal's secret there)."""
        import shutil

        shutil.rmtree(self.config_dir, ignore_errors=True)
