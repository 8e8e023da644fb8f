"""Where ``NodeInterfacesProvider`` lived before ``provider.node.resource`` (kept for state).

A stack's state holds each dynamic resource's provider pickled by reference, as
``provider.resources.NodeInterfacesProvider`` for resources last written before the move.
Unpickling them (on refresh, update and delete) imports this name; it is the same class.
"""

from provider.node.resource import NodeInterfaces, NodeInterfacesProvider

__all__ = ["NodeInterfaces", "NodeInterfacesProvider"]
