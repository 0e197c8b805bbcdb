"""Microsoft.Network through ARM, what private networking needs: virtual networks (their subnets stored as child
resources too), standalone subnets, private endpoints (auto-approved connections to a Foundry account, group
``account``, or a Key Vault, group ``vault``, with a private address of the subnet), their private DNS zone
groups, private DNS zones (location ``global``) and their virtual network links. Management plane only: no
packet moves and no name resolves; the Foundry endpoint and the Key Vault data plane answer as Azure does to a
caller outside the network when the resource has ``publicNetworkAccess: Disabled`` (``sandbox/foundry.py``,
``sandbox/keyvault.py``).

Shapes: azure-rest-api-specs ``specification/network/resource-manager/Microsoft.Network/stable/2024-05-01``
(examples ``VirtualNetworkCreateSubnet.json``, ``PrivateEndpointCreate.json``,
``PrivateEndpointDnsZoneGroupCreate.json``) and ``specification/privatedns/.../stable/2024-06-01``
(``PrivateZonePut.json``, ``VirtualNetworkLinkPut.json``).
"""

from __future__ import annotations

import ipaddress
import re
import uuid
from typing import TYPE_CHECKING, Any

from claude_foundry_sandbox.providers.base import (
    ArmError,
    Provider,
    Reply,
    ResourceType,
    Target,
    public,
    require_location,
)

if TYPE_CHECKING:  # pragma: no cover
    from claude_foundry_sandbox.arm import ArmApi

VNETS = "microsoft.network/virtualnetworks"
SUBNETS = VNETS + "/subnets"
ENDPOINTS = "microsoft.network/privateendpoints"
ZONE_GROUPS = ENDPOINTS + "/privatednszonegroups"
ZONES = "microsoft.network/privatednszones"
LINKS = ZONES + "/virtualnetworklinks"

#: What each private-link target accepts as ``groupIds`` (Azure: "Private endpoint private DNS zone values").
GROUP_IDS = {"microsoft.cognitiveservices/accounts": ("account",), "microsoft.keyvault/vaults": ("vault",)}
#: A DNS name (at most 253 characters, labels of 1-63 letters, digits and hyphens).
ZONE_NAME_RE = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{1,63}$", re.IGNORECASE)
GLOBAL = "global"
#: The public names a privatelink zone answers for, where it is not the zone without ``privatelink.``.
PUBLIC_NAMES = {"privatelink.vaultcore.azure.net": "vault.azure.net"}


def _network(value: Any, what: str) -> ipaddress.IPv4Network:
    try:
        net = ipaddress.ip_network(str(value), strict=True)
    except ValueError:
        raise ArmError(400, "InvalidAddressPrefixFormat", f"Address prefix {value} of {what} is not a valid CIDR "
                       "range.") from None
    if not isinstance(net, ipaddress.IPv4Network):
        raise ArmError(400, "InvalidAddressPrefixFormat", f"Address prefix {value} of {what} is not IPv4.")
    return net


def _require_location(body: dict[str, Any]) -> None:
    require_location(body)


def _local(api: ArmApi, rid: str) -> bool:
    """Is ``rid`` in the sandbox's subscription (else it cannot be checked and is taken as given)?"""
    return rid.lower().startswith(f"/subscriptions/{api.s.subscription_id}/".lower())


def _exists(api: ArmApi, rid: str) -> dict[str, Any] | None:
    return api.s.resources.get(rid.lower().rstrip("/"))


def _subnet_record(vnet_id: str, name: str, props: dict[str, Any]) -> dict[str, Any]:
    p = {k: v for k, v in props.items() if k not in ("provisioningState",)}
    p.setdefault("privateEndpointNetworkPolicies", "Disabled")
    p.setdefault("privateLinkServiceNetworkPolicies", "Enabled")
    p["provisioningState"] = "Succeeded"
    return {"id": f"{vnet_id}/subnets/{name}", "name": name, "type": "Microsoft.Network/virtualNetworks/subnets",
            "etag": f'W/"{uuid.uuid4()}"', "properties": p}


def _check_inside(prefix: str, spaces: list[ipaddress.IPv4Network], name: str) -> None:
    net = _network(prefix, f"subnet {name}")
    if not any(net.subnet_of(s) for s in spaces):
        raise ArmError(400, "NetcfgSubnetRangeOutsideVnet",
                       f"Subnet '{name}' is not valid because its IP address range is outside the IP address range "
                       "of virtual network.")


