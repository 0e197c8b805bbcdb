"""Export a stack's contract as environment variables for the anthropic SDK and Claude Code.

``ANTHROPIC_FOUNDRY_RESOURCE`` when the base URL is the standard one for the resource, else
``ANTHROPIC_FOUNDRY_BASE_URL`` (the SDK refuses both); ``CLAUDE_CODE_USE_FOUNDRY=1``; and
``ANTHROPIC_DEFAULT_{OPUS,SONNET,HAIKU,FABLE}_MODEL`` pinned to this stack's deployment names, each with
``..._SUPPORTED_CAPABILITIES`` (Claude Code's capability tokens, from the catalogue's capabilities of the model
behind the deployment: a deployment name hides the model, and Claude Code would otherwise assume the newest
model's features) and ``..._NAME`` / ``..._DESCRIPTION`` (what its ``/model`` picker shows). For the local
sandbox: ``NODE_EXTRA_CA_CERTS`` (Node clients, Claude Code) and a combined bundle (system CAs plus the
sandbox CA) for ``SSL_CERT_FILE`` / ``REQUESTS_CA_BUNDLE``. The key only when asked for (``with_key``) and
only when the stack has one.
"""

from __future__ import annotations

import json
import shlex
import ssl
from collections.abc import Mapping
from pathlib import Path

from claude_foundry import _contract as c
from claude_foundry import _files as files
from claude_foundry._catalogue import Capabilities, Catalogue, load_catalogue
from claude_foundry._errors import ClaudeFoundryError

FORMATS = ("sh", "dotenv", "json", "claude-code", "claude-code-managed")

#: The families Claude Code pins (``ANTHROPIC_DEFAULT_<FAMILY>_MODEL``), in the order they are printed. Fable is
#: Claude Code's own (code.claude.com/docs/en/model-config, "Customize pinned model display and capabilities").
FAMILY_MODEL_VARS = {**c.ENV_DEFAULT_MODEL, "fable": "ANTHROPIC_DEFAULT_FABLE_MODEL"}
SUFFIX_CAPABILITIES = "_SUPPORTED_CAPABILITIES"
SUFFIX_NAME = "_NAME"
SUFFIX_DESCRIPTION = "_DESCRIPTION"
#: Node (Claude Code, @anthropic-ai/foundry-sdk) adds this CA to its bundled roots.
ENV_NODE_EXTRA_CA_CERTS = "NODE_EXTRA_CA_CERTS"
#: Python's ``ssl`` default context and ``requests``: these *replace* the system bundle, hence a combined file.
ENV_SSL_CERT_FILE = "SSL_CERT_FILE"
ENV_REQUESTS_CA_BUNDLE = "REQUESTS_CA_BUNDLE"
#: Claude Code's context window for a model id it does not recognise (a deployment name); it assumes 1M otherwise.
ENV_CLAUDE_CODE_MAX_CONTEXT_TOKENS = "CLAUDE_CODE_MAX_CONTEXT_TOKENS"
#: The combined bundle's file name, written next to the sandbox CA.
COMBINED_BUNDLE_NAME = "ca-bundle-with-system.pem"


def claude_code_capabilities(caps: Capabilities) -> list[str]:
    """Claude Code's ``_SUPPORTED_CAPABILITIES`` tokens for a model with these request capabilities.

    Tokens (Claude Code 2.1.x): ``effort``, ``xhigh_effort``, ``max_effort``, ``thinking``, ``adaptive_thinking``,
    ``interleaved_thinking`` (documented) and ``mid_conversation_system`` (read by the binary, undocumented).
    Unlisted tokens are disabled, so ``temperature`` is left out: Claude Code then omits the parameter, which
    every model takes. Interleaved thinking (thinking between tool calls) goes with thinking on every Claude 4+
    model the catalogue lists.
    """
    tokens: list[str] = []
    if caps.effort:
        tokens.append("effort")
        if "xhigh" in caps.effort:
            tokens.append("xhigh_effort")
        if "max" in caps.effort:
            tokens.append("max_effort")
    thinks = any(mode in caps.thinking for mode in ("enabled", "adaptive"))
    if thinks:
        tokens.append("thinking")
    if "adaptive" in caps.thinking:
        tokens.append("adaptive_thinking")
    if thinks:
        tokens.append("interleaved_thinking")
    if caps.mid_conversation_system:
        tokens.append("mid_conversation_system")
    return tokens


