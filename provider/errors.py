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


def cannot_tell(subject: str, what: str, where: str) -> NodeError:
    """The failure after an apply whose outcome cannot be read: ``subject`` names the node or
    the SDN network, ``what`` what failed, ``where`` what runs the change ("node", "cluster")."""
    return NodeError(
        f"{subject}: {what}. The change was applied, and pvenet cannot tell whether the {where} "
        "runs it: run `pulumi refresh` to see what runs, then `pulumi up` again (a "
        f"{where} that already runs the change is taken as done)"
    )


def unprefixed(message: str, node: str) -> str:
    """``message`` without its leading ``<node>: ``, to quote inside a sentence that names
    the node already (every node's error message starts with the node)."""
    return message.removeprefix(node + ": ")


class ForeignPendingChanges(NodeError):
    """The node has staged network changes that pvenet did not make."""


class ConnectionSettingsError(PvenetError, ValueError):
    """The endpoint, token or TLS settings are missing or malformed."""


class ApiCallFailed(PvenetError, RuntimeError):
    """An API call that failed: refused with an answer (``status``), or left without one.

    ``answered`` is False when no answer came back (a timeout, a dropped connection): the
    server may have done the work, or may still do it. ``message`` is the server's reason
    on one line, with Proxmox's per-parameter ``errors`` when it sent them.
    """

    def __init__(
        self,
        call: str,
        message: str,
        *,
        status: int | None = None,
        errors: dict[str, str] | None = None,
        answered: bool = True,
    ) -> None:
        self.call = call
        self.status = status
        self.message = message
        self.errors = dict(errors or {})
        self.answered = answered
        super().__init__(self.describe())

    def describe(self) -> str:
        """The failure on one line: ``HTTP 500: reason (param: why)`` or why there was no answer."""
        if not self.answered:
            return self.message
        text = f"HTTP {self.status}: {self.message}"
        if self.errors:
            text += " (" + "; ".join(f"{k}: {v}" for k, v in sorted(self.errors.items())) + ")"
        return text


class HostCallFailed(PvenetError, RuntimeError):
    """A command run on a node over SSH that failed: it answered with an exit status other
    than 0 (``status``, with its ``stderr``), or no answer came back (``answered`` False:
    the connection could not be made or was lost; the command may have run)."""

    def __init__(
        self,
        call: str,
        message: str,
        *,
        status: int | None = None,
        stderr: str = "",
        answered: bool = True,
    ) -> None:
        self.call = call
        self.message = message
        self.status = status
        self.stderr = stderr
        self.answered = answered
        super().__init__(message)

    def describe(self) -> str:
        """The failure on one line: the command, its exit status and its error output."""
        return self.message
