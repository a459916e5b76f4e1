"""Download a remote image without letting the URL reach into the server's own network.

Checking a host name and then letting the HTTP client resolve it again is not enough: DNS can
answer differently the second time (rebinding). So the fetcher resolves each host once, checks
every address it got, and connects to a checked address itself, sending the real host name in the
Host header and as the TLS server name so virtual hosting and certificate checks still work.
Redirects are followed by hand so that every hop goes through the same check.

It talks to httpx's transport directly rather than through a Client: a Client would add proxies
from the environment, a cookie jar shared between users, and its own redirect handling, each of
which would undo part of the above.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Sequence

import httpx

from imagecaption import __version__
from imagecaption.errors import BadInput
from imagecaption.images.addresses import AddressPolicy, IPAddress, normalise_address
from imagecaption.images.limits import check_content_length, read_limited

_BLOCKED = "The image URL points to a private or local address, which is not allowed."
_COULD_NOT_FETCH = "Could not fetch the image URL: {}."

_HEADERS = {
    "User-Agent": f"imagecaption/{__version__}",
    "Accept": "image/webp,image/png,image/jpeg,image/gif,image/bmp,*/*;q=0.5",
    # Images are compressed already; asking for identity keeps a gzip bomb out of the byte limit.
    "Accept-Encoding": "identity",
}


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    """Whether the socket or TLS error that httpx and httpcore wrapped (a few levels deep, by
    cause or by context) is of the given kind; the depth bound guards against odd chains."""
    link: BaseException | None = exc
    for _ in range(8):
        if link is None:
            return False
        if isinstance(link, kind):
            return True
        link = link.__cause__ or link.__context__
    return False


def _describe(exc: httpx.TransportError) -> str:
    if isinstance(exc, httpx.ConnectTimeout):
        return "connecting to the server timed out"
    if isinstance(exc, httpx.TimeoutException):
        return "the server took too long to respond"
    if _caused_by(exc, ssl.SSLError):
        return "the secure connection failed (is the certificate valid for this host name?)"
    if _caused_by(exc, ConnectionRefusedError):
        return "the server refused the connection"
    if isinstance(exc, httpx.ConnectError):
        return "could not connect to the server"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "the server did not answer with valid HTTP"
    return "the connection failed"


class ImageFetcher:
    """Fetches image bytes from http(s) URLs under the SSRF rules, the byte limit and timeouts.

    URLs carrying a user name or password are refused rather than silently stripped: forwarding
    credentials to wherever redirects lead would leak them, and dropping them would turn a
    clear error into a confusing 401 from the remote server.
    """

    def __init__(
        self,
        *,
        max_bytes: int,
        connect_timeout: float = 5.0,
        read_timeout: float = 10.0,
        total_timeout: float = 30.0,
        max_redirects: int = 3,
        allow_list: Sequence[str] = (),
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        """ssl_context replaces the default trust store (certifi), e.g. for an internal CA."""
        self._max_bytes = max_bytes
        self._connect_timeout = connect_timeout
        self._total_timeout = total_timeout
        self._max_redirects = max_redirects
        self._policy = AddressPolicy(allow_list)
        self._timeouts = httpx.Timeout(
            connect=connect_timeout, read=read_timeout, write=read_timeout, pool=connect_timeout
        ).as_dict()
        # No keep-alive: a pooled connection is keyed by IP, so a later request for another host
        # name on the same IP could reuse a TLS session that was verified for the first name.
        self._transport = httpx.AsyncHTTPTransport(
            verify=ssl_context if ssl_context is not None else True,
            limits=httpx.Limits(max_keepalive_connections=0),
        )

    async def aclose(self) -> None:
        await self._transport.aclose()

    async def fetch(self, url: str) -> bytes:
        """Return the body of the image at url; every failure is a BadInput or PayloadTooLarge."""
        try:
            async with asyncio.timeout(self._total_timeout):
                return await self._follow(url)
        except TimeoutError as exc:
            raise BadInput(
                _COULD_NOT_FETCH.format(f"it took longer than {self._total_timeout:g} seconds")
            ) from exc
        except httpx.InvalidURL as exc:
            raise BadInput("The image URL is not valid.") from exc
        except httpx.TransportError as exc:
            raise BadInput(_COULD_NOT_FETCH.format(_describe(exc))) from exc

    async def check_url(self, url: str) -> None:
        """Refuse a URL (BadInput) that the rules above would not let this fetcher reach."""
        await self._checked_addresses(_parse(url))

    async def post(self, url: str, body: bytes, headers: dict[str, str], seconds: float) -> int:
        """POST to a URL under the same rules (a webhook); return the status. Redirects are not
        followed: a notification is delivered where it was addressed or not at all."""
        parsed = _parse(url)
        addresses = await self._checked_addresses(parsed)
        async with asyncio.timeout(seconds):
            response = await self._send(parsed, addresses, "POST", body, headers)
            await response.aclose()
        return response.status_code

    async def _follow(self, raw_url: str) -> bytes:
        url = _parse(raw_url)
        for _ in range(self._max_redirects + 1):
            response = await self._send(url, await self._checked_addresses(url))
            try:
                if not response.is_redirect:
                    return await self._read_body(response)
                url = _parse(_join(url, response.headers["Location"]))
            finally:
                await response.aclose()
        raise BadInput(
            _COULD_NOT_FETCH.format(f"it redirected more than {self._max_redirects} times")
        )

    async def _checked_addresses(self, url: httpx.URL) -> list[IPAddress]:
        """Resolve the host once and refuse it if any of its addresses is off limits.

        Checking all of them (not just the one used) means a host cannot mix a public address
        with a private one and hope the private one gets picked.
        """
        host = url.raw_host.decode("ascii")
        port = url.port or (443 if url.scheme == "https" else 80)
        try:
            async with asyncio.timeout(self._connect_timeout):
                infos = await asyncio.get_running_loop().getaddrinfo(
                    host, port, type=socket.SOCK_STREAM
                )
        except TimeoutError as exc:
            raise BadInput(_COULD_NOT_FETCH.format("looking up the host name timed out")) from exc
        except (OSError, UnicodeError) as exc:
            raise BadInput(_COULD_NOT_FETCH.format("the host name could not be resolved")) from exc
        addresses = list(
            dict.fromkeys(
                normalise_address(ipaddress.ip_address(sockaddr[0]))
                for family, _, _, _, sockaddr in infos
                if family in (socket.AF_INET, socket.AF_INET6)
            )
        )
        if not addresses:
            raise BadInput(_COULD_NOT_FETCH.format("the host name could not be resolved"))
        if not all(self._policy.permits(address) for address in addresses):
            raise BadInput(_BLOCKED)
        return addresses

    async def _send(
        self,
        url: httpx.URL,
        addresses: list[IPAddress],
        method: str = "GET",
        body: bytes = b"",
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """Connect to the checked addresses in turn (as a browser would) until one answers."""
        *others, last = addresses
        for address in others:
            try:
                return await self._send_to(url, address, method, body, headers)
            except (httpx.ConnectError, httpx.ConnectTimeout):
                continue
        return await self._send_to(url, last, method, body, headers)

    async def _send_to(
        self,
        url: httpx.URL,
        address: IPAddress,
        method: str,
        body: bytes,
        headers: dict[str, str] | None,
    ) -> httpx.Response:
        request = httpx.Request(
            method,
            url.copy_with(host=str(address)),
            headers={**_HEADERS, **(headers or {}), "Host": url.netloc.decode("ascii")},
            content=body or None,
            extensions={"timeout": self._timeouts, "sni_hostname": url.raw_host.decode("ascii")},
        )
        return await self._transport.handle_async_request(request)

    async def _read_body(self, response: httpx.Response) -> bytes:
        if not response.is_success:
            raise BadInput(_COULD_NOT_FETCH.format(f"the server answered {response.status_code}"))
        encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
        if encoding not in ("", "identity"):
            raise BadInput(_COULD_NOT_FETCH.format(f"the server sent it compressed ({encoding})"))
        check_content_length(response.headers.get("Content-Length"), self._max_bytes)
        return await read_limited(response.aiter_raw(), self._max_bytes)


def _parse(url: httpx.URL | str) -> httpx.URL:
    """Accept only absolute http(s) URLs with a host and without credentials.

    httpx decodes an internationalised host name (``xn--...``) only when it is first asked
    for, so that happens here, where a malformed one (IDNAError, a ValueError) is still a 400.
    """
    try:
        parsed = httpx.URL(url)
        host = parsed.host
    except (httpx.InvalidURL, ValueError) as exc:
        raise BadInput("The image URL is not valid.") from exc
    if parsed.scheme not in ("http", "https"):
        raise BadInput("Only http and https URLs are supported.")
    if not host:
        raise BadInput("The image URL is not valid: it has no host name.")
    if parsed.userinfo:
        raise BadInput("Image URLs with a user name or password are not supported.")
    return parsed


def _join(base: httpx.URL, location: str) -> httpx.URL | str:
    """Resolve a redirect's Location against the URL it came from; a malformed one is a 400."""
    try:
        return base.join(location)
    except (httpx.InvalidURL, ValueError) as exc:
        raise BadInput(_COULD_NOT_FETCH.format("it redirected to an invalid URL")) from exc
