"""A server coroutine on a private event loop in a daemon thread (the HTTPS and SSH faces).

The simulator lives inside test processes and beside Pulumi: its servers must not touch
the caller's event loop, so each runs its own loop in a background thread. ``start``
returns once the coroutine calls :meth:`LoopThread.ready`; ``stop`` ends
:meth:`LoopThread.wait_stopped` and joins the thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Coroutine
from typing import Any

STARTUP_TIMEOUT_S = 30.0
"""How long ``start`` waits for the server to say it is serving."""

_log = logging.getLogger(__name__)

Serve = Callable[[], Coroutine[Any, Any, None]]


class LoopThread:
    """Runs one server coroutine in a thread of its own until ``stop``."""

    def __init__(self, name: str, what: str) -> None:
        """``name`` of the thread; ``what`` the server is, for errors ("the SSH servers")."""
        self._name = name
        self._what = what
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def running(self) -> bool:
        """Whether the thread is started and not yet stopped."""
        return self._thread is not None

    def start(self, serve: Serve, cleanup: Callable[[], None] | None = None) -> None:
        """Run ``serve()`` in the thread; return once it called ``ready``.

        A failure before that is raised here (an OSError as it is, anything else as a
        RuntimeError from it). ``cleanup`` runs in the thread after the loop closed.
        """
        if self._thread is not None:
            raise RuntimeError(f"{self._what} already started")
        self._ready.clear()
        self._error = None
        self._thread = threading.Thread(
            target=self._run, args=(serve, cleanup), name=self._name, daemon=True
        )
        self._thread.start()
        if not self._ready.wait(STARTUP_TIMEOUT_S):
            raise RuntimeError(f"{self._what} did not start within {STARTUP_TIMEOUT_S} s")
        if self._error is not None:
            self._thread.join()
            self._thread = None
            if isinstance(self._error, OSError):
                raise self._error
            raise RuntimeError(f"{self._what} failed to start") from self._error

    def ready(self) -> None:
        """Called by the server once it serves: ``start`` returns."""
        self._ready.set()

    async def wait_stopped(self) -> None:
        """Returns when ``stop`` is called."""
        assert self._stopping is not None
        await self._stopping.wait()

    def stop(self) -> None:
        """End ``wait_stopped`` and wait for the thread to end; a no-op when not running."""
        thread, loop, stopping = self._thread, self._loop, self._stopping
        if thread is None:
            return
        if loop is not None and stopping is not None and not loop.is_closed():
            # The loop may close between the check and the call: then it has stopped already.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stopping.set)
        thread.join()
        self._thread = None

    def _run(self, serve: Serve, cleanup: Callable[[], None] | None) -> None:
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self._main(serve))
        except BaseException as exc:
            if not self._ready.is_set():
                self._error = exc
            else:
                _log.exception("%s stopped on an error", self._what)
        finally:
            self._ready.set()
            loop.close()
            if cleanup is not None:
                cleanup()

    async def _main(self, serve: Serve) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        await serve()
