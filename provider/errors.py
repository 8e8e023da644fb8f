"""pvenet's errors: one base class, and subclasses that are also the builtin they are.

Every message names the node, the interface, the property and the value, and
says what to do, so an operator can act on it without reading code.
"""

from __future__ import annotations


class PvenetError(Exception):
    """Base class of every error pvenet raises on purpose."""


class InvalidSpec(PvenetError, ValueError):
    """A desired interface or set is not valid; raised before anything is sent to a node."""


class NodeError(PvenetError, RuntimeError):
    """The node refused or failed a change; the message says what state the node is left in."""


class ForeignPendingChanges(NodeError):
    """The node has staged network changes that pvenet did not make."""


class ConnectionSettingsError(PvenetError, ValueError):
    """The endpoint, token or TLS settings are missing or malformed."""
