"""``claude-foundry sandbox``: run the local stand-in for Azure (Entra ID, ARM, Key Vault, Foundry)."""

from __future__ import annotations

import argparse
import sys

from claude_foundry.cli._target import bounded


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sandbox",
        help="run the local sandbox: a stand-in for Entra ID, ARM, Key Vault and Foundry (not Azure)",
        description="Serve a local HTTPS stand-in for the parts of Azure claude-foundry touches (Entra ID tokens, "
        "Azure Resource Manager, Key Vault secrets and the Foundry Claude endpoint) on 127.0.0.1 until Ctrl-C or "
        "SIGTERM. It is not Azure: nothing leaves this machine and the answers are canned. Point clients at it "
        "with the connection file (credentials, endpoints and the CA bundle to verify against).",
    )
    p.add_argument("--port", type=bounded(int, 0, 65535), default=0,
                   help="port on 127.0.0.1 (default 0: any free port)")
    p.add_argument("--connection-file", metavar="FILE",
                   help="write the connection JSON here once serving (mode 0600: it holds a client secret and the "
                   "admin API's token)")
    p.add_argument("--state-dir", metavar="DIR", default=".sandbox",
                   help="where the CA and server certificate are kept (default: .sandbox)")
    p.add_argument("--persist", metavar="FILE",
                   help="load state from FILE at start and save it after each change (keys included)")
    p.add_argument("--seed", metavar="FILE",
                   help="YAML/JSON seed (see docs/sandbox.md): quota, default_quota, models_by_location, "
                   "taken_subdomains, marketplace_agreements, marketplace_default_accepted, "
                   "marketplace_unknown_offers, faults, provisioning_delay")
    p.add_argument("--provisioning-delay", type=bounded(float, 0.0, 3600.0, "seconds"), default=0.0, metavar="S",
                   help="seconds a long-running ARM operation stays in progress (default 0)")
    p.add_argument("--access-log", action="store_true",
                   help="log one line per request to stderr: method, path (of the query only api-version), "
                   "status and duration in ms; never a header, a body, a key or a token")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import signal
    import threading
    from pathlib import Path

    from claude_foundry._errors import OperationFailed, UserError

    try:
        from claude_foundry_sandbox import Sandbox, SandboxConfig
    except ModuleNotFoundError as exc:
        raise UserError(f"the sandbox needs the 'sandbox' extra (pip install 'claude-foundry[sandbox]'): "
                        f"missing {exc.name}") from None

    if not 0 <= args.port <= 65535:
        raise UserError(f"--port must be between 0 and 65535, not {args.port}")
    if args.provisioning_delay < 0:
        raise UserError("--provisioning-delay must be >= 0")
    if args.seed and not Path(args.seed).is_file():
        raise UserError(f"--seed: no such file: {args.seed}")
    if args.persist and Path(args.persist).exists() and not Path(args.persist).is_file():
        raise UserError(f"--persist: not a file: {args.persist}")
    state_dir = Path(args.state_dir)
    if state_dir.exists() and not state_dir.is_dir():
        raise UserError(f"--state-dir: not a directory: {state_dir}")

    config = SandboxConfig(state_dir=state_dir, port=args.port, persist_file=args.persist,
                           provisioning_delay=args.provisioning_delay, seed=args.seed, access_log=args.access_log)
    try:
        sandbox = Sandbox(config)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    try:
        sandbox.start()
    except (OSError, RuntimeError) as exc:
        raise UserError(f"cannot start the sandbox: {exc}") from None

    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        conn = sandbox.connection
        if args.connection_file:
            try:
                sandbox.write_connection_file(args.connection_file)
            except OSError as exc:
                raise UserError(f"cannot write --connection-file {args.connection_file}: {exc.strerror}") from None
        print(f"claude-foundry sandbox (a local stand-in, not Azure) serving on {conn['arm_endpoint']}",
              file=sys.stderr)
        print(f"  tenant {conn['tenant_id']}, subscription {conn['subscription_id']}", file=sys.stderr)
        print(f"  CA bundle: {conn['ca_bundle']}", file=sys.stderr)
        if args.connection_file:
            print(f"  connection file: {args.connection_file}", file=sys.stderr)
        if args.persist:
            print(f"  state persisted to {args.persist}", file=sys.stderr)
        print("  Ctrl-C to stop", file=sys.stderr)
        sys.stderr.flush()
        while not stop.wait(0.5):
            if not sandbox.running:
                raise OperationFailed("the sandbox server stopped unexpectedly")
    finally:
        sandbox.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print("sandbox stopped", file=sys.stderr)
    return 0
