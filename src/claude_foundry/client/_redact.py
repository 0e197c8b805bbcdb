"""Keeps Foundry keys out of logs: a filter on the anthropic SDK's logger and the registry of keys it
scrubs (every key a runtime has used in this process)."""

from __future__ import annotations

import logging
import threading


class _RedactKeys(logging.Filter):
    """Scrubs known keys from the anthropic SDK's debug log (it logs request options, headers included)."""

    def __init__(self) -> None:
        super().__init__()
        self.keys: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if self.keys:
            message = record.getMessage()
            if any(k in message for k in self.keys):
                for k in self.keys:
                    message = message.replace(k, "***")
                record.msg, record.args = message, None
        return True


_REDACT = _RedactKeys()
_REDACT_LOCK = threading.Lock()


def remember_key_for_redaction(key: str | None) -> None:
    if not key:
        return
    with _REDACT_LOCK:
        if not _REDACT.keys:
            logging.getLogger("anthropic._base_client").addFilter(_REDACT)
        _REDACT.keys.add(key)
