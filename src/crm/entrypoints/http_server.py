"""The HTTP/1.1 protocol `crm serve` runs: uvicorn's httptools protocol with a cap on the head.

httptools (llhttp) keeps no limit on the request line and headers: it and uvicorn concatenate
a header value or URL as its pieces arrive, so one request with 256 MB of headers was read
whole, served, and left the process 226 MiB larger. This protocol counts the bytes received
while a request's head is being read and, over the cap, answers `431` (problem+json,
`Connection: close`) and closes the connection. A head sent in many TCP reads is stopped at
the first read past the cap, so a connection never holds more than the cap plus one read.

The count is per request (it restarts when a message completes, so a keep-alive connection
carries any number of requests), and costs normal requests one addition per read: the exact
size is worked out only when a read that completed a head was larger than the cap.

The cap travels in uvicorn's `h11_max_incomplete_event_size` (the same limit for the h11
protocol), so every worker process gets it with the config.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httptools
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from crm.entrypoints.api.gateway import SECURITY_HEADERS, request_id_from
from crm.entrypoints.api.problems import PROBLEM_MEDIA_TYPE, REQUEST_ID_KEY, problem_body

DEFAULT_MAX_HEADER_BYTES = 16 * 1024
ON_SERVER_SHUTDOWN = "crm.on_server_shutdown"
"""A callable the application puts in its lifespan state: called when the server's graceful
shutdown begins, before uvicorn waits for the responses in progress (event streams, which
would otherwise hold it until they closed by themselves)."""
# `HTTP/1.1\r\n` after the target, the two spaces of the request line, the blank line.
_HEAD_FRAMING = len(b"  HTTP/1.1\r\n\r\n")
log = logging.getLogger("crm.http")


class HeadTooLarge(Exception):
    """Raised in the parser's headers-complete callback: it stops llhttp mid-read."""


class HeadLimitedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol refusing a request line plus headers over the cap."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.max_head_bytes = config.h11_max_incomplete_event_size or DEFAULT_MAX_HEADER_BYTES
        # Bytes received since the current head began: exact while the head spans reads, an
        # upper bound once a read also carries a body. A head that begins in the read that
        # ended the previous message counts from the next read (pipelining), so an unfinished
        # one is held to the cap plus one read (uvloop reads at most 256,000 bytes).
        self.head_bytes = 0
        self.reading_head = True
        self.refused = False

    def data_received(self, data: bytes) -> None:
        if self.refused:
            return
        if self.reading_head:
            self.head_bytes += len(data)
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError as error:
            if isinstance(error.__context__, HeadTooLarge):
                self._refuse()
            else:
                self._bad_request()
            return
        except httptools.HttpParserError:
            self._bad_request()
            return
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        if self.reading_head and self.head_bytes > self.max_head_bytes:
            self._refuse()

    def on_headers_complete(self) -> None:
        self.reading_head = False
        # A pipelined head (its predecessor still unanswered) may have begun mid-read,
        # uncounted: measure it too. Pipelining is rare, so normal requests skip this.
        pipelined = self.cycle is not None and not self.cycle.response_complete
        if (self.head_bytes > self.max_head_bytes or pipelined) and self._over_cap():
            raise HeadTooLarge
        super().on_headers_complete()

    def shutdown(self) -> None:
        hook = self.app_state.get(ON_SERVER_SHUTDOWN)
        if callable(hook):
            hook()
        super().shutdown()

    def on_message_complete(self) -> None:
        self.reading_head, self.head_bytes = True, 0
        super().on_message_complete()

    def _over_cap(self) -> bool:
        """Whether the request line and headers, as received less optional whitespace,
        exceed the cap."""
        fields = sum(len(name) + len(value) + 4 for name, value in self.headers)
        size = len(self.parser.get_method()) + len(self.url) + fields + _HEAD_FRAMING
        return size > self.max_head_bytes

    def _bad_request(self) -> None:
        message = "Invalid HTTP request received."
        self.logger.warning(message)
        self.send_400_response(message)

    def _refuse(self) -> None:
        self.refused = True
        log.warning(
            "refused a request from %s: request line and headers over %d bytes (431)",
            self.client[0] if self.client else "?",
            self.max_head_bytes,
        )
        if self.cycle is not None and not self.cycle.response_complete:
            # The answer to an earlier request on this connection is still being written:
            # let it finish, then close, rather than interleave a 431 with it.
            self.cycle.keep_alive = False
            return
        self.transport.write(self._too_large_response())
        self.transport.close()

    def _too_large_response(self) -> bytes:
        request_id = request_id_from(None)
        body = problem_body(
            {REQUEST_ID_KEY: request_id},
            431,
            "request_header_fields_too_large",
            "Request header fields too large",
            f"The request line and headers exceed {self.max_head_bytes} bytes.",
        )
        headers = [
            *self.server_state.default_headers,
            (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
            (b"x-request-id", request_id.encode()),
            *SECURITY_HEADERS,
        ]
        lines = b"".join(name + b": " + value + b"\r\n" for name, value in headers)
        return STATUS_LINE[431] + lines + b"\r\n" + body
