"""Names pvenet checks in more than one place (pure).

A Proxmox node name is a host name label as pve-cluster accepts it: letters,
digits and ``-``, starting and ending with a letter or digit. ``NodeInterfaces``
checks its ``node``, the SDN model each name in ``nodes``, and the components
and the stack schema check theirs with the same rule.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

from provider.text import shown

NODE_RE = re.compile(r"[a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?")


def check_node_name(value: str) -> str:
    """``value`` if it is a Proxmox node name; ValueError saying what one is otherwise."""
    if not NODE_RE.fullmatch(value):
        raise ValueError(f"{shown(value)} is not a Proxmox node name (letters, digits and '-')")
    return value


NodeName = Annotated[str, AfterValidator(check_node_name)]
"""A node name as a pydantic type."""
