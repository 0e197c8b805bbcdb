"""GitHub Actions workflow commands: ``::error file=F,line=L,title=T::message`` annotations, escaped as the
runner expects (docs.github.com "Workflow commands for GitHub Actions": ``%``, CR and LF in the message;
additionally ``:`` and ``,`` in properties)."""

from __future__ import annotations


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(level: str, message: str, *, file: str | None = None, line: int | None = None,
               title: str | None = None) -> str:
    """One ``::error``/``::warning``/``::notice`` line."""
    if level not in ("error", "warning", "notice"):
        raise ValueError(f"not an annotation level: {level}")
    props = [f"{k}={_escape_property(str(v))}" for k, v in (("file", file), ("line", line), ("title", title))
             if v is not None]
    return f"::{level}{' ' + ','.join(props) if props else ''}::{_escape_data(message)}"
