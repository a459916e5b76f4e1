"""uvicorn's httptools protocol with the server's connection limits, answering in the envelope.

uvicorn parses a request's line and headers itself, before the app runs, and sets no limit on
them: a header that never ends was kept, copied on every read, until the process held gigabytes;
a connection that sends nothing was kept for as long as the client liked, and enough of them used
up the process's file descriptors, after which every real call failed and nothing was logged.
Its own options do not close those gaps (``limit_concurrency`` counts connections only once
their headers are complete, and answers in plain text; ``h11_max_incomplete_event_size`` applies
to the h11 protocol only; ``timeout_keep_alive`` starts only after a first response), so this
subclass of its httptools protocol, the one uvicorn prefers, adds them
(``uvicorn.run(http=<protocol class>)``; the limits come from ``connections``):

- at most ``max_header_bytes`` of request line and headers (431), ``max_header_count`` header
  fields (431) and ``max_url_bytes`` of request target (414), checked as the bytes arrive;
- ``header_read_timeout_seconds`` to send them, counted from the connection's start or from the
  first byte of a following request (408, or a quiet close for a connection that sent nothing);
- at most ``max_connections`` open per process: at the limit, a new connection closes the one
  that has waited longest for its request (idle or still sending headers; never one whose request
  is being answered), or, if every connection is busy, is answered 503 and closed. Refusals are
  logged (``connections.REFUSALS``).

Malformed framing (a Content-Length of ``abc``, two Content-Lengths, ...) is still answered 400,
in the envelope too: uvicorn sends that answer from ``send_400_response``. The h11 protocol is
not used: ``httptools`` comes with uvicorn's "standard" extra, which the project depends on.
"""

from __future__ import annotations

import asyncio
import http
import json
import uuid
from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from imagecaption.api import connections
from imagecaption.api.envelope import error

MALFORMED = (
    "Invalid HTTP request: its framing could not be parsed (check Content-Length and "
    "Transfer-Encoding)."
)