class EnvExportError(ClaudeFoundryError, ValueError):
    pass


#: Bytes one exported ``NAME=value`` may take: Linux's ``MAX_ARG_STRLEN`` (32 pages, 131,072 bytes with the NUL)
#: bounds each environment string a program can be started with.
MAX_ENV_ENTRY_BYTES = 131_072 - 1
#: Bytes all exported variables may take together: a quarter of the usual ``ARG_MAX`` (2 MiB), leaving room for
#: the rest of the environment and the command line.
MAX_ENV_TOTAL_BYTES = 512 * 1024


def check_env_size(variables: Mapping[str, str]) -> None:
    """:class:`EnvExportError` with words when a shell (or ``execve``) could not hold the variables: a value with a
    NUL byte, one ``NAME=value`` over :data:`MAX_ENV_ENTRY_BYTES`, all of them over :data:`MAX_ENV_TOTAL_BYTES`."""
    total = 0
    for name, value in variables.items():
        if "\0" in value:
            raise EnvExportError(f"{name}: the value holds a NUL byte, which no environment variable can hold")
        size = len(name.encode()) + 1 + len(value.encode())
        if size > MAX_ENV_ENTRY_BYTES:
            raise EnvExportError(f"{name}: {size:,} bytes, more than one environment variable can hold "
                                 f"({MAX_ENV_ENTRY_BYTES:,}); the contract is too large to export")
        total += size + 1
    if total > MAX_ENV_TOTAL_BYTES:
        raise EnvExportError(f"the variables take {total:,} bytes, more than an environment should carry "
                             f"({MAX_ENV_TOTAL_BYTES:,}); the contract is too large to export")


def _family(info: c.DeploymentInfo, catalogue: Catalogue) -> str:
    return info.family or catalogue.family_of(info.model)


def pick_family_deployments(
    contract: c.Contract, *, prefer: str | None = None, catalogue: Catalogue | None = None
) -> dict[str, str]:
    """Family -> deployment name, for the families Claude Code pins (opus, sonnet, haiku, fable).

    When several deployments share a family: ``prefer`` if it is one of them, else the newest model by
    catalogue order (the catalogue lists newer models first), then the deployment name.
    """
    cat = catalogue or load_catalogue()
    if prefer is not None and prefer not in contract.deployments:
        known = ", ".join(sorted(contract.deployments)) or "(none)"
        raise EnvExportError(f"unknown deployment {prefer!r}; known deployments: {known}")
    order = {model: i for i, model in enumerate(cat.models)}
    chosen: dict[str, tuple[tuple[int, int, str], str]] = {}
    for name, info in contract.deployments.items():
        family = _family(info, cat)
        if family not in FAMILY_MODEL_VARS:
            continue
        rank = (0 if name == prefer else 1, order.get(info.model, len(order)), name)
        if family not in chosen or rank < chosen[family][0]:
            chosen[family] = (rank, name)
    return {family: chosen[family][1] for family in FAMILY_MODEL_VARS if family in chosen}


def system_ca_file() -> Path | None:
    """The system's CA bundle (OpenSSL's default file), else certifi's, else None."""
    paths = ssl.get_default_verify_paths()
    for candidate in (paths.cafile, paths.openssl_cafile):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    try:
        import certifi
    except ImportError:
        return None
    return Path(certifi.where())


def write_combined_bundle(extra_ca: str | Path, dest: str | Path | None = None) -> Path:
    """System CAs plus ``extra_ca`` in one PEM file (default: ``ca-bundle-with-system.pem`` beside ``extra_ca``),
    written atomically; for ``SSL_CERT_FILE`` / ``REQUESTS_CA_BUNDLE``, which replace the system bundle."""
    extra = Path(extra_ca)
    target = Path(dest) if dest is not None else extra.with_name(COMBINED_BUNDLE_NAME)
    system = system_ca_file()
    parts = [system.read_text(encoding="utf-8").rstrip() + "\n"] if system else []
    parts.append(f"# claude-foundry sandbox CA ({extra})\n" + extra.read_text(encoding="utf-8").rstrip() + "\n")
    return write_private(target, "".join(parts))  # atomic; owner-only is fine for a file only its user reads


