"""The HTTP side: a keep-alive threading server on 127.0.0.1 and the Emulator context manager."""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

from bulk_assign.emulator.config import EmulatorConfig
from bulk_assign.emulator.errors import ApiError
from bulk_assign.emulator.seed import Seed, check_seed, load_seed
from bulk_assign.emulator.service import CONTENT_TYPE, Reply, Service
from bulk_assign.emulator.store import Store

HOST = "127.0.0.1"
STATE_PATH = "/_emulator/state"
RESET_PATH = "/_emulator/reset"
CONFIG_PATH = "/_emulator/config"
_NOT_FOUND = {"__type": "UnknownOperationException", "message": "Not found", "Message": "Not found"}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # bursts of new connections from a wide client pool

    def __init__(self, address: tuple[str, int], service: Service) -> None:
        self.service = service
        self.stopped = False
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that dies mid-request (kill -9, a read timeout) is routine here; anything
        # else still gets socketserver's traceback.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: every answer carries Content-Length
    server_version = "PartnerCentralEmulator/1.0"
    timeout = 300  # idle keep-alive connections end eventually
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        # Silent: request lines would flood the terminal, and bodies may hold personal data.
        return

    def do_POST(self) -> None:
        arrival = (time.time(), self.server.service.config.clock())
        body = self._read_body()
        if self.server.stopped:
            # A keep-alive connection outliving stop(): behave like a closed port.
            self._reset_connection()
            return
        service = self.server.service
        try:
            if self.path == RESET_PATH:
                service.reset()
                self._send_json(200, {"reset": True})
            elif self.path == CONFIG_PATH:
                self._configure(service, body)
            elif self.path == "/":
                headers = {name.lower(): value for name, value in self.headers.items()}
                reply = service.call("POST", self.path, headers, body, arrival)
                if reply.reset:
                    self._reset_connection()
                else:
                    self._send_reply(reply)
            else:
                self._send_json(404, _NOT_FOUND)
        except OSError:
            # The client went away (e.g. it timed out on a slow answer): nothing to tell it.
            self.close_connection = True

    def do_GET(self) -> None:
        if self.server.stopped:
            self._reset_connection()
        elif self.path == STATE_PATH:
            self._send_json(200, self.server.service.store.snapshot())
        else:
            self._send_json(404, _NOT_FOUND)

    def _configure(self, service: Service, body: bytes) -> None:
        try:
            changes = json.loads(body or b"{}")
            if not isinstance(changes, dict):
                raise ValueError("expected a JSON object of settings")
            config = service.configure(**changes)
        except (ValueError, TypeError) as exc:
            self._send_json(400, {"__type": "ValidationException", "message": str(exc)})
            return
        self._send_json(200, config.public())

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _reset_connection(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)
        self.connection.close()

    def _send_reply(self, reply: Reply) -> None:
        extra = [("x-amzn-ErrorType", reply.error_code)] if reply.error_code else []
        self._write(reply.status, reply.body, reply.request_id, extra)

    def _send_json(self, status: int, document: Any) -> None:
        body = json.dumps(document, separators=(",", ":")).encode()
        self._write(status, body, str(uuid.uuid4()), [])

    def _write(
        self, status: int, body: bytes, request_id: str, extra: list[tuple[str, str]]
    ) -> None:
        # One buffer, one send: fast, and no Nagle stall between headers and body.
        lines = [
            f"HTTP/1.1 {status} {HTTPStatus(status).phrase}",
            f"Content-Type: {CONTENT_TYPE}",
            f"Content-Length: {len(body)}",
            f"x-amzn-RequestId: {request_id}",
            *(f"{name}: {value}" for name, value in extra),
            "Connection: close" if self.close_connection else "Connection: keep-alive",
        ]
        head = "\r\n".join(lines) + "\r\n\r\n"
        self.wfile.write(head.encode("latin-1") + body)


class Emulator:
    """A running emulator; use as a context manager.

    >>> with Emulator(EmulatorConfig(), seed=None) as emu:
    ...     sorted(emu.state()["owners"])
    ['AWS', 'Sandbox']
    """

    def __init__(
        self,
        config: EmulatorConfig | None = None,
        seed: Seed | str | Path | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config if config is not None else EmulatorConfig()
        # None: the demo seed; a path: a seed file; a dict: a seed document.
        if seed is None or isinstance(seed, str | Path):
            seed = load_seed(seed)
        else:
            check_seed(seed)
        self.service = Service(self.config, Store(seed), sleep=sleep)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the emulator is not running")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> Emulator:
        """Bind (127.0.0.1 only) and serve in a background thread."""
        if self._server is not None:
            raise RuntimeError("the emulator is already running")
        self._server = _Server((HOST, self.config.port), self.service)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="partnercentral-emulator",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close the socket and join the thread."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.stopped = True
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def state(self) -> dict[str, Any]:
        """Same document as GET /_emulator/state."""
        return self.service.store.snapshot()

    def configure(self, **changes: Any) -> EmulatorConfig:
        """Change quotas, faults, latency or reject_credentials_after while running."""
        self.config = self.service.configure(**changes)
        return self.config

    def reset(self) -> None:
        """Same as POST /_emulator/reset."""
        self.service.reset()


__all__ = ["ApiError", "Emulator"]