def _save(api: ArmApi, target: Target, res: dict[str, Any], existing: dict[str, Any] | None, *,
          weak_etag: bool = True) -> Reply:
    """Store a written resource with a fresh etag (Microsoft.Network's are weak, ``W/"..."``; private DNS's
    plain) and answer 200 (updated) or 201 (created)."""
    res["etag"] = f'W/"{uuid.uuid4()}"' if weak_etag else str(uuid.uuid4())
    return api.store(target, res, existing)


def _put_vnet(api: ArmApi, target: Target, body: dict[str, Any]) -> Reply:
    existing = api.s.resources.get(target.key)
    if api.same_input(existing, body):
        return Reply(200, public(existing))
    _require_location(body)
    props = body.get("properties") or {}
    prefixes = (props.get("addressSpace") or {}).get("addressPrefixes") or []
    if not prefixes:
        raise ArmError(400, "InvalidRequestFormat", "Cannot parse the request: properties.addressSpace."
                       "addressPrefixes is required.")
    spaces = [_network(p, f"virtual network {target.name}") for p in prefixes]
    res = api.base(target, body, existing)
    p = res["properties"]
    p["resourceGuid"] = (existing or {}).get("properties", {}).get("resourceGuid") or str(uuid.uuid4())
    p["provisioningState"] = "Succeeded"
    subnets = []
    seen: list[ipaddress.IPv4Network] = []
    for item in props.get("subnets") or []:
        name = str((item or {}).get("name") or "")
        sprops = dict((item or {}).get("properties") or {})
        if not name or not sprops.get("addressPrefix"):
            raise ArmError(400, "InvalidRequestFormat", "Every subnet needs a name and properties.addressPrefix.")
        _check_inside(sprops["addressPrefix"], spaces, name)
        net = _network(sprops["addressPrefix"], f"subnet {name}")
        if any(net.overlaps(o) for o in seen):
            raise ArmError(400, "NetcfgSubnetRangesOverlap", f"Subnet '{name}' is not valid because its IP address "
                           "range overlaps with that of another subnet in the virtual network.")
        seen.append(net)
        record = _subnet_record(res["id"], name, sprops)
        api.s.resources[f"{target.key}/subnets/{name.lower()}"] = record
        subnets.append(record)
    p["subnets"] = [public(s) for s in subnets]
    return _save(api, target, res, existing)


def _put_subnet(api: ArmApi, target: Target, body: dict[str, Any]) -> Reply:
    vnet = api.s.resources.get(target.parent.lower(), {})
    spaces = [_network(p, "the virtual network")
              for p in ((vnet.get("properties") or {}).get("addressSpace") or {}).get("addressPrefixes") or []]
    sprops = dict(body.get("properties") or {})
    if not sprops.get("addressPrefix"):
        raise ArmError(400, "InvalidRequestFormat", "properties.addressPrefix is required.")
    _check_inside(sprops["addressPrefix"], spaces, target.name)
    record = _subnet_record(vnet.get("id", target.parent), target.name, sprops)
    record["_sb"] = {"input": body}
    existed = target.key in api.s.resources
    api.s.resources[target.key] = record
    api.s.save()
    return Reply(200 if existed else 201, public(record))


def _endpoint_fqdns(target: dict[str, Any]) -> list[str]:
    """The names a private endpoint to ``target`` answers for (what the zone group writes as A records)."""
    rtype = target.get("type", "").lower()
    if rtype == "microsoft.keyvault/vaults":
        return [f"{target['name'].lower()}.vault.azure.net"]
    sub = str(target.get("properties", {}).get("customSubDomainName") or target["name"]).lower()
    return [f"{sub}.cognitiveservices.azure.com", f"{sub}.openai.azure.com", f"{sub}.services.ai.azure.com"]


def _private_ip(api: ArmApi, subnet_id: str, own_key: str) -> str:
    """The next free address of the subnet (Azure keeps the first four), by the endpoints already in it."""
    subnet = _exists(api, subnet_id)
    prefix = (subnet or {}).get("properties", {}).get("addressPrefix") or "10.0.0.0/24"
    net = _network(prefix, "subnet")
    taken = {r.get("_sb", {}).get("ip") for k, r in api.s.resources.items()
             if r.get("type", "").lower() == ENDPOINTS and k != own_key
             and str(r.get("properties", {}).get("subnet", {}).get("id", "")).lower() == subnet_id.lower()}
    for n, host in enumerate(net.hosts()):
        if n >= 3 and str(host) not in taken:  # .1-.3 (and the network address) are Azure's
            return str(host)
    raise ArmError(400, "SubnetIsFull", f"Subnet {subnet_id} has no free address for the private endpoint.")