class HeadRefused(Exception):
    """A request's line or headers broke a limit; raised from the parser's callbacks."""

    def __init__(self, status: int, message: str, reason: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.reason = reason


def _response(
    status: int,
    message: str,
    default_headers: list[tuple[bytes, bytes]],
    *extra: tuple[bytes, bytes],
) -> bytes:
    """A whole HTTP/1.1 answer in the envelope, in JSON: the request's Accept was never read."""
    body = json.dumps(error(message)).encode()
    headers = [
        *default_headers,
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
        (b"x-request-id", uuid.uuid4().hex.encode()),
        (b"access-control-allow-origin", b"*"),
        *extra,
    ]
    phrase = http.HTTPStatus(status).phrase.encode()
    lines = [b"HTTP/1.1 %d %s\r\n" % (status, phrase)]
    lines += [name + b": " + value + b"\r\n" for name, value in headers]
    return b"".join([*lines, b"\r\n", body])


class EnvelopeHttpToolsProtocol(HttpToolsProtocol):
    """One connection: uvicorn's httptools protocol, bounded, with its refusals in the envelope."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limits = connections.LIMITS
        # Since when this connection has waited for a request's headers; None while a request
        # of its own is being answered, so that it is never closed to make room.
        self.waiting_since: float | None = None
        self.header_timer: asyncio.TimerHandle | None = None
        self.in_head = False  # between a request's first byte and the end of its headers
        self.head_began_in_read = False
        # Bytes of the reads a request's head came in: all of them (at least the head), and
        # those after the read it began in (at most the head, while it is still coming).
        self.head_reads_bytes = 0
        self.head_later_reads_bytes = 0
        self.read_size = 0
        self.max_header_bytes = self.limits.max_header_bytes
        self.max_header_count = self.limits.max_header_count
        self.max_url_bytes = self.limits.max_url_bytes
        self.refusal: HeadRefused | None = None

    # Connections

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.waiting_since = self.loop.time()
        if (
            len(self.connections) > self.limits.max_connections
            and not self._close_longest_waiting()
        ):
            self._note("connections refused with 503 (every connection busy with a request)")
            self._reply_and_close(
                503,
                "The server is at its connection limit; retry shortly.",
                (b"retry-after", str(self.limits.retry_after_seconds).encode()),
            )
            return
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_timer()
        self.waiting_since = None
        super().connection_lost(exc)

    def _close_longest_waiting(self) -> bool:
        """Make room for a new connection by closing the one that has waited longest for a
        request; False when every other connection has a request being answered."""
        waiting = [
            other
            for other in self.connections
            if isinstance(other, EnvelopeHttpToolsProtocol)
            and other is not self
            and other.waiting_since is not None
        ]
        if not waiting:
            return False
        longest = min(waiting, key=lambda other: other.waiting_since or 0.0)
        longest.close_quietly()
        self._note("waiting connections closed to make room for new ones")
        return True

    def close_quietly(self) -> None:
        self._disarm_header_timer()
        self.waiting_since = None
        self.connections.discard(self)
        self.transport.close()

    def _reply_and_close(self, status: int, message: str, *extra: tuple[bytes, bytes]) -> None:
        self._disarm_header_timer()
        self.waiting_since = None
        self.connections.discard(self)
        if not self.transport.is_closing():
            self.transport.write(
                _response(status, message, self.server_state.default_headers, *extra)
            )
            self.transport.close()

    def _note(self, what: str) -> None:
        connections.REFUSALS.note(what, self.connections, self.loop)

    # The time to send a request's headers

    def _arm_header_timer(self) -> None:
        if self.header_timer is None:
            self.header_timer = self.loop.call_later(
                self.limits.header_read_timeout_seconds, self._headers_too_slow
            )

    def _disarm_header_timer(self) -> None:
        if self.header_timer is not None:
            self.header_timer.cancel()
            self.header_timer = None

    def _headers_too_slow(self) -> None:
        self.header_timer = None
        if self.transport.is_closing() or self.waiting_since is None:
            return
        if not self.in_head:  # sent nothing: closed as an idle keep-alive connection would be
            self.close_quietly()
            return
        self._note("requests answered 408 (headers not sent in time)")
        seconds = f"{self.limits.header_read_timeout_seconds:g}"
        self._reply_and_close(
            408, f"The request's headers did not arrive within {seconds} seconds."
        )

    # Reading

    def data_received(self, data: bytes) -> None:
        self._unset_keepalive_if_required()
        if self.waiting_since is not None:
            self._arm_header_timer()
        self.head_began_in_read = False
        self.read_size = len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if self.refusal is not None:
                self._note(self.refusal.reason)
                self._reply_and_close(self.refusal.status, self.refusal.message)
                return
            self.logger.warning("Invalid HTTP request received.")
            self.send_400_response("Invalid HTTP request received.")
            return
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        # A header that never ends reaches no callback: the parser keeps it growing. Every read
        # after the one the request began in is all head, so counting those bounds it.
        if self.in_head:
            self.head_reads_bytes += len(data)
        if self.in_head and not self.head_began_in_read:
            self.head_later_reads_bytes += len(data)
            if self.head_later_reads_bytes > self.max_header_bytes:
                self._note("requests answered 431 (headers too large)")
                self._reply_and_close(431, self._too_large())

    def _too_large(self) -> str:
        return (
            f"The request's header fields are too large: at most {self.limits.max_header_bytes} "
            f"bytes with the request line."
        )

    def _refuse(self, status: int, message: str, reason: str) -> None:
        self.refusal = HeadRefused(status, message, reason)
        raise self.refusal

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.in_head = True
        self.head_began_in_read = True
        self.head_reads_bytes = self.head_later_reads_bytes = 0

    # The parser's callbacks, run for every request: these do what uvicorn's do, inline, since
    # calling them through super() cost more than the checks.

    def on_url(self, url: bytes) -> None:
        self.url += url
        if len(self.url) > self.max_url_bytes:
            self._refuse(
                414,
                f"The request target (URL) is too long: at most {self.max_url_bytes} bytes.",
                "requests answered 414 (URL too long)",
            )

    def on_header(self, name: bytes, value: bytes) -> None:
        if len(self.headers) >= self.max_header_count:
            self._refuse(
                431,
                f"The request has too many header fields: at most {self.max_header_count}.",
                "requests answered 431 (too many headers)",
            )
        name = name.lower()
        if name == b"expect" and value.lower() == b"100-continue":
            self.expect_100_continue = True
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        # A head still coming is counted as it comes (data_received); a complete one is measured
        # here, field by field with its ": " and CRLF, unless its reads were too small to hold
        # a head too large (as for every request without a large body right behind its head).
        if self.head_reads_bytes + self.read_size > self.max_header_bytes:
            size = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
            if size > self.max_header_bytes:
                self._refuse(431, self._too_large(), "requests answered 431 (headers too large)")
        self.in_head = False
        self.waiting_since = None
        self._disarm_header_timer()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and (self.cycle is None or self.cycle.response_complete):
            self.waiting_since = self.loop.time()

    # Malformed framing

    def send_400_response(self, msg: str) -> None:
        self._reply_and_close(400, MALFORMED)


ENVELOPE_PROTOCOL: type[asyncio.Protocol] = EnvelopeHttpToolsProtocol
