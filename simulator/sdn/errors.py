"""How pve-network's failures reach the API client, word for word.

Three shapes occur on the SDN paths:

- ``raise_param_exc`` outside the SDN lock: HTTP 400 "Parameter verification
  failed." with per-parameter errors (``vnet: wrong vnet``).
- a plain ``die`` outside the lock: HTTP 500 with the message. Perl appends
  `` at FILE line N.`` to a message without a trailing newline.
- anything raised inside ``lock_sdn_config``: ``lock_sdn_domain`` re-dies with
  ``"$errmsg: $err"``, which stringifies even a parameter exception, so the
  client sees HTTP 500 ``create sdn vnet object failed: 400 Parameter
  verification failed.\\nvnet: ...``.

Code in the ``sdn_*`` modules raises ``SdnError`` with the exact text
Perl's ``die`` would carry; ``as_api_error`` and ``in_lock`` turn it into the
``ApiError`` the client gets.
"""

from __future__ import annotations

from simulator.errors import ApiError, die, param_error

PERL_LIB = "/usr/share/perl5/PVE"


class SdnError(Exception):
    """A pve-network ``die``: ``text`` is the full message, ending in a newline."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text if text.endswith("\n") else text + "\n"


class SdnParamError(SdnError):
    """A ``raise_param_exc``: per-parameter errors; ``text`` is how PVE::Exception stringifies."""

    def __init__(self, errors: dict[str, str]) -> None:
        lines = "".join(f"{name}: {message}\n" for name, message in errors.items())
        super().__init__("400 Parameter verification failed.\n" + lines)
        self.errors = dict(errors)


def fail(message: str) -> SdnError:
    """A ``die "...\\n"``: the message as written."""
    return SdnError(message)


def fail_at(message: str, module: str, line: int) -> SdnError:
    """A ``die "..."`` without newline in ``PVE/<module>``: Perl adds the source location."""
    return SdnError(f"{message} at {PERL_LIB}/{module} line {line}.\n")


def param_fail(name: str, message: str) -> SdnParamError:
    """A ``raise_param_exc({name => message})``."""
    return SdnParamError({name: message})


def as_api_error(failure: SdnError) -> ApiError:
    """What the client gets for a failure raised outside the SDN lock."""
    if isinstance(failure, SdnParamError):
        return param_error(failure.errors)
    return die(failure.text)


def in_lock(errmsg: str, failure: SdnError) -> ApiError:
    """What the client gets for a failure raised inside ``lock_sdn_config($code, $errmsg)``."""
    return die(f"{errmsg}: {failure.text}")
