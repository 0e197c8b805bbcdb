"""``claude-foundry catalogue``: show the model catalogue, or refresh a snapshot of it from Azure's models list.

``refresh`` reads ``locations/{location}/models`` for each ``--location`` (``--subscription`` or ``--sandbox``;
or a recorded response with ``--from-json``), merges it into ``--output`` (default ``$CLAUDE_FOUNDRY_CATALOGUE``),
a JSON file (docs/lifecycle.md, "The catalogue file"), and prints what changed. Validation, plan and preflight
then use the file once ``CLAUDE_FOUNDRY_CATALOGUE`` names it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from claude_foundry import _files as files
from claude_foundry._errors import UserError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("catalogue", help="show the Claude model catalogue, or refresh a snapshot from Azure",
                       description=__doc__.split("\n\n")[1] if __doc__ else None)
    cs = p.add_subparsers(dest="catalogue_command", metavar="SUBCOMMAND")
    cs.required = True
    show = cs.add_parser("show", help="the catalogue in use: models, versions (hosting), SKUs, status")
    show.add_argument("--json", action="store_true", help="the whole catalogue as JSON")
    show.set_defaults(func=run_show)
    r = cs.add_parser("refresh", help="merge Azure's models list into a catalogue file and show what changed")
    r.add_argument("--location", "-l", action="append", required=True, metavar="LOCATION",
                   help="an Azure location to read (repeat, or comma-separated)")
    g = r.add_argument_group("source (default: real Azure with DefaultAzureCredential)")
    g.add_argument("--subscription", metavar="ID", help="Azure subscription id (default: $AZURE_SUBSCRIPTION_ID)")
    g.add_argument("--sandbox", metavar="CONNECTION_FILE", help="the local sandbox instead of Azure")
    g.add_argument("--from-json", metavar="FILE",
                   help="a recorded models-list response body (one --location), e.g. from `az rest`")
    r.add_argument("--output", "-o", metavar="FILE",
                   help="the snapshot (JSON) to write or merge into (default: $CLAUDE_FOUNDRY_CATALOGUE)")
    r.add_argument("--dry-run", action="store_true", help="show what would change; write nothing")
    r.set_defaults(func=run_refresh)


def _locations(values: list[str]) -> list[str]:
    out: list[str] = []
    for v in values:
        out.extend(x.strip().replace(" ", "").lower() for x in v.split(",") if x.strip())
    if not out:
        raise UserError("--location: name at least one Azure location, e.g. eastus2")
    return list(dict.fromkeys(out))


def run_show(args: argparse.Namespace) -> int:
    from claude_foundry._catalogue import HOSTING_WORDS, load_catalogue

    cat = load_catalogue()
    if args.json:
        print(json.dumps(cat.model_dump(mode="json"), indent=2))
        return 0
    source = os.environ.get("CLAUDE_FOUNDRY_CATALOGUE") or "bundled"
    print(f"catalogue: {source}, {cat.age_words()}")
    for name, m in cat.models.items():
        versions = "; ".join(f"{v} {HOSTING_WORDS[i.hosting]} [{', '.join(i.skus)}]" for v, i in m.versions.items())
        extra = f", {m.auth}" if m.entra_only else ""
        stage = m.stage_of(m.default_version)
        if m.retirement or m.replacement:
            extra += (f", {stage}" + (f" (retires {cat.retirement_words(name)})" if stage != "retired" and
                                      m.retirement else f" {m.retirement}" if m.retirement else "")
                      + (f", replacement {m.replacement}" if m.replacement else ""))
        if m.unverified:
            extra += f", offer unverified ({', '.join(m.unverified)})"
        print(f"  {name:<24} {m.status:<10} {versions}{extra}")
    return 0


def run_refresh(args: argparse.Namespace) -> int:
    from claude_foundry._catalogue import ENV_CATALOGUE, dump_catalogue, load_catalogue, load_catalogue_file
    from claude_foundry._ops import refresh

    locations = _locations(args.location)
    out = args.output or os.environ.get(ENV_CATALOGUE)
    if not out and not args.dry_run:
        raise UserError(f"say where to write the snapshot: --output FILE (or set {ENV_CATALOGUE}); the bundled "
                        "catalogue is read-only")
    sources = [n for n, v in (("--subscription", args.subscription), ("--sandbox", args.sandbox),
                              ("--from-json", args.from_json)) if v]
    if len(sources) > 1:
        raise UserError(f"{' and '.join(sources)} are exclusive")
    base = load_catalogue_file(out) if out and Path(out).is_file() else load_catalogue()
    if args.from_json:
        if len(locations) != 1:
            raise UserError("--from-json holds one location's list: give exactly one --location")
        try:
            body = json.loads(Path(args.from_json).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise UserError(f"{args.from_json}: not a models-list response ({type(exc).__name__})") from None
        if isinstance(body, dict) and "responses" in body:  # an azure-rest-api-specs example file
            body = body["responses"].get("200", {}).get("body", {})
        if not isinstance(body, dict) or not isinstance(body.get("value"), list):
            raise UserError(f"{args.from_json}: not a models-list response (no top-level \"value\" list)")
        live = {locations[0]: refresh.parse_models_list(body)}
        via = f"recorded models list ({Path(args.from_json).name})"
    else:
        from claude_foundry.cli._target import resolve_target

        with resolve_target(args) as target:
            live = refresh.fetch_live(target, locations)
            via = ("sandbox models list" if target.is_sandbox
                   else f"ARM models list, subscription {target.subscription_id}")
    result = refresh.merge(base, live, via=via)
    for line in result.changes:
        print(f"  {line}")
    anthropic = sum(1 for entries in live.values() for e in entries if e.format.lower() == base.format.lower())
    for loc, entries in live.items():
        if not any(e.format.lower() == base.format.lower() for e in entries):
            print(f"warning: the models list of {loc} holds no Claude model: Claude is not offered there, or not to "
                  "this subscription (see `claude-foundry preflight` for eligibility)", file=sys.stderr)
    print(f"{len(result.changes)} change(s) from {anthropic} Claude model version(s) listed in {', '.join(locations)}",
          file=sys.stderr)
    if args.dry_run:
        return 0
    assert out is not None
    try:
        files.write_file(out, dump_catalogue(result.catalogue))
    except OSError as exc:
        raise UserError(f"cannot write {out}: {exc.strerror or type(exc).__name__}") from None
    print(f"wrote {out}" + ("" if os.environ.get(ENV_CATALOGUE) == out else f" (use it: export {ENV_CATALOGUE}={out})"),
          file=sys.stderr)
    return 0
