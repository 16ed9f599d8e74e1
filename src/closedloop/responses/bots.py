"""Machine reactions: who opens and clicks in a person's place.

- Mail Privacy Protection (Apple) fetches every image of a message on delivery, from Apple's
  networks: such an open is the proxy's (``privacy_proxy``), not a sign the person read it.
- Security scanners (mail gateways, link-protection services) follow every link of a message
  seconds after delivery: a click announced by a scanner's user agent, sent within
  ``scanner_seconds`` of the message, or one of ``scanner_links`` different links of one
  message within ``scanner_window_seconds`` is a ``scanner``'s.
- A ``HEAD`` request never comes from a person clicking (``head``).
- Gmail's and Yahoo's image proxies fetch on the person's behalf when they open: human.

The networks and words are data (``data/machines.json``), replaceable with
``CLOSEDLOOP_MACHINES_FILE``. Machine reactions are kept (counted apart), never dropped.
"""

from __future__ import annotations

import ipaddress
import json
import os
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path

DATA = Path(__file__).parent / "data" / "machines.json"
PRIVACY_PROXY = "privacy_proxy"
SCANNER = "scanner"
HEAD = "head"


@dataclass(frozen=True)
class MachineList:
    """The networks and user-agent words that mark a machine."""

    proxy_networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
    proxy_agents: tuple[str, ...]
    scanner_agents: tuple[str, ...]
    human_agents: tuple[str, ...]


@lru_cache(maxsize=4)
def _load(path: str) -> MachineList:
    doc = json.loads(Path(path).read_text(encoding="utf-8"))
    return MachineList(
        tuple(ipaddress.ip_network(n) for n in doc.get("privacy_proxy_networks", [])),
        tuple(a.lower() for a in doc.get("privacy_proxy_agents", [])),
        tuple(a.lower() for a in doc.get("scanner_agents", [])),
        tuple(a.lower() for a in doc.get("human_proxy_agents", [])),
    )


def machine_list() -> MachineList:
    """The list in use (``CLOSEDLOOP_MACHINES_FILE`` or the one shipped)."""
    return _load(os.environ.get("CLOSEDLOOP_MACHINES_FILE") or str(DATA))


def _in_networks(ip: str | None, networks: tuple[object, ...]) -> bool:
    if not ip:
        return False
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address in net for net in networks)  # type: ignore[operator]


def open_machine(ip: str | None, agent: str | None) -> str | None:
    """Why an open is a machine's, or None when it is the person's."""
    return _open_machine(os.environ.get("CLOSEDLOOP_MACHINES_FILE") or "", ip, agent)


@lru_cache(maxsize=8192)
def _open_machine(_list: str, ip: str | None, agent: str | None) -> str | None:
    ua = (agent or "").lower()
    found = machine_list()
    if any(word in ua for word in found.human_agents):
        return None
    if _in_networks(ip, found.proxy_networks) or any(w in ua for w in found.proxy_agents):
        return PRIVACY_PROXY
    return None


def click_machine(
    method: str,
    ip: str | None,
    agent: str | None,
    at: datetime,
    sent_at: datetime | None,
    scanner_seconds: float,
) -> str | None:
    """Why a click is a machine's (HEAD, a scanner's agent, too soon after sending), or None."""
    if method.upper() == "HEAD":
        return HEAD
    if _scanner_agent(os.environ.get("CLOSEDLOOP_MACHINES_FILE") or "", agent):
        return SCANNER
    if sent_at is not None and 0 <= (at - sent_at).total_seconds() < scanner_seconds:
        return SCANNER
    return None


@lru_cache(maxsize=8192)
def _scanner_agent(_list: str, agent: str | None) -> bool:
    ua = (agent or "").lower()
    found = machine_list()
    return not any(w in ua for w in found.human_agents) and any(
        w in ua for w in found.scanner_agents
    )
