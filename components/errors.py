"""The error a component raises for bad arguments, with each problem tied to its argument.

The message is what a person reads (``NatGateway 'lab': cidr: ...``). The
structured ``problems`` let a caller that built the arguments from somewhere
else point at *its* source: the stack program maps ``cidr`` of the first NAT
network to the config key path ``pvenet:networks.nat[0].cidr``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from provider.errors import InvalidSpec


@dataclass(frozen=True)
class ArgumentProblem:
    """One problem with one argument of a component.

    ``argument`` is the keyword argument's name (``""`` when a problem is about
    the component as a whole); ``message`` is the sentence, which may start
    with the argument's name (``primary 'eno4' is not one of slaves ...``).
    """

    argument: str
    message: str

    def reason(self) -> str:
        """The sentence without a leading ``"<argument>: "`` (the caller names the argument)."""
        return self.message.removeprefix(f"{self.argument}: ") if self.argument else self.message


class InvalidArguments(InvalidSpec):
    """A component's arguments are not valid; raised before the component registers anything."""

    def __init__(
        self, message: str, *, component: str, name: str, problems: Sequence[ArgumentProblem]
    ) -> None:
        super().__init__(message)
        self.component = component
        self.name = name
        self.problems = tuple(problems)
