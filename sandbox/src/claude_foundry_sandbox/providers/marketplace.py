"""Microsoft.MarketplaceOrdering: the agreement terms of a Marketplace offer plan, read, accepted, signed
and cancelled per subscription (``MarketplaceAgreements_*``, 2021-01-01)."""

from __future__ import annotations

import hashlib
import time
from typing import TYPE_CHECKING, Any

from claude_foundry_sandbox.providers.base import ArmError, Provider, Reply, iso

if TYPE_CHECKING:  # pragma: no cover
    from claude_foundry_sandbox.arm import ArmApi


def _marketplace(api: ArmApi, method: str, segs: list[str], low: list[str], body: Any) -> Reply | None:
    """``MarketplaceAgreements_Get``/``_Create`` (``offerTypes/.../agreements/current``) answer the
    AgreementTerms shape; ``_GetAgreement``/``_Sign``/``_Cancel`` (``agreements/{publisher}/...``) the
    agreement shape (publisher, offer, signDate/cancelDate, state), as the 2021-01-01 examples show."""
    n = len(segs)
    # /subscriptions/{s}/providers/Microsoft.MarketplaceOrdering/offerTypes/{type}/publishers/{publisher}/
    #   offers/{offer}/plans/{plan}/agreements/current: 14 segments
    if n == 14 and low[4] == "offertypes" and low[6] == "publishers" and low[8] == "offers" and \
            low[10] == "plans" and low[12] == "agreements" and low[13] == "current":
        publisher, offer, plan = segs[7], segs[9], segs[11]
        terms = True
        allowed: tuple[str, ...] = ("GET", "PUT")
    # /subscriptions/{s}/providers/Microsoft.MarketplaceOrdering/agreements/{publisher}/offers/{offer}/
    #   plans/{plan}[/sign|/cancel]: 10 or 11 segments
    elif n in (10, 11) and low[4] == "agreements" and low[6] == "offers" and low[8] == "plans" and \
            (n == 10 or low[10] in ("sign", "cancel")):
        publisher, offer, plan = segs[5], segs[7], segs[9]
        terms, allowed = False, ("GET",) if n == 10 else ("POST",)
    else:
        return None
    if method not in allowed:
        raise ArmError(405, "MethodNotAllowed", f"The {method} method is not allowed here; use "
                       f"{' or '.join(allowed)}.")
    sub_id = f"/subscriptions/{api.s.subscription_id}"
    api.authorize(sub_id, "read" if method == "GET" else "write")
    if terms and low[5] != "virtualmachine":
        raise ArmError(400, "BadRequest", f"The offer type '{segs[5]}' is not supported: only "
                       "'virtualmachine' is.")
    unknown = api.s.marketplace_unknown_part(publisher, offer, plan)
    if unknown == "offer":
        raise ArmError(400, "BadRequest",
                       f"The offer with Offer ID '{offer}' was not found. Try one of these: 1- Make sure the "
                       "offer name is written correctly. 2- If this offer was recently created, allow up to "
                       "30 minutes for it to be available for purchase. 3- The offer may have been removed "
                       f"from the marketplace. Publisher ID: '{publisher}', Offer ID: '{offer}'.")
    if unknown == "plan":
        raise ArmError(400, "BadRequest",
                       f"The plan with Plan ID '{plan}' was not found in the offer with Offer ID '{offer}'. "
                       f"Publisher ID: '{publisher}', Offer ID: '{offer}', Plan ID: '{plan}'.")
    key = f"{publisher}/{offer}/{plan}".lower()
    if method == "PUT":
        if not isinstance(body, dict) or not isinstance(body.get("properties"), dict):
            raise ArmError(400, "BadRequest", "The request body must be AgreementTerms: "
                           '{"properties": {"accepted": true, ...}}.')
        # What az vm image terms accept sends: the terms it just read, with accepted set to true.
        api.s.marketplace[key] = body["properties"].get("accepted") is True
        api.s.save()
    elif method == "POST":
        api.s.marketplace[key] = low[10] == "sign"
        api.s.save()
    accepted = api.s.marketplace_accepted(key)
    now = iso(time.time())
    if not terms:
        props: dict[str, Any] = {"publisher": publisher, "offer": offer,
                                 "state": "Active" if accepted else "Canceled"}
        props["signDate" if accepted else "cancelDate"] = now
        return Reply(200, {"id": "/" + "/".join(segs[:10]), "name": plan,
                           "type": "Microsoft.MarketplaceOrdering/agreements", "properties": props})
    return Reply(200, {
        "id": f"{sub_id}/providers/Microsoft.MarketplaceOrdering/offerTypes/VirtualMachine/publishers/"
              f"{publisher}/offers/{offer}/plans/{plan}/agreements/current",
        "name": plan, "type": "Microsoft.MarketplaceOrdering/offertypes",
        "properties": {"publisher": publisher, "product": offer, "plan": plan,
                       "licenseTextLink": "https://example.invalid/sandbox-terms",
                       "privacyPolicyLink": "https://example.invalid/sandbox-privacy",
                       "marketplaceTermsLink": "https://example.invalid/sandbox-marketplace-terms",
                       "retrieveDatetime": now,
                       "signature": hashlib.sha256(key.encode()).hexdigest()[:52].upper(),
                       "accepted": accepted}})


PROVIDER = Provider(subscription_routes={"microsoft.marketplaceordering": _marketplace})
