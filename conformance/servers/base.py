"""Run asyncio servers on a private event-loop thread, bound to loopback."""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from typing import Any

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class ServerThread:
    """Starts listeners on 127.0.0.1 in a background loop; ``stop()`` closes them all."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._servers: list[asyncio.Server] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._thread = threading.Thread(target=self._loop.run_forever, name="mailspec-servers", daemon=True)
        self._thread.start()

    def listen(self, handler: Handler, port: int = 0, *, tls: ssl.SSLContext | None = None) -> int:
        async def tracked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            assert task is not None
            self._tasks.add(task)
            try:
                await handler(reader, writer)
            except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError, TimeoutError):
                pass
            except asyncio.CancelledError:
                # stop() cancels open sessions; finishing quietly keeps asyncio from logging each one.
                pass
            finally:
                self._tasks.discard(task)
                writer.close()

        async def start() -> int:
            server = await asyncio.start_server(tracked, "127.0.0.1", port, ssl=tls, limit=1 << 20)
            self._servers.append(server)
            sock = server.sockets[0]
            return int(sock.getsockname()[1])

        fut: Future[int] = asyncio.run_coroutine_threadsafe(start(), self._loop)
        return fut.result(timeout=10)

    def stop(self) -> None:
        async def shutdown() -> None:
            for s in self._servers:
                s.close()
            for t in list(self._tasks):
                t.cancel()
            await asyncio.sleep(0)

        if self._loop.is_running():
            asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(timeout=10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
        self._loop.close()
