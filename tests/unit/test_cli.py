"""The CLI: user-facing failures end in one line and an exit code, never a traceback."""

from __future__ import annotations

import pytest

from claude_foundry.cli import COMMANDS, build_parser, main


def test_azure_sdk_errors_become_one_line(monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    from azure.core.exceptions import ClientAuthenticationError, ServiceRequestError

    from claude_foundry.cli import _validate as validate

    for exc, words, in ((ClientAuthenticationError("DefaultAzureCredential failed to retrieve a token"),
                         "Azure authentication failed"),
                        (ServiceRequestError("Name or service not known"), "cannot reach Azure")):
        def boom(args, exc=exc):
            raise exc
        monkeypatch.setattr(validate, "run", boom)
        assert main(["validate", "x.yaml"]) == 1
        err = capsys.readouterr().err
        assert err.startswith(f"error: {words}")
        assert "Traceback" not in err


def test_every_command_is_registered_with_help() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    names = {n.replace("_", "-") for n in COMMANDS}
    assert names <= set(sub.choices)
    for name in names:
        assert sub.choices[name].description, name