def _put_endpoint(api: ArmApi, target: Target, body: dict[str, Any]) -> Reply:
    existing = api.s.resources.get(target.key)
    if api.same_input(existing, body):
        return Reply(200, public(existing))
    _require_location(body)
    props = body.get("properties") or {}
    subnet_id = str((props.get("subnet") or {}).get("id") or "")
    if not subnet_id:
        raise ArmError(400, "InvalidRequestFormat", "properties.subnet.id is required for a private endpoint.")
    if _local(api, subnet_id) and _exists(api, subnet_id) is None:
        raise ArmError(400, "InvalidResourceReference",
                       f"Resource {subnet_id} referenced by resource {target.path} was not found. Please make sure "
                       "that the referenced resource exists, and that both resources are in the same region.")
    connections = props.get("privateLinkServiceConnections") or props.get("manualPrivateLinkServiceConnections") or []
    if not connections:
        raise ArmError(400, "InvalidRequestFormat", "A private endpoint needs privateLinkServiceConnections.")
    res = api.base(target, body, existing)
    p = res["properties"]
    fqdns: list[str] = []
    for conn in p.get("privateLinkServiceConnections") or []:
        cprops = conn.setdefault("properties", {})
        service_id = str(cprops.get("privateLinkServiceId") or "")
        service = _exists(api, service_id) if service_id else None
        if service is None and (not service_id or _local(api, service_id)):
            raise ArmError(400, "PrivateLinkServiceNotFound",
                           f"Private link service {service_id or '(none)'} referenced by private endpoint "
                           f"{target.path} was not found.")
        groups = [str(g).lower() for g in cprops.get("groupIds") or []]
        allowed = GROUP_IDS.get(str((service or {}).get("type", "")).lower())
        if allowed is not None and (not groups or any(g not in allowed for g in groups)):
            raise ArmError(400, "PrivateEndpointBadRequest",
                           f"Call to {(service or {}).get('type')} failed. Error message: The group id(s) "
                           f"{', '.join(cprops.get('groupIds') or []) or '(none)'} are not valid; this resource "
                           f"supports: {', '.join(allowed)}.")
        conn["id"] = f"{res['id']}/privateLinkServiceConnections/{conn.get('name') or target.name}"
        conn["type"] = "Microsoft.Network/privateEndpoints/privateLinkServiceConnections"
        cprops["privateLinkServiceConnectionState"] = {"status": "Approved", "description": "Auto-Approved",
                                                       "actionsRequired": "None"}
        cprops["provisioningState"] = "Succeeded"
        if service is not None:
            fqdns += _endpoint_fqdns(service)
    ip = (existing or {}).get("_sb", {}).get("ip") or _private_ip(api, subnet_id, target.key)
    nic = f"{target.name}.nic.{uuid.uuid5(uuid.NAMESPACE_URL, target.key)}"
    rg_id = res["id"].split("/providers/", 1)[0]
    p["networkInterfaces"] = [{"id": f"{rg_id}/providers/Microsoft.Network/networkInterfaces/{nic}"}]
    p["customDnsConfigs"] = [{"fqdn": f, "ipAddresses": [ip]} for f in fqdns]
    p["provisioningState"] = "Succeeded"
    res["_sb"]["ip"] = ip
    res["_sb"]["fqdns"] = fqdns
    return _save(api, target, res, existing)


def _put_zone_group(api: ArmApi, target: Target, body: dict[str, Any]) -> Reply:
    existing = api.s.resources.get(target.key)
    if api.same_input(existing, body):
        return Reply(200, public(existing))
    endpoint = api.s.resources.get(target.parent.lower(), {})
    ip = endpoint.get("_sb", {}).get("ip")
    fqdns = endpoint.get("_sb", {}).get("fqdns") or []
    res = api.base(target, body, existing)
    res.pop("location", None)
    configs = res["properties"].get("privateDnsZoneConfigs") or []
    if not configs:
        raise ArmError(400, "InvalidRequestFormat", "properties.privateDnsZoneConfigs is required.")
    for conf in configs:
        cprops = conf.setdefault("properties", {})
        zone_id = str(cprops.get("privateDnsZoneId") or "")
        if not zone_id or (_local(api, zone_id) and _exists(api, zone_id) is None):
            raise ArmError(400, "InvalidResourceReference",
                           f"Resource {zone_id or '(none)'} referenced by resource {target.path} was not found.")
        zone = zone_id.rstrip("/").rsplit("/", 1)[-1].lower()
        public_zone = PUBLIC_NAMES.get(zone, zone.removeprefix("privatelink."))
        cprops["recordSets"] = [
            {"recordType": "A", "recordSetName": f.removesuffix("." + public_zone), "fqdn": f"{f.split('.')[0]}.{zone}",
             "ttl": 10, "ipAddresses": [ip] if ip else [], "provisioningState": "Succeeded"}
            for f in fqdns if f.endswith("." + public_zone)]
    res["properties"]["provisioningState"] = "Succeeded"
    return _save(api, target, res, existing)


