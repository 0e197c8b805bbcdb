"""``Sandbox``: runs the app with uvicorn over HTTPS on 127.0.0.1, in a background thread."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import secrets
import shutil
import socket
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from claude_foundry import _contract as contract
from claude_foundry._files import write_private
from claude_foundry_sandbox import identity
from claude_foundry_sandbox.app import ADMIN_PREFIX, add_principal, build_app
from claude_foundry_sandbox.certs import make_certificates
from claude_foundry_sandbox.faults import FaultBook, FaultSpec, fault_names
from claude_foundry_sandbox.state import State, load_seed, parse_today

HOST = "127.0.0.1"
ARM_SCOPE = "https://management.azure.com/.default"
#: where ``access_log`` writes one line per request (to stderr when nothing else handles it)
ACCESS_LOGGER = "claude_foundry_sandbox.access"


@dataclass
class SandboxConfig:
    """How to run the sandbox. ``state_dir`` None: a temporary directory removed at stop."""

    state_dir: str | os.PathLike[str] | None = None
    port: int = 0
    persist_file: str | os.PathLike[str] | None = None
    provisioning_delay: float = 0.0
    seed: dict[str, Any] | str | os.PathLike[str] | None = None
    tenant_id: str | None = None
    subscription_id: str | None = None
    access_log: bool = False
    start_timeout: float = 15.0


def _access_path(scope: dict[str, Any]) -> str:
    """The request path with only ``api-version`` kept from the query (other values could be secrets)."""
    from urllib.parse import parse_qsl, quote

    path = quote(str(scope.get("path", "")), safe="/:@!$&'()*+,;=-._~")
    query = scope.get("query_string", b"").decode("latin-1")
    versions = [v for k, v in parse_qsl(query, keep_blank_values=True) if k == "api-version"]
    return f"{path}?api-version={quote(versions[0], safe='-.')}" if versions else path


class AccessLog:
    """ASGI middleware: one line per HTTP request — method, path (query reduced to ``api-version``), status,
    duration in ms. Never a header, a body or another query value (tokens, keys and secrets travel there)."""

    def __init__(self, app: Any, logger: logging.Logger) -> None:
        self.app = app
        self.logger = logger

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status: list[int] = []

        async def send_wrapper(message: dict[str, Any]) -> None:
            if message.get("type") == "http.response.start":
                status.append(int(message.get("status", 0)))
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            self.logger.info("%s %s %s %.1f ms", scope.get("method", "-"), _access_path(scope),
                             status[0] if status else "-", (time.perf_counter() - start) * 1000)


class DownFaults:
    """ASGI middleware for ``down`` faults: a Foundry call to an account that is down gets its connection
    dropped (aborted, so the client sees a reset) before anything is read or answered."""

    def __init__(self, app: Any, state: State, faults: FaultBook) -> None:
        self.app, self.state, self.faults = app, state, faults

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = str(scope.get("path", ""))
        if scope.get("type") == "http" and path.startswith("/foundry/"):
            resource = path.split("/")[2] if path.count("/") >= 2 else ""
            with self.state.lock:
                names = fault_names(self.state.account_by_subdomain(resource), resource) or (resource,)
            if self.faults.draw_down(names):
                transport = getattr(getattr(send, "__self__", None), "transport", None)
                self.faults.record_answer(names[0], "*", path.split("/anthropic/", 1)[-1], 0, "down")
                if transport is not None:
                    transport.abort()
                    for _ in range(1000):  # until uvicorn has seen the connection lost (else it logs an error)
                        if (await receive()).get("type") == "http.disconnect":
                            break
                    return
                raise ConnectionResetError("down fault")  # no transport to abort: uvicorn answers 500
        await self.app(scope, receive, send)


def _access_logger() -> logging.Logger:
    logger = logging.getLogger(ACCESS_LOGGER)
    logger.setLevel(logging.INFO)
    if not logger.hasHandlers():  # the CLI: nothing is configured, write to stderr
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s sandbox %(message)s"))
        logger.addHandler(handler)
    return logger


def _make_server(config: Any) -> Any:
    import uvicorn

    class _Server(uvicorn.Server):
        """Stops at once: aborts open connections (idle TLS keep-alives would hold a graceful close for
        the client's close_notify) and cancels running requests (hang faults) before uvicorn's shutdown."""

        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            for task in list(self.server_state.tasks):
                task.cancel()
            for connection in list(self.server_state.connections):
                transport = getattr(connection, "transport", None)
                if transport is not None:
                    transport.abort()
            await super().shutdown(sockets)

    return _Server(config)


class Sandbox:
    """A local stand-in for Entra ID, ARM, Key Vault and the Foundry Claude endpoint. Not Azure."""

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig()
        seed = load_seed(self.config.seed)
        self._faults = FaultBook()
        self._state = State(seed=seed, persist_file=self.config.persist_file,
                            provisioning_delay=self.config.provisioning_delay,
                            tenant_id=self.config.tenant_id, subscription_id=self.config.subscription_id)
        for item in seed.get("faults") or []:
            item = dict(item)
            self._faults.set(str(item.pop("account")), str(item.pop("deployment", "*")), FaultSpec.from_json(item))
        #: the admin API's bearer token, new for every run (the connection file's ``admin_token``)
        self.admin_token = secrets.token_urlsafe(32)
        self._own_state_dir = self.config.state_dir is None
        # absolute: the connection file names the CA bundle inside it, read by clients in other directories
        self.state_dir: Path | None = Path(self.config.state_dir).resolve() if self.config.state_dir else None
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self.port = 0

    # --- lifecycle --------------------------------------------------------------------------------

    def start(self) -> Sandbox:
        import uvicorn

        if self._thread is not None:
            return self
        if self.state_dir is None:
            self.state_dir = Path(tempfile.mkdtemp(prefix="claude-foundry-sandbox-"))
        certs = make_certificates(self.state_dir)
        self.ca_bundle = certs.ca_bundle
        # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY on accepted connections only when the listening
        # socket says it is TCP; without it Nagle's algorithm meets delayed ACKs and every request takes 40 ms.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            sock.bind((HOST, self.config.port))
        except OSError as exc:
            sock.close()
            raise OSError(f"cannot listen on {HOST}:{self.config.port}: {exc.strerror}") from None
        sock.listen(256)
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        self._state.set_origin(f"https://{HOST}:{self.port}")
        app: Any = DownFaults(build_app(self._state, self._faults, self.admin_token), self._state, self._faults)
        if self.config.access_log:
            app = AccessLog(app, _access_logger())
        # uvicorn's own access log stays off: it prints the whole query string and the client address
        config = uvicorn.Config(app, ssl_certfile=str(certs.cert_file), ssl_keyfile=str(certs.key_file),
                                log_config=None, log_level="warning", access_log=False,
                                lifespan="off", ws="none", timeout_graceful_shutdown=1, backlog=256,
                                timeout_keep_alive=30)
        self._server = _make_server(config)
        self._sock = sock

        def serve() -> None:
            try:
                self._server.run(sockets=[sock])
            except BaseException as exc:  # reported by start()
                self._error = exc

        self._thread = threading.Thread(target=serve, name="claude-foundry-sandbox", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + self.config.start_timeout
        while not self._server.started:
            if self._error is not None or not self._thread.is_alive():
                raise RuntimeError(f"the sandbox server did not start: {self._error!r}")
            if time.monotonic() > deadline:
                raise RuntimeError("the sandbox server did not start in time")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
            self._thread = None
            self._sock.close()
        self._state.save()
        if self._own_state_dir and self.state_dir is not None:
            shutil.rmtree(self.state_dir, ignore_errors=True)
            self.state_dir = None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # --- connection -------------------------------------------------------------------------------

    @property
    def origin(self) -> str:
        return self._state.origin

    @property
    def connection(self) -> dict[str, Any]:
        """The connection file's content (includes the deployer's client secret)."""
        main = self._state.main_principal
        return {
            "sandbox": True,
            "arm_endpoint": self.origin,
            "authority": self.origin,
            "tenant_id": self._state.tenant_id,
            "client_id": main["client_id"],
            "client_secret": main["client_secret"],
            "principal_id": main["object_id"],
            "subscription_id": self._state.subscription_id,
            "ca_bundle": str(self.ca_bundle),
            "foundry_base_url_template": f"{self.origin}/foundry/{{resource}}/anthropic",
            "key_vault_url_template": f"{self.origin}/kv/{{vault}}/",
            "arm_scope": ARM_SCOPE,
            "key_vault_scope": identity.kv_resource(self._state) + "/.default",
            "foundry_scopes": list(contract.TOKEN_SCOPES),
            "admin_url": f"{self.origin}{ADMIN_PREFIX}",
            "admin_token": self.admin_token,
        }

    @property
    def admin_headers(self) -> dict[str, str]:
        """The header the admin API (``admin_url``) needs."""
        return {"Authorization": f"Bearer {self.admin_token}"}

    def write_connection_file(self, path: str | os.PathLike[str]) -> Path:
        """Write the connection JSON (mode 0600, even over an existing file: it holds a client secret and the
        admin token)."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        return write_private(target, json.dumps(self.connection, indent=2, sort_keys=True) + "\n")

    def foundry_base_url(self, resource: str) -> str:
        return contract.foundry_base_url(resource, self.connection["foundry_base_url_template"])

    def vault_url(self, vault: str) -> str:
        return f"{self.origin}/kv/{vault.lower()}/"

    # --- control ----------------------------------------------------------------------------------

    @property
    def state(self) -> State:
        return self._state

    @property
    def faults(self) -> FaultBook:
        return self._faults

    def set_fault(self, account: str, deployment: str, spec: FaultSpec | dict[str, Any]) -> None:
        """Inject ``spec`` on calls to ``deployment`` (``*``: any) of ``account`` (name or subdomain).

        Account-wide (``deployment="*"``): ``{"down": True}`` drops every connection to the account,
        ``{"status": 429, "retry_after": 5}``, ``{"latency": 3}`` / ``{"hang": 30}``, ``{"status": 500}``."""
        if isinstance(spec, dict):
            spec = FaultSpec.from_json(spec)
        self._faults.set(account, deployment, spec)

    def clear_faults(self, account: str | None = None, deployment: str | None = None) -> None:
        self._faults.clear(account, deployment)

    def set_inside_network(self, *vnet_ids: str) -> None:
        """From now on the sandbox's callers are inside these virtual networks (ARM ids), as a self-hosted runner
        in the VNet is: accounts and vaults with public access disabled answer them through their approved private
        endpoints there. No argument: outside every network again (the default)."""
        with self._state.lock:
            self._state.inside_networks = {v.lower().rstrip("/") for v in vnet_ids}

    def add_principal(self, display_name: str | None = None,
                      roles: list[tuple[str, str]] | None = None) -> dict[str, Any]:
        """A new principal: ``client_id``, ``client_secret``, ``principal_id`` (object id), ``tenant_id``."""
        return add_principal(self._state, display_name, roles)

    def grant(self, principal_id: str, role: str, scope: str) -> dict[str, Any]:
        """Assign ``role`` (``arm.ROLE_IDS`` key or GUID) to ``principal_id`` at ``scope``, bypassing ARM."""
        return self._state.add_role_assignment(scope, principal_id, role)

    @property
    def today(self) -> dt.date:
        """The date the sandbox judges the model lifecycle by (retired models stop answering, deprecated ones take
        no new deployments). Set a ``date`` or ``YYYY-MM-DD`` to move the clock; None goes back to the real date."""
        return self._state.today_date()

    @today.setter
    def today(self, value: dt.date | str | None) -> None:
        parsed = parse_today(value)
        with self._state.lock:
            self._state.today = parsed

    @property
    def provisioning_delay(self) -> float:
        return self._state.provisioning_delay

    @provisioning_delay.setter
    def provisioning_delay(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("provisioning_delay must be >= 0")
        self._state.provisioning_delay = float(seconds)
