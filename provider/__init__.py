"""pvenet's Pulumi dynamic providers, in layers: ``node`` (NodeInterfaces), ``sdn``
(SdnNetwork), ``api`` (the one HTTPS session), and the pure rules both share (``text``,
``addresses``, ``errors``)."""
