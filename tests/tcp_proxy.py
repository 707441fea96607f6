"""A loopback TCP proxy a test can cut and restore: a dependency (PostgreSQL) made unreachable
without stopping the shared server. Cutting closes the listener (new connections are refused)
and every relayed connection (established ones see the peer vanish)."""

from __future__ import annotations

import contextlib
import socket
import threading


def free_port() -> int:
    """A loopback port nothing listens on right now (the OS picks it, so no two tests collide)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class TcpProxy:
    """Relays ``127.0.0.1:port`` to ``target`` while open."""

    def __init__(self, target: tuple[str, int]):
        self.target = target
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._relayed: set[socket.socket] = set()
        self._lock = threading.Lock()

    def open(self) -> None:
        """Starts listening (again, on the same port); returns once connections are accepted."""
        self._listener = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, args=(self._listener,), daemon=True).start()

    def cut(self) -> None:
        """Refuses new connections and drops every relayed one, as a dead host would."""
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        with self._lock:
            relayed, self._relayed = self._relayed, set()
        for sock in relayed:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._relayed.update((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)