def env_vars(
    contract: c.Contract,
    *,
    deployment: str | None = None,
    with_key: bool = False,
    catalogue: Catalogue | None = None,
    ca_bundle: str | Path | None = None,
    combined_bundle: str | Path | None = None,
) -> dict[str, str]:
    """The variables, in a stable order. The key is included only with ``with_key`` and key auth.

    ``ca_bundle`` (the local sandbox's CA, never set against Azure) adds ``NODE_EXTRA_CA_CERTS`` and
    ``CLAUDE_FOUNDRY_CA_BUNDLE``; ``combined_bundle`` (see :func:`write_combined_bundle`) adds
    ``SSL_CERT_FILE`` and ``REQUESTS_CA_BUNDLE``.
    """
    cat = catalogue or load_catalogue()
    out: dict[str, str] = {}
    if contract.resource and contract.base_url.rstrip("/") == c.foundry_base_url(contract.resource):
        out[c.ENV_RESOURCE] = contract.resource
    else:
        out[c.ENV_BASE_URL] = contract.base_url.rstrip("/")
    out[c.ENV_CLIENT_BASE_URL] = contract.base_url.rstrip("/")
    if with_key and contract.api_key and contract.auth_mode != c.AUTH_MODE_ENTRA:
        out[c.ENV_API_KEY] = contract.api_key
    out[c.ENV_CLAUDE_CODE_USE_FOUNDRY] = "1"
    windows: list[int | None] = []
    for family, name in pick_family_deployments(contract, prefer=deployment, catalogue=cat).items():
        var = FAMILY_MODEL_VARS[family]
        info = contract.deployments[name]
        out[var] = info.physical(name)  # sent as is: after a move the Azure deployment, not the logical name
        model = cat.model(info.model)
        if model is not None:  # a model the catalogue does not know: Claude Code's own detection
            out[var + SUFFIX_CAPABILITIES] = ",".join(claude_code_capabilities(model.capabilities))
        windows.append(model.capabilities.context_window if model is not None else None)
        out[var + SUFFIX_NAME] = name if name == info.model else f"{name} ({info.model})"
        out[var + SUFFIX_DESCRIPTION] = f"{info.model} version {info.version} on Microsoft Foundry"
    if windows and None not in windows:  # one global value: the smallest window of the pinned models
        out[ENV_CLAUDE_CODE_MAX_CONTEXT_TOKENS] = str(min(w for w in windows if w is not None))
    if contract.deployments:
        out[c.ENV_DEPLOYMENTS] = c.dump_deployment_map(contract.deployments)
    if ca_bundle:
        out[ENV_NODE_EXTRA_CA_CERTS] = str(ca_bundle)
        out[c.ENV_CA_BUNDLE] = str(ca_bundle)
    if combined_bundle:
        out[ENV_SSL_CERT_FILE] = str(combined_bundle)
        out[ENV_REQUESTS_CA_BUNDLE] = str(combined_bundle)
    check_env_size(out)
    return out


#: What Claude Code reads of the variables: its ``settings.json`` ``env`` block takes only these (the runtime's own
#: and the CA variables of the sandbox stay in the shell's environment).
def _claude_code_env(variables: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in variables.items()
            if k.startswith(("ANTHROPIC_", "CLAUDE_CODE_")) or k in (ENV_NODE_EXTRA_CA_CERTS,)}


