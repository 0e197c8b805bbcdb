"""``claude-foundry init [DIR]``: write a team's own repository that deploys Claude with claude-foundry.

The files come from the package's ``scaffold/`` directory (package data), the single source of the workflow
templates: this repository's ``.github/workflows/`` holds the same files (a test keeps them equal). Scaffold
conventions:

* a path part ``dot-NAME`` is written as ``.NAME`` (``dot-github/`` → ``.github/``; package data skips dot files);
* a trailing ``.tmpl`` is dropped (``infra/__main__.py.tmpl`` → ``infra/__main__.py``: no module in the package);
* every file's ``@CF_<NAME>@`` tokens are replaced (:func:`tokens`); ``_pulumi-template.yaml`` is not copied:
  it is the ``template:`` section ``--pulumi-template`` adds to ``Pulumi.yaml``.

Values come from flags, else from questions on a terminal, else from :data:`PLACEHOLDERS` (documented in the
README written), so ``validate``, ``plan`` and ``demo`` pass in the new directory straight away. Every rendered
stack is validated before anything is written; existing files are refused (exit 2, nothing written) without
``--force``; each file is written atomically.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path
from typing import Any, TextIO

from claude_foundry._errors import UserError

#: The questions, in the order asked (each is also a flag: ``--<name>``).
FIELDS = ("organization", "country", "industry", "location", "prefix")
#: What a field gets when no flag gives it and stdin is not a terminal (the README written lists them).
PLACEHOLDERS: dict[str, str] = {"organization": "Contoso", "country": "US", "industry": "technology",
                                "location": "eastus2", "prefix": "contoso"}
LABELS = {
    "organization": "Organisation (legal name, sent to Anthropic with every deployment)",
    "country": "Country (ISO-3166 alpha-2)",
    "industry": "Industry",
    "location": "Azure location",
    "prefix": "Name prefix (account <prefix>-claude-<env>, vault kv-<prefix>-<env>)",
}
#: ``kv-<prefix>-prod`` within Key Vault's 24 characters (the spec's VAULT_NAME_RE).
MAX_PREFIX = 16
PREFIX_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
MAX_ORGANIZATION = 256  # the spec's ModelProvider.organization_name

#: The workflow templates; this repository's .github/workflows/ holds the same files (tests/unit/test_init.py).
WORKFLOWS = ("pull-request.yml", "deploy.yml", "deploy-stack.yml", "drift.yml", "rotate.yml", "lifecycle.yml")
SCAFFOLD = "scaffold"
TOKEN_RE = re.compile(r"@CF_([A-Z_]+)@")
PULUMI_TEMPLATE_PART = "_pulumi-template.yaml"
SKIPPED = frozenset({PULUMI_TEMPLATE_PART, "__pycache__"})
SCHEMA_FILE = "schema/stack.schema.json"
EXECUTABLE = frozenset({"scripts/bootstrap", "scripts/test"})


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "init", help="write a team's own repository (Pulumi project, stacks, workflows, README)",
        description="Write a repository that deploys Claude on Microsoft Foundry with the installed claude-foundry: "
                    "Pulumi.yaml (main: infra/), infra/__main__.py, stacks/ (shared base, dev, prod), "
                    "Pulumi.<stack>.yaml, the policy pack, .github/workflows/ (pull request, deploy, drift, "
                    "rotation), scripts/, tests/, .gitignore and a README. Values missing from the flags are "
                    "asked on a terminal; otherwise placeholders are used (Contoso, US, technology, eastus2, "
                    "contoso), listed in the README written. Exit 2 on a bad value or when files exist "
                    "(nothing is written; --force overwrites).")
    p.add_argument("directory", nargs="?", default=".", type=Path, metavar="DIR", help="where (default: .)")
    p.add_argument("--organization", help="organisation's legal name (modelProviderData)")
    p.add_argument("--country", help="ISO-3166 alpha-2 country code, e.g. US, DE, SE")
    p.add_argument("--industry", help="one of Azure's lower-case industries, e.g. technology")
    p.add_argument("--location", help="Azure location where Claude is offered, e.g. eastus2")
    p.add_argument("--prefix", help=f"name prefix: 1-{MAX_PREFIX} lower-case letters, digits, hyphens")
    p.add_argument("--force", action="store_true", help="overwrite files that exist")
    p.add_argument("--dry-run", action="store_true", help="list the files, write nothing")
    p.add_argument("--pulumi-template", action="store_true",
                   help="write a `pulumi new` template instead: Pulumi.yaml with ${PROJECT}, ${DESCRIPTION} "
                        "and a template: section; no Pulumi.dev.yaml (pulumi new writes it)")
    p.set_defaults(func=run)


# --- values ----------------------------------------------------------------------------------------------


def problem(field: str, value: str) -> str | None:
    """What is wrong with ``value`` for ``field`` (and what is allowed), or None."""
    from claude_foundry import _provider_data as provider_data

    if field == "organization":
        if any(ord(c) < 32 for c in value):
            return "must be one line of text"
        if len(value.strip()) > MAX_ORGANIZATION:
            return f"must be at most {MAX_ORGANIZATION} characters"
        return provider_data.organization_problem(value)
    if field == "country":
        return provider_data.country_problem(value)
    if field == "industry":
        return provider_data.industry_problem(value)
    if field == "location":
        from claude_foundry._catalogue import load_catalogue

        locations = load_catalogue().locations
        return None if value in locations else f"must be a location where Claude is offered: {', '.join(locations)}"
    if field == "prefix":
        if PREFIX_RE.match(value) and len(value) <= MAX_PREFIX:
            return None
        return (f"must be 1-{MAX_PREFIX} lower-case letters, digits and hyphens, starting and ending with a letter "
                f"or digit (account <prefix>-claude-<env>, vault kv-<prefix>-<env> within Key Vault's 24 "
                f"characters) (got {value!r})")
    raise KeyError(field)


def stdin_is_terminal() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (AttributeError, ValueError):  # closed or replaced stdin
        return False


def _ask(field: str, ask: Callable[[str], str], err: TextIO) -> str:
    while True:
        try:
            answer = ask(f"{LABELS[field]} [{PLACEHOLDERS[field]}]: ").strip() or PLACEHOLDERS[field]
        except EOFError:
            raise UserError(f"no answer for {field}: pass --{field}") from None
        wrong = problem(field, answer)
        if wrong is None:
            return answer
        print(f"  {field} {wrong}", file=err)


def gather(given: Mapping[str, str | None], *, interactive: bool, ask: Callable[[str], str] | None = None,
           err: TextIO | None = None) -> tuple[dict[str, str], list[str]]:
    """(value of every field, the fields left at their placeholder). Bad flags raise one UserError naming each
    flag and what it allows, before any question (``ask`` defaults to ``input``, ``err`` to stderr)."""
    bad = []
    for field in FIELDS:
        value = given.get(field)
        if value is not None and (wrong := problem(field, value)):
            bad.append(f"--{field} {wrong}" if "(got " in wrong else f"--{field} {wrong} (got {value!r})")
    if bad:
        raise UserError("\n".join(bad))
    values: dict[str, str] = {}
    placeholders = []
    for field in FIELDS:
        value = given.get(field)
        if value is not None:
            values[field] = value.strip()
        elif interactive:
            values[field] = _ask(field, ask or input, err or sys.stderr)
        else:
            values[field] = PLACEHOLDERS[field]
            placeholders.append(field)
    return values, placeholders


# --- rendering ---------------------------------------------------------------------------------------------


def _yaml_scalar(value: str) -> str:
    import yaml

    return yaml.safe_dump(value, width=10**6).removesuffix("\n...\n").strip()


def tokens(values: Mapping[str, str], *, pulumi_template: bool = False) -> dict[str, str]:
    """What each ``@CF_<NAME>@`` of the scaffold becomes."""
    from claude_foundry import __version__

    project = "${PROJECT}" if pulumi_template else f"{values['prefix']}-claude"
    description = ("${DESCRIPTION}" if pulumi_template
                   else _yaml_scalar(f"Claude on Microsoft Foundry for {values['organization']} (claude-foundry)"))
    return {
        "ORGANIZATION": values["organization"].replace("|", "\\|"),
        "ORGANIZATION_YAML": _yaml_scalar(values["organization"]),
        "COUNTRY": values["country"],
        "INDUSTRY": values["industry"],
        "LOCATION": values["location"],
        "PREFIX": values["prefix"],
        "VERSION": __version__,
        "PROJECT_NAME": project,
        "PROJECT_DESCRIPTION": description,
    }


def render(text: str, toks: Mapping[str, str]) -> str:
    def sub(m: re.Match[str]) -> str:
        if m.group(1) not in toks:
            raise KeyError(f"scaffold token @CF_{m.group(1)}@ has no value")
        return toks[m.group(1)]

    return TOKEN_RE.sub(sub, text)


def scaffold_root() -> Traversable:
    return resources.files("claude_foundry").joinpath(SCAFFOLD)


def target_path(rel: str) -> str:
    """Where the scaffold file ``rel`` (``/``-separated) is written."""
    parts = ["." + p[len("dot-"):] if p.startswith("dot-") else p for p in rel.split("/")]
    parts[-1] = parts[-1].removesuffix(".tmpl")
    return "/".join(parts)


def scaffold_sources(root: Traversable | None = None, prefix: str = "") -> Iterator[tuple[str, str]]:
    """(scaffold-relative path, text) of every file copied, in a stable order."""
    root = scaffold_root() if root is None else root
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        if entry.name in SKIPPED or entry.name.startswith(".") or entry.name.endswith(".pyc"):
            continue
        if entry.is_dir():
            yield from scaffold_sources(entry, f"{prefix}{entry.name}/")
        else:
            yield f"{prefix}{entry.name}", entry.read_text(encoding="utf-8")


def scaffold_files(values: Mapping[str, str], *, pulumi_template: bool = False) -> dict[str, str]:
    """Every file of the repository for ``values``: path relative to DIR → text."""
    from claude_foundry.program._reference import schema_json

    toks = tokens(values, pulumi_template=pulumi_template)
    files = {target_path(rel): render(text, toks) for rel, text in scaffold_sources()}
    files[SCHEMA_FILE] = schema_json()
    if pulumi_template:
        files["Pulumi.yaml"] += scaffold_root().joinpath(PULUMI_TEMPLATE_PART).read_text(encoding="utf-8")
        del files["Pulumi.dev.yaml"]  # pulumi new writes the new stack's config from template.config
    return dict(sorted(files.items()))


def check_stacks(files: Mapping[str, str]) -> None:
    """Validate every rendered stack as `claude-foundry validate` would (e.g. a location lacking a model)."""
    from claude_foundry.program.spec import SpecError, load_spec

    with tempfile.TemporaryDirectory(prefix="claude-foundry-init-") as tmp:
        for rel, text in files.items():
            if rel.startswith("stacks/"):
                (Path(tmp) / rel).parent.mkdir(parents=True, exist_ok=True)
                (Path(tmp) / rel).write_text(text, encoding="utf-8")
        issues = []
        for rel in files:
            if rel.startswith("stacks/") and rel.count("/") == 1:
                try:
                    load_spec(Path(tmp) / rel)
                except SpecError as exc:
                    issues += [str(i).replace(tmp + os.sep, "") for i in exc.issues]
    if issues:
        raise UserError("the stacks these values make would not validate:\n  " + "\n  ".join(issues))


# --- writing -----------------------------------------------------------------------------------------------


def conflicts(directory: Path, files: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """(files that exist, paths --force cannot overwrite: a directory where a file goes, or a file where a
    directory goes)."""
    exist, blocked = [], []
    for rel in files:
        path = directory / rel
        parents = [directory / Path(*Path(rel).parts[:i]) for i in range(1, len(Path(rel).parts))]
        if path.is_dir() or any(p.exists() and not p.is_dir() for p in parents):
            blocked.append(rel)
        elif path.exists() or path.is_symlink():
            exist.append(rel)
    return exist, blocked


def outside(directory: Path, files: Mapping[str, Any]) -> list[tuple[str, Path]]:
    """(file, where it would land) for every file whose folder resolves outside ``directory``: a subfolder of
    DIR that is a symlink elsewhere (``DIR/stacks -> /etc``) would make ``init`` write there."""
    root = directory.resolve()
    out = []
    for rel in files:
        landing = (directory / rel).parent.resolve()  # follows every symlink on the way, dangling ones too
        if landing != root and root not in landing.parents:
            out.append((rel, landing))
    return out


def write_file(path: Path, text: str, *, executable: bool = False) -> None:
    """Write ``text`` to ``path`` atomically (a temporary file beside it, then a rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.chmod(tmp, 0o755 if executable else 0o644)  # scripts/bootstrap and scripts/test are run
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def development_build(version: str) -> bool:
    """A version no package index has: setuptools-scm's development builds (``0.1.1.dev3+g1234abc``)."""
    return ".dev" in version or "+" in version


def run(args: argparse.Namespace) -> int:
    directory: Path = args.directory
    if directory.exists() and not directory.is_dir():
        raise UserError(f"{directory} exists and is not a directory")
    interactive = stdin_is_terminal()
    values, placeholders = gather({f: getattr(args, f) for f in FIELDS}, interactive=interactive)
    files = scaffold_files(values, pulumi_template=args.pulumi_template)
    check_stacks(files)
    escaping = outside(directory, files)
    if escaping:
        raise UserError(f"cannot write outside {directory}: a folder in it is a symlink that leads elsewhere; "
                        "nothing written:\n  " + "\n  ".join(f"{directory / r} -> {w}" for r, w in escaping))
    exist, blocked = conflicts(directory, files)
    if args.dry_run:
        for rel in files:
            state = "blocked" if rel in blocked else ("overwrite" if args.force else "exists") if rel in exist \
                else "new"
            print(f"{state:<9} {directory / rel}")
    if blocked:
        raise UserError("cannot write (a directory or file is in the way, even with --force):\n  "
                        + "\n  ".join(str(directory / r) for r in blocked))
    if exist and not args.force:
        raise UserError(f"{len(exist)} file(s) exist; nothing written (--force overwrites them):\n  "
                        + "\n  ".join(str(directory / r) for r in exist))
    if placeholders:
        print(f"stdin is not a terminal: placeholders for {', '.join(placeholders)} "
              f"({', '.join(f'{f}={PLACEHOLDERS[f]}' for f in placeholders)}); the README lists where to "
              f"change them (or pass --{placeholders[0]} ...)", file=sys.stderr)
    if args.dry_run:
        return 0
    for rel, text in files.items():
        write_file(directory / rel, text, executable=rel in EXECUTABLE)
    print(f"wrote {len(files)} files to {directory} "
          f"({'pulumi new template' if args.pulumi_template else 'project ' + values['prefix'] + '-claude'})")
    print(f"next: cd {directory} and follow README.md (scripts/bootstrap test; claude-foundry validate "
          "stacks/dev.yaml stacks/prod.yaml; claude-foundry demo stacks/dev.yaml)")
    from claude_foundry import __version__

    if development_build(__version__):
        print(f"note: requirements.txt pins claude-foundry {__version__}, a development build no package index has: "
              "run scripts/bootstrap with CLAUDE_FOUNDRY_SOURCE set to its wheel, source directory or git URL "
              "(README.md, 'Installing claude-foundry'), or pin a released version there", file=sys.stderr)
    return 0