def _require_global(target: Target, body: dict[str, Any], display: str) -> None:
    location = str(body.get("location") or "")
    if not location:
        raise ArmError(400, "LocationRequired", "The location property is required for this definition.")
    if location.lower() != GLOBAL:
        raise ArmError(400, "LocationNotAvailableForResourceType",
                       f"The provided location '{location}' is not available for resource type '{display}'. List of "
                       "available regions for the resource type is 'global'.")


def _links_of(api: ArmApi, zone_key: str) -> list[dict[str, Any]]:
    return [r for k, r in api.s.resources.items() if r.get("type", "").lower() == LINKS
            and k.rsplit("/virtualnetworklinks/", 1)[0] == zone_key]


def _put_zone(api: ArmApi, target: Target, body: dict[str, Any]) -> Reply:
    existing = api.s.resources.get(target.key)
    if api.same_input(existing, body):
        return Reply(200, public(existing))
    _require_global(target, body, "Microsoft.Network/privateDnsZones")
    if not ZONE_NAME_RE.match(target.name):
        raise ArmError(400, "InvalidZoneName", f"The zone name '{target.name}' is not a valid DNS name.")
    res = api.base(target, body, existing)
    links = _links_of(api, target.key)
    res["properties"] = {
        "maxNumberOfRecordSets": 25000, "maxNumberOfVirtualNetworkLinks": 1000,
        "maxNumberOfVirtualNetworkLinksWithRegistration": 100, "numberOfRecordSets": 1,
        "numberOfVirtualNetworkLinks": len(links),
        "numberOfVirtualNetworkLinksWithRegistration": sum(
            1 for link in links if link.get("properties", {}).get("registrationEnabled")),
        "internalId": (existing or {}).get("properties", {}).get("internalId") or uuid.uuid4().hex,
        "provisioningState": "Succeeded"}
    return _save(api, target, res, existing, weak_etag=False)


def _put_link(api: ArmApi, target: Target, body: dict[str, Any]) -> Reply:
    existing = api.s.resources.get(target.key)
    if api.same_input(existing, body):
        return Reply(200, public(existing))
    _require_global(target, body, "Microsoft.Network/privateDnsZones/virtualNetworkLinks")
    props = body.get("properties") or {}
    vnet_id = str((props.get("virtualNetwork") or {}).get("id") or "")
    if not vnet_id:
        raise ArmError(400, "InvalidRequestFormat", "properties.virtualNetwork.id is required.")
    if _local(api, vnet_id) and _exists(api, vnet_id) is None:
        raise ArmError(400, "BadRequest", f"Referenced virtual network {vnet_id} was not found.")
    zone_key = target.parent.lower()
    for link in _links_of(api, zone_key):
        if link["id"].lower() != target.key and \
                str(link.get("properties", {}).get("virtualNetwork", {}).get("id", "")).lower() == vnet_id.lower():
            raise ArmError(409, "Conflict", f"A virtual network link to {vnet_id} already exists in zone "
                           f"'{target.parent.rsplit('/', 1)[-1]}' ({link['name']}).")
    res = api.base(target, body, existing)
    p = res["properties"]
    p["registrationEnabled"] = bool(props.get("registrationEnabled", False))
    p["virtualNetworkLinkState"] = "Completed"
    p["provisioningState"] = "Succeeded"
    reply = _save(api, target, res, existing, weak_etag=False)
    zone = api.s.resources.get(zone_key)
    if zone is not None:
        zone.setdefault("properties", {})["numberOfVirtualNetworkLinks"] = len(_links_of(api, zone_key))
        api.s.save()
    return reply


PROVIDER = Provider(types=(
    ResourceType(VNETS, put=_put_vnet),
    ResourceType(SUBNETS, put=_put_subnet),
    ResourceType(ENDPOINTS, put=_put_endpoint),
    ResourceType(ZONE_GROUPS, put=_put_zone_group),
    ResourceType(ZONES, put=_put_zone),
    ResourceType(LINKS, put=_put_link),
))
