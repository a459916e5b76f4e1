"""uvicorn's HTTP protocols, answering requests they cannot parse in the API's envelope.

Malformed framing (a Content-Length of ``abc`` or ``-5``, Content-Length beside chunked
encoding, two Content-Lengths) is caught by the HTTP parser before the app ever runs, and
uvicorn answered it with a plain-text 400. Both of its HTTP/1.1 protocol classes send that
answer from one method, ``send_400_response``; overriding it is the smallest hook uvicorn offers
(``uvicorn.run(http=<protocol class>)``). The status stays 400 and the connection still closes;
the body becomes the envelope, in JSON, since the request's Accept header was never parsed.
"""

from __future__ import annotations

import asyncio
import json
import uuid

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from imagecaption.api.envelope import error

MESSAGE = (
    "Invalid HTTP request: its framing could not be parsed (check Content-Length and "
    "Transfer-Encoding)."
)


def _headers_and_body() -> tuple[list[tuple[bytes, bytes]], bytes]:
    body = json.dumps(error(MESSAGE)).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
        (b"x-request-id", uuid.uuid4().hex.encode()),
        (b"access-control-allow-origin", b"*"),
    ]
    return headers, body


class EnvelopeH11Protocol(H11Protocol):
    """uvicorn's pure-Python (h11) protocol with the enveloped 400."""

    def send_400_response(self, msg: str) -> None:
        headers, body = _headers_and_body()
        for event in (
            h11.Response(status_code=400, headers=headers, reason=b"Bad Request"),
            h11.Data(data=body),
            h11.EndOfMessage(),
        ):
            self.transport.write(self.conn.send(event))
        self.transport.close()


try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # uvicorn without its "standard" extra: the h11 protocol is all there is
    ENVELOPE_PROTOCOL: type[asyncio.Protocol] = EnvelopeH11Protocol
else:

    class EnvelopeHttpToolsProtocol(HttpToolsProtocol):
        """uvicorn's httptools (llhttp) protocol, the one it prefers, with the enveloped 400."""

        def send_400_response(self, msg: str) -> None:
            headers, body = _headers_and_body()
            lines = [b"HTTP/1.1 400 Bad Request\r\n"]
            for name, value in [*self.server_state.default_headers, *headers]:
                lines.append(name + b": " + value + b"\r\n")
            self.transport.write(b"".join([*lines, b"\r\n", body]))
            self.transport.close()

    ENVELOPE_PROTOCOL = EnvelopeHttpToolsProtocol
