"""``replay``: run a list of API calls against a fresh node and report what Proxmox would do.

A scenario is JSON::

    {"node": "pve1", "nics": ["eno1", "eno2"], "base": "<text of /etc/network/interfaces>",
     "calls": [{"method": "POST", "path": "/nodes/pve1/network",
                "params": {"iface": "vmbr1", "type": "bridge", "autostart": true}}]}

``node`` defaults to ``pve1``, ``nics`` to eno1..eno4 and ``base`` to the
installer's file. The calls run in process, without HTTP or authentication,
against a cluster in a temporary state directory, in order; parameters may be
JSON numbers and booleans, which are sent as a form would carry them (``1``,
``"1"``/``"0"``). The answer::

    {"results": [{"status": 200, "data": ..., "message": null, "errors": null}, ...],
     "files": {"/etc/network/interfaces": "...", "/etc/network/interfaces.new": null, ...}}

A result also carries the reply's extra attributes (``changes``) when set, as
the JSON body would.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from simulator.api import Request
from simulator.cluster import Cluster
from simulator.errors import ApiError
from simulator.http.wire import error_body, json_params, relative_path, success_body

DEFAULT_NODE = "pve1"


def _call_path(path: str) -> str:
    """A call's path relative to ``/api2/json`` (a full ``/api2/json/...`` path is accepted)."""
    relative = relative_path(path)
    return path if relative is None else relative


def _result(method: str, path: str, params: Mapping[str, Any], cluster: Cluster) -> dict[str, Any]:
    try:
        reply = cluster.handle(Request(method, path, dict(params)))
    except ApiError as error:
        body = error_body(error)
        return {
            "status": error.status,
            "data": None,
            "message": error.message,
            "errors": body.get("errors"),
        }
    body = success_body(reply)
    return {"status": 200, "data": body.pop("data"), "message": None, "errors": None, **body}


def replay(scenario: Mapping[str, Any]) -> dict[str, Any]:
    """Run ``scenario``'s calls on a fresh node and return the results and the node's files.

    ValueError for a malformed scenario (a call without method or path,
    parameters that are not an object, a value no form can carry).
    """
    node = str(scenario.get("node", DEFAULT_NODE))
    nics = scenario.get("nics")
    calls = scenario.get("calls", [])
    if not isinstance(calls, list):
        raise ValueError("'calls' must be a list of {method, path, params} objects")
    with tempfile.TemporaryDirectory(prefix="pve-replay-") as state_dir:
        cluster = Cluster(
            Path(state_dir),
            nodes=[node],
            nics=[str(nic) for nic in nics] if nics is not None else None,
            interfaces=scenario.get("base"),
        )
        results = []
        for index, call in enumerate(calls):
            if not isinstance(call, Mapping) or "method" not in call or "path" not in call:
                raise ValueError(f"call {index} needs 'method' and 'path'")
            params = json_params(call.get("params") or {})
            method = str(call["method"]).upper()
            results.append(_result(method, _call_path(str(call["path"])), params, cluster))
        return {"results": results, "files": cluster.nodes[node].files()}
