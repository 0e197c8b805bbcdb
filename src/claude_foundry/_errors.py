"""The errors claude-foundry raises on purpose, under one root: ``except ClaudeFoundryError`` catches every one of
them (and nothing else). Exit codes are the CLI's business (``claude_foundry.cli``), not these classes'.

* :class:`UserError`: a mistake the user can fix — bad input, a missing file, a stack, contract or environment
  variable that is not allowed. The CLI exits 2.
* :class:`OperationFailed`: a check or an operation against Azure (or the sandbox) failed; the message says why.
  The CLI exits 1.

Each domain subclasses one of them (``SpecError``, ``RuntimeConfigError``, ``CatalogueError``, ``NoCredential`` …);
bounds of the client (``ResponseBoundError``, ``CrossOriginRequestError``) and SDK changes (``SdkChangedError``)
subclass the root directly. A message never contains a key or token, nor a CLI flag: an argument that is not
allowed is an :class:`InvalidArgument` naming the *parameter* (``grace``), which the CLI words as its flag
(``--grace``); any other error whose words name a parameter (``raise the Key Vault timeout (vault_timeout)``)
is built from parts, the parameter a :class:`Parameter` (:meth:`ClaudeFoundryError.naming`), and the CLI words it
the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Parameter:
    """A library parameter an error's words name (``vault_timeout``): the library says its name (or ``said``, its
    words for it: ``auth="entra"``), a front end its own name for it (the CLI: its flag, ``cli.PARAMETER_FLAGS``)."""

    name: str
    said: str | None = None

    def text(self, names: Mapping[str, str] | None = None) -> str:
        """How the parameter is called: ``names[name]``, else the library's words."""
        return (names or {}).get(self.name) or self.said or self.name


class ClaudeFoundryError(Exception):
    """The root of every error claude-foundry raises on purpose.

    Built from one message, or from parts, some of them :class:`Parameter`
    (``OperationFailed("... raise the timeout (", Parameter("vault_timeout"), ")")``): the message then says each
    parameter's name, and :meth:`naming` the front end's names for them."""

    #: the parts of a message naming parameters (empty: a plain message)
    parts: tuple[str | Parameter, ...] = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # keywords: for the SDK error classes mixed in
        if any(isinstance(a, Parameter) for a in args):
            self.parts = tuple(a if isinstance(a, Parameter) else str(a) for a in args)
            args = (self.naming({}),)
        super().__init__(*args, **kwargs)

    def naming(self, names: Mapping[str, str]) -> str:
        """The message with each parameter called ``names[parameter]`` (its own name when absent)."""
        if not self.parts:
            return str(self)
        return "".join(p.text(names) if isinstance(p, Parameter) else p for p in self.parts)


class UserError(ClaudeFoundryError):
    """A mistake the user can fix (bad input, missing file, wrong value): the CLI prints it and exits 2."""


def install_hint(extras: Sequence[str]) -> str:
    """``pip install 'claude-foundry[a,b]'`` (or the core install when ``extras`` is empty)."""
    return f"pip install 'claude-foundry[{','.join(extras)}]'" if extras else "pip install claude-foundry"


class ExtraMissing(UserError):
    """Something this install cannot do: an extra of claude-foundry it needs is not (fully) installed. ``what``
    says what was asked (``reading a stack file (YAML)``), ``extras`` the extras that bring it, ``missing`` the
    import names this install lacks; the message ends with the command that installs them."""

    def __init__(self, what: str, extras: Sequence[str], missing: str) -> None:
        self.extras = tuple(extras)
        self.missing = missing
        needed = f"claude-foundry[{','.join(extras)}]" if extras else "claude-foundry's own dependencies"
        super().__init__(f"{what} needs {needed} ({missing} not installed): {install_hint(extras)}")


class OperationFailed(UserError):
    """A check or an operation against Azure (or the sandbox) failed; the message says why: the CLI exits 1.

    (A :class:`UserError` too, so that code catching user-facing errors to print them catches these as well.)"""


@dataclass(frozen=True)
class ArgumentProblem:
    """What is wrong with one argument of a library function, as a sentence ``before + <name> + detail``:
    ``parameter`` names the argument in the library's words (``grace``, ``accounts``, ``storage_account``),
    ``detail`` is the text after that name (``" must be a finite number of seconds >= 0, not nan"``,
    ``": 'x' is not allowed (...)"``), ``before`` any text before it. A front end names the argument its own way
    (the CLI: its flag) with :meth:`text`."""

    parameter: str
    detail: str
    before: str = ""

    def text(self, name: str | None = None) -> str:
        """The sentence, the argument called ``name`` (default: the parameter's name)."""
        return f"{self.before}{name or self.parameter}{self.detail}"


class InvalidArgument(UserError):
    """Arguments a library function does not allow, one :class:`ArgumentProblem` each (a line each in the
    message). :meth:`naming` words them with the front end's names for the parameters."""

    def __init__(self, *problems: ArgumentProblem) -> None:
        self.problems = problems
        super().__init__("\n".join(p.text() for p in problems))

    def naming(self, names: Mapping[str, str]) -> str:
        """The message with each parameter called ``names[parameter]`` (its own name when absent)."""
        return "\n".join(p.text(names.get(p.parameter)) for p in self.problems)
