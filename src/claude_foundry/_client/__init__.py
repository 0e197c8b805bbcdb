"""What applications and CI import to call and check Claude: the runtime (contract from Key Vault or env),
the smoke test, the env export for Claude Code and the SDKs, and a pytest plugin. The light install: imports
only the vocabulary (``contract``, ``errors``, ``catalogue``), never Pulumi or the management SDKs."""