#: Where Claude Code reads the managed settings file on each OS (the file is ``managed-settings.json``, with drop-in
#: fragments in ``managed-settings.d/`` beside it). Checked against Claude Code's docs (code.claude.com/docs/en/settings
#: and /en/managed-settings, "Deploy a managed settings file") and the binary of the pinned release (2.1.332, whose
#: managed-settings directory is exactly these three, with no override outside Anthropic's own builds). Older docs
#: named ``C:\\ProgramData\\ClaudeCode`` on Windows; current releases read ``C:\\Program Files\\ClaudeCode``.
MANAGED_SETTINGS_PATHS = {
    "linux": "/etc/claude-code/managed-settings.json",  # also WSL
    "macos": "/Library/Application Support/ClaudeCode/managed-settings.json",
    "windows": "C:\\Program Files\\ClaudeCode\\managed-settings.json",
}
#: The settings' JSON schema (what Claude Code's docs give for editors).
CLAUDE_CODE_SETTINGS_SCHEMA = "https://json.schemastore.org/claude-code-settings.json"
#: Credentials never go into a managed (machine-wide, readable by every user) file: with none of them set, Claude
#: Code on Foundry authenticates each developer through the Azure SDK's default credential chain (``az login``,
#: managed identity, …), or ``ANTHROPIC_FOUNDRY_AUTH_TOKEN`` (an Entra token, from 2.1.203) in the developer's
#: own environment (code.claude.com/docs/en/microsoft-foundry, "Configure Azure credentials").
CLAUDE_CODE_CREDENTIAL_VARS = ("ANTHROPIC_FOUNDRY_API_KEY", "ANTHROPIC_FOUNDRY_AUTH_TOKEN")


def claude_code_managed_settings(variables: Mapping[str, str]) -> dict[str, object]:
    """Claude Code's managed settings for a team (``managed-settings.json``, see :data:`MANAGED_SETTINGS_PATHS`):
    the Foundry provider (``CLAUDE_CODE_USE_FOUNDRY``, the resource or base URL), the model pins with their
    capabilities, names and descriptions, the context window — and no credential (:data:`CLAUDE_CODE_CREDENTIAL_VARS`):
    each developer signs in with Entra ID, so no key leaves the vault."""
    env = {k: v for k, v in _claude_code_env(variables).items() if k not in CLAUDE_CODE_CREDENTIAL_VARS}
    return {"$schema": CLAUDE_CODE_SETTINGS_SCHEMA, "env": env}


def render(variables: Mapping[str, str], fmt: str = "sh") -> str:
    """``sh`` (``export K=...``), ``dotenv`` (``K=...``), ``json`` (an object; values shell-quoted in the first two)
    or ``claude-code``: a Claude Code ``settings.json`` document, ``{"env": {...}}`` with the variables Claude Code
    reads (to merge into ``.claude/settings.json`` or ``~/.claude/settings.json``); ``claude-code-managed``: the
    team's ``managed-settings.json`` (:func:`claude_code_managed_settings`; never a credential)."""
    if fmt == "claude-code-managed":
        return json.dumps(claude_code_managed_settings(variables), indent=2) + "\n"
    if fmt == "json":
        return json.dumps(dict(variables), indent=2) + "\n"
    if fmt == "claude-code":
        return json.dumps({"env": _claude_code_env(variables)}, indent=2) + "\n"
    if fmt not in FORMATS:
        raise EnvExportError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    lead = "export " if fmt == "sh" else ""
    return "".join(f"{lead}{k}={shlex.quote(v)}\n" for k, v in variables.items())


def render_contract_json(contract: c.Contract, variables: Mapping[str, str],
                         stack: c.StackContract | None = None) -> str:
    """The ``--format json`` export: ``Contract.public_json()`` plus the non-secret variables; with a ``stack`` of
    several accounts also its ``version`` and ``accounts`` (:meth:`contract.StackContract.public_json`), which
    ``FoundryRuntime.from_json`` reads back (a version 1 reader reads the fields at the top)."""
    data = contract.public_json()
    if stack is not None and len(stack.accounts) > 1:
        data["account"] = contract.account
        data.update(stack.public_json())
    data["env"] = {k: v for k, v in variables.items() if k != c.ENV_API_KEY}
    return json.dumps(data, indent=2, sort_keys=False) + "\n"


def write_private(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` with mode 0600, atomically (:func:`claude_foundry._files.write_private`)."""
    return files.write_private(path, text)
