"""Hostile SMTP targets for the tests: silence, garbage, endless lines, drips, resets."""

from __future__ import annotations

import socket
import struct
import threading
import time


class HostileServer:
    MODES = ("silent", "garbage", "endless-line", "drip", "reset-mid-reply", "greet-then-silent")

    def __init__(self, mode: str, drip_interval: float = 0.1) -> None:
        assert mode in self.MODES
        self.mode = mode
        self.drip_interval = drip_interval
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.port: int = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        self._sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            if self.mode == "silent":
                self._stop.wait(120)
            elif self.mode == "garbage":
                conn.sendall(b"\x00\xffHELLO? \x1b[31m garbage \r\n" * 5)
                self._stop.wait(120)
            elif self.mode == "endless-line":
                chunk = b"220" + b"x" * 65536
                while not self._stop.is_set():
                    conn.sendall(chunk)
            elif self.mode == "drip":
                for b in b"220 slow.example ESMTP " + b"." * 100000:
                    if self._stop.is_set():
                        break
                    conn.sendall(bytes([b]))
                    time.sleep(self.drip_interval)
            elif self.mode == "reset-mid-reply":
                conn.sendall(b"220-mx.example ESMTP\r\n220-still going")
                time.sleep(0.05)  # let the partial reply reach the client before the reset
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            elif self.mode == "greet-then-silent":
                conn.sendall(b"220 mx.example ESMTP\r\n")
                self._stop.wait(120)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._sock.close()
        self._thread.join(timeout=5)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"
