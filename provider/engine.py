"""Helpers every pvenet dynamic provider shares for what the Pulumi engine sends it.

The engine hands providers values that are not quite the program's: numbers
arrive as floats (``1500.0``, pulumi/pulumi#13830), and during preview any
value may be unknown (an ``output.Unknown`` object, or the RPC sentinel
string). These helpers undo the first and detect the second, so each
provider's ``check`` and ``diff`` read the same way; ``ConfiguredProvider``
is the base that reads connection settings without pickling them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pulumi.dynamic import CheckFailure, ConfigureRequest, ResourceProvider
from pulumi.dynamic.dynamic import PROVIDER_KEY
from pulumi.output import Unknown
from pulumi.runtime import rpc

from provider.api.settings import Settings, settings_from
from provider.errors import ConnectionSettingsError
from provider.host.settings import SshSettings, ssh_settings_from
from provider.names import NODE_RE
from provider.text import shown


def is_unknown(value: Any) -> bool:
    """Whether a value (or anything inside it) is unknown during preview."""
    if isinstance(value, dict):
        return any(is_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(is_unknown(v) for v in value)
    return isinstance(value, Unknown) or (isinstance(value, str) and value == rpc.UNKNOWN)


def coerce_numbers(value: Any) -> Any:
    """Engine numbers arrive as floats (1500.0); whole floats become ints again."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [coerce_numbers(v) for v in value]
    if isinstance(value, dict):
        return {k: coerce_numbers(v) for k, v in value.items()}
    return value


def unexpected_inputs(
    news: Mapping[str, Any], resource: str, inputs: Sequence[str], outputs: Iterable[str]
) -> list[CheckFailure]:
    """A failure for each property ``news`` has that ``resource`` takes neither as input nor
    sets as output (plus the SDK's pickled provider): without it, a misspelt input would be
    stored in the state and silently do nothing."""
    known = {*inputs, *outputs, PROVIDER_KEY}
    return [
        CheckFailure(
            key,
            f"'{key}' is not an input of {resource} (got {news[key]!r}); "
            f"its inputs are {', '.join(inputs)}",
        )
        for key in sorted(set(news) - known)
    ]


def node_input_failures(news: Mapping[str, Any]) -> list[CheckFailure]:
    """A failure when ``news``' ``node`` (known at preview) is not a Proxmox node name."""
    node = news.get("node")
    if is_unknown(node) or (isinstance(node, str) and NODE_RE.fullmatch(node)):
        return []
    shown_node = shown(node) if isinstance(node, str) else repr(node)
    return [CheckFailure("node", f"{shown_node} is not a Proxmox node name (letters, digits, '-')")]


class ConfiguredProvider(ResourceProvider):
    """A dynamic provider that reads its connection settings in ``configure``, never pickles them.

    The engine unpickles a provider from state and then calls ``configure`` with
    the stack config (``pvenet:endpoint``, ``pvenet:apiToken``, ...). Settings are
    kept on the instance for that process only: ``__getstate__`` drops them, so
    the pickle stored in state never holds the token.
    """

    def __init__(self) -> None:
        super().__init__()
        self._settings: Settings | None = None
        self._settings_error: str | None = None
        self._ssh: SshSettings | None = None
        self._ssh_error: str | None = None

    def __getstate__(self) -> dict[str, Any]:
        """Nothing of a configured provider is pickled (settings hold the token)."""
        return {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._settings = None
        self._settings_error = None
        self._ssh = None
        self._ssh_error = None

    def configure(self, req: ConfigureRequest) -> None:
        """Read the connection settings from stack config (``pvenet:*``) or the environment:
        the API's, and SSH's (``pvenet:ssh``, ``PVENET_SSH_*``) when set."""
        try:
            self._settings = settings_from(lambda key: req.config.get(f"pvenet:{key}"))
        except ConnectionSettingsError as error:
            self._settings, self._settings_error = None, str(error)
        try:
            self._ssh = ssh_settings_from(lambda key: req.config.get(f"pvenet:{key}"))
            self._ssh_error = None
        except ConnectionSettingsError as error:
            self._ssh, self._ssh_error = None, str(error)

    @property
    def settings(self) -> Settings:
        """The connection settings, or why there are none (an actionable error)."""
        if self._settings is None:
            raise ConnectionSettingsError(self._settings_error or "the provider was not configured")
        return self._settings

    @property
    def ssh(self) -> SshSettings | None:
        """The SSH settings (None: SSH is not configured); ConnectionSettingsError saying what
        to fix when they are set wrongly."""
        if self._ssh_error is not None:
            raise ConnectionSettingsError(self._ssh_error)
        return self._ssh

    @property
    def configured(self) -> bool:
        """Whether connection settings are available (checks that read the node need them)."""
        return self._settings is not None
