"""Where ``SdnNetworkProvider`` lived before ``provider.sdn.resource`` (kept for state).

A stack's state holds each dynamic resource's provider pickled by reference, as
``provider.sdn_resource.SdnNetworkProvider`` for resources last written before the move.
Unpickling them (on refresh, update and delete) imports this name; it is the same class.
"""

from provider.sdn.resource import SdnNetwork, SdnNetworkProvider

__all__ = ["SdnNetwork", "SdnNetworkProvider"]
