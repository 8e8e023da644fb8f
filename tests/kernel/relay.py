"""A TCP relay from loopback into a lab namespace: how the tests (and pvenet) reach the node.

The test process stays in the machine's own network namespace; the node's sshd listens
inside the lab. ``Relay`` listens on ``127.0.0.1`` (an ephemeral port) and opens each
connection's other end from inside a lab namespace (the upstream router's, ``wan``),
so the node sees a connection from the outside, to its public address: its
nftables rules apply to it exactly as to a remote admin's. A thread enters the
namespace with ``setns(2)``, which moves only that thread; the listener and the
rest of the process stay where they are.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import socket
import threading

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def enter_netns(name: str) -> None:
    """Move the calling thread into the network namespace ``/run/netns/<name>``."""
    fd = os.open(f"/run/netns/{name}", os.O_RDONLY)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            error = ctypes.get_errno()
            raise OSError(error, f"setns into {name}: {os.strerror(error)}")
    finally:
        os.close(fd)


class Relay:
    """``127.0.0.1:<port>`` -> ``target`` as seen from inside namespace ``netns``."""

    def __init__(self, netns: str, target: tuple[str, int]) -> None:
        self.netns = netns
        self.target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._closed = threading.Event()
        self._threads: list[threading.Thread] = []
        self._open: set[socket.socket] = set()
        self.errors: list[str] = []  # why connections failed (refused, reset...), for messages
        self._lock = threading.Lock()
        self._accepting = threading.Thread(target=self._accept, name="relay-accept", daemon=True)
        self._accepting.start()

    @property
    def address(self) -> str:
        """``127.0.0.1:<port>``, as PVENET_SSH_ADDRESSES takes it."""
        return f"127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _peer = self._listener.accept()
            except OSError:
                return
            thread = threading.Thread(
                target=self._serve, args=(client,), name="relay-conn", daemon=True
            )
            self._threads.append(thread)
            thread.start()

    def _track(self, sock: socket.socket, add: bool) -> None:
        with self._lock:
            (self._open.add if add else self._open.discard)(sock)

    def _serve(self, client: socket.socket) -> None:
        """One connection: this thread enters the namespace, connects, then copies both ways."""
        self._track(client, True)
        upstream: socket.socket | None = None
        try:
            enter_netns(self.netns)
            upstream = socket.create_connection(self.target, timeout=5)
            upstream.settimeout(None)
            self._track(upstream, True)
            back = threading.Thread(
                target=_copy, args=(upstream, client), name="relay-back", daemon=True
            )
            back.start()
            _copy(client, upstream)
            back.join()
        except OSError as error:  # the client sees its connection close, as from afar
            self.errors.append(f"{self.target[0]}:{self.target[1]} from {self.netns}: {error}")
        finally:
            for sock in (client, upstream):
                if sock is not None:
                    self._track(sock, False)
                    sock.close()

    def close(self) -> None:
        """Stop listening and cut every relayed connection."""
        self._closed.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        self._listener.close()
        with self._lock:
            for sock in list(self._open):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(timeout=5)


def _copy(source: socket.socket, sink: socket.socket) -> None:
    """Copy ``source`` to ``sink`` until EOF; then half-close ``sink``."""
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)
