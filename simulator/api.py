"""Transport-free request dispatch: the simulated API as plain function calls.

The HTTPS server, the ``replay`` command and the tests all go through
``Router.dispatch``: a request is a method, a path relative to ``/api2/json``,
the decoded parameters and the authenticated user; the answer is a ``Reply``
or an ``ApiError``. Keeping HTTP out of this layer lets ``replay`` answer
"what would Proxmox do" without a server.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from simulator.errors import not_implemented


@dataclass(frozen=True)
class Request:
    """One API call: ``path`` is relative to ``/api2/json`` (``/nodes/pve1/network``)."""

    method: str
    path: str
    params: dict[str, Any]
    user: str = "root@pam"
    task_failure: str | None = None  # set by an armed "task-fail" fault: the apply's error
    ignored_setting: str | None = None  # set by an armed "ignore" fault: left out on apply


@dataclass
class Reply:
    """A successful answer: ``data`` plus top-level attributes beside it (``changes``)."""

    data: Any = None
    extra: dict[str, Any] = field(default_factory=dict)


Handler = Callable[..., Reply]


@dataclass(frozen=True)
class _Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler


class Router:
    """Maps ``METHOD /path/{var}`` templates to handlers called as ``handler(request, **vars)``."""

    def __init__(self) -> None:
        self._routes: list[_Route] = []

    def add(self, method: str, template: str, handler: Handler) -> None:
        """Register ``handler`` for ``method`` on ``template`` (``{name}`` matches one segment)."""
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)
        self._routes.append(_Route(method, re.compile(f"^{regex}/?$"), handler))

    def dispatch(self, request: Request) -> Reply:
        """Run the handler for ``request``; raises ApiError as Proxmox would fail."""
        for route in self._routes:
            match = route.pattern.match(request.path)
            if match and route.method == request.method:
                return route.handler(request, **match.groupdict())
        raise not_implemented(request.method, request.path)
