"""What every HTTP double shares: a free loopback port, served from a thread."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, ClassVar, Self


class LoopbackServer(ThreadingHTTPServer):
    """The server of one double; its handler reaches the double as ``double``."""

    daemon_threads = True
    double: Any

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet when a client gave up (the timeout tests do)."""


class LoopbackDouble:
    """An HTTP double on 127.0.0.1; a subclass names its handler and thread."""

    handler: ClassVar[type[BaseHTTPRequestHandler]]
    thread_name: ClassVar[str]

    _server: LoopbackServer | None = None
    _thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """Where the double listens."""
        assert self._server is not None, "the double is not started"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Self:
        """Listen on a free loopback port, serving from a thread."""
        self._server = LoopbackServer(("127.0.0.1", 0), self.handler)
        self._server.double = self
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=self.thread_name,
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
