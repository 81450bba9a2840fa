"""Misbehaving HTTP servers on loopback: ones that accept and never answer, or trickle bytes forever."""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType


class StallingServer:
    """A TCP server on 127.0.0.1 that reads each request and then stalls.

    `trickle=0`: it never answers (the client waits for the status line). `trickle>0`: it sends a valid
    status line and headers at once, then one body byte every `trickle` seconds, forever, so only a timeout
    on the whole request (not on each read) ends the client's wait."""

    def __init__(self, trickle: float = 0.0) -> None:
        self.trickle = trickle
        self.accepted = 0
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self._stop = threading.Event()
        self._conns: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    def __enter__(self) -> StallingServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()
        for conn in self._conns:
            conn.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted += 1
            self._conns.append(conn)
            threading.Thread(target=self._stall, args=(conn,), daemon=True).start()

    def _stall(self, conn: socket.socket) -> None:
        conn.settimeout(1)
        try:
            conn.recv(65536)  # the request (small GETs and POSTs fit)
            if not self.trickle:
                self._stop.wait()
                return
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: 1000000\r\n\r\n"
            )
            while not self._stop.is_set():
                conn.sendall(b"#")
                time.sleep(self.trickle)
        except OSError:
            return  # the client gave up and closed: what a timeout does
