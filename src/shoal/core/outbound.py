"""The one way Shoal calls out over HTTP (webhooks, SMS gateways): httpx with an SSRF guard.

- The host is resolved once, every address it resolves to is checked, and the connection goes to a checked
  address (a custom ``httpcore`` network backend: no second lookup, so no DNS rebinding). TLS still
  verifies the certificate against the name and sends it as SNI; the Host header is the name.
- Refused: private, loopback, link-local, unspecified, multicast, reserved and other non-global addresses,
  also when wrapped in IPv6 (``::ffff:127.0.0.1``, 6to4, NAT64, Teredo) — unless the address is in a
  network of ``SHOAL_OUTBOUND_ALLOWED_NETWORKS`` (comma-separated CIDRs, empty by default).
- Redirects are followed here, one hop at a time (``SHOAL_OUTBOUND_MAX_REDIRECTS``), and each hop's
  connection is checked the same way. Environment proxies are ignored.
- Timeouts (connect/read/write and a total deadline) and a response size cap (``SHOAL_OUTBOUND_MAX_BYTES``).

``resolver`` (``host, port -> [address]``) can be given to :func:`request` (tests; a fixed table).
"""

from __future__ import annotations

import functools
import ipaddress
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import httpcore
import httpx
from django.conf import settings
from django.utils.translation import gettext as _

from .errors import ShoalError

Resolver = Callable[[str, int], list[str]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class OutboundError(ShoalError):
    """A call that could not be made or answered. ``retryable``: worth trying again later (timeouts,
    connection errors); a refused address, a bad URL or a too-large answer is not."""

    status = 502

    def __init__(self, code: str, message: str, detail: dict | None = None, *, retryable: bool = False,
                 status: int | None = None):
        super().__init__(code, message, detail, status=status)
        self.retryable = retryable


class BlockedAddress(OutboundError):
    status = 400

    def __init__(self, host: str, address: str, reason: str):
        super().__init__("outbound_blocked",
                         _("%(host)s resolves to %(address)s (%(reason)s): Shoal does not call such addresses")
                         % {"host": host, "address": address, "reason": reason},
                         {"host": host, "address": address, "reason": reason})


# -- the address check ------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=8)
def _networks(spec: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(s.strip(), strict=False) for s in spec if s.strip())


def allowed_networks() -> tuple:
    return _networks(tuple(getattr(settings, "SHOAL_OUTBOUND_ALLOWED_NETWORKS", ())))


def _embedded_v4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in ipaddress.ip_network("64:ff9b::/96"):  # NAT64
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def blocked_reason(ip: IPAddress) -> str | None:
    """Why ``ip`` may not be called (None: it may), ignoring the allowed networks."""
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_v4(ip)
        if inner is not None:
            reason = blocked_reason(inner)
            return f"IPv6-wrapped {reason}" if reason else None
    for attr, reason in (("is_unspecified", "unspecified"), ("is_loopback", "loopback"),
                         ("is_link_local", "link-local"), ("is_multicast", "multicast"),
                         ("is_private", "private"), ("is_reserved", "reserved")):
        if getattr(ip, attr):
            return reason
    if not ip.is_global:
        return "not global"
    return None


def check_address(host: str, address: str) -> IPAddress:
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # a zone id (fe80::1%eth0) is not part of the address
    if any(ip in net for net in allowed_networks()):
        return ip
    reason = blocked_reason(ip)
    if reason:
        raise BlockedAddress(host, str(ip), reason)
    return ip


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return list(dict.fromkeys(info[4][0] for info in infos))


def resolve_checked(host: str, port: int, resolver: Resolver | None = None) -> list[str]:
    """The addresses of ``host``, every one checked (one refused address refuses the host)."""
    try:
        addresses = (resolver or system_resolver)(host, port)
    except (OSError, UnicodeError) as exc:
        raise OutboundError("outbound_dns", _("%(host)s could not be resolved: %(error)s")
                            % {"host": host, "error": exc}, {"host": host}, retryable=True)
    if not addresses:
        raise OutboundError("outbound_dns", _("%(host)s could not be resolved: %(error)s")
                            % {"host": host, "error": "no address"}, {"host": host}, retryable=True)
    return [str(check_address(host, a)) for a in addresses]


def check_url(url: str) -> str:
    """A URL Shoal may be configured to call: http(s), a host, and no literal address that is refused.
    (Names are resolved and checked when called: their addresses may change.) Returns the URL."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        raise ShoalError("invalid_url", _("Not a valid URL"), {"field": "url"})
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ShoalError("invalid_url", _("The URL must start with http:// or https:// and name a host"),
                         {"field": "url"})
    try:
        literal = ipaddress.ip_address(parsed.host)
    except ValueError:
        literal = None
    if literal is not None:
        try:
            check_address(parsed.host, str(literal))
        except BlockedAddress as exc:
            exc.detail["field"] = "url"
            raise
    return url


# -- the guarded transport ---------------------------------------------------------------------------------
class GuardedBackend(httpcore.NetworkBackend):
    """Opens TCP connections only to checked addresses of the requested host."""

    def __init__(self, resolver: Resolver | None = None):
        self._resolver = resolver
        self._tcp = httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable | None = None) -> httpcore.NetworkStream:
        addresses = resolve_checked(host, port, self._resolver)
        error: Exception | None = None
        for address in addresses:
            try:
                return self._tcp.connect_tcp(address, port, timeout=timeout, local_address=local_address,
                                             socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        assert error is not None
        raise error

    def connect_unix_socket(self, path, timeout=None, socket_options=None):  # pragma: no cover - never used
        raise OutboundError("outbound_error", "unix sockets are not used")

    def sleep(self, seconds: float) -> None:
        self._tcp.sleep(seconds)


_EXCEPTIONS = [  # most specific first
    (httpcore.ConnectTimeout, httpx.ConnectTimeout), (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout), (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.ConnectError, httpx.ConnectError), (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError), (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError), (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.ProtocolError, httpx.ProtocolError), (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.TimeoutException, httpx.TimeoutException),
]


def _mapped(exc: Exception) -> Exception:
    for core, mapped in _EXCEPTIONS:
        if isinstance(exc, core):
            return mapped(str(exc))
    return exc


class _Stream(httpx.SyncByteStream):
    def __init__(self, stream):
        self._stream = stream

    def __iter__(self):
        try:
            yield from self._stream
        except Exception as exc:
            raise _mapped(exc) from exc

    def close(self) -> None:
        if hasattr(self._stream, "close"):
            self._stream.close()


@functools.cache
def _ssl_context():
    return httpx.create_ssl_context(trust_env=False)


class GuardedTransport(httpx.BaseTransport):
    """An httpx transport over an ``httpcore`` pool whose network backend is :class:`GuardedBackend`."""

    def __init__(self, resolver: Resolver | None = None):
        self._pool = httpcore.ConnectionPool(ssl_context=_ssl_context(), network_backend=GuardedBackend(resolver),
                                             max_connections=10, retries=0)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(scheme=request.url.raw_scheme, host=request.url.raw_host, port=request.url.port,
                             target=request.url.raw_path),
            headers=request.headers.raw, content=request.stream, extensions=request.extensions)
        try:
            response = self._pool.handle_request(core_request)
        except Exception as exc:
            raise _mapped(exc) from exc
        return httpx.Response(status_code=response.status, headers=response.headers, stream=_Stream(response.stream),
                              extensions=response.extensions)

    def close(self) -> None:
        self._pool.close()


# -- one call ----------------------------------------------------------------------------------------------
@dataclass
class OutboundResponse:
    status_code: int
    headers: httpx.Headers
    body: bytes
    url: str
    duration_ms: int
    truncated: bool = False
    redirects: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


def _setting(name: str, default):
    return getattr(settings, name, default)


def request(method: str, url: str, *, params: dict | None = None, headers: dict | None = None,
            content: bytes | str | None = None, timeout: float | None = None, max_bytes: int | None = None,
            truncate: bool = False, max_redirects: int | None = None,
            resolver: Resolver | None = None) -> OutboundResponse:
    """Send one request through the guard; follow redirects (each hop checked). A body past ``max_bytes``
    is an error, or (``truncate``) cut there. Raises :class:`OutboundError` (``retryable`` for timeouts and
    connection errors) — never an httpx exception."""
    timeout = float(timeout or _setting("SHOAL_OUTBOUND_TIMEOUT", 10))
    max_bytes = int(max_bytes or _setting("SHOAL_OUTBOUND_MAX_BYTES", 1024 * 1024))
    max_redirects = _setting("SHOAL_OUTBOUND_MAX_REDIRECTS", 5) if max_redirects is None else max_redirects
    check_url(url)
    started = time.monotonic()
    deadline = started + timeout * 3  # connect + write + read of a slow but moving server, at most
    redirects: list[str] = []
    try:
        with httpx.Client(transport=GuardedTransport(resolver), timeout=httpx.Timeout(timeout), trust_env=False,
                          follow_redirects=False) as client:
            outgoing = client.build_request(method.upper(), url, params=params or None, headers=headers,
                                            content=content)
            while True:
                response = client.send(outgoing, stream=True)
                try:
                    if response.next_request is None:
                        body, truncated = _read(response, max_bytes, truncate, deadline)
                        return OutboundResponse(response.status_code, response.headers, body, str(response.url),
                                                int((time.monotonic() - started) * 1000), truncated, redirects)
                finally:
                    response.close()
                if len(redirects) >= max_redirects:
                    raise OutboundError("outbound_redirects", _("Too many redirects (more than %(n)s)")
                                        % {"n": max_redirects}, {"redirects": redirects})
                outgoing = response.next_request
                check_url(str(outgoing.url))
                redirects.append(str(outgoing.url))
    except OutboundError:
        raise
    except ShoalError as exc:  # check_url of a redirect target
        raise OutboundError(exc.code, exc.message, exc.detail, status=400)
    except httpx.TimeoutException as exc:
        raise OutboundError("outbound_timeout", _("No answer within %(s)s seconds") % {"s": timeout},
                            {"error": str(exc) or type(exc).__name__}, retryable=True)
    except (httpx.TransportError, OSError) as exc:
        raise OutboundError("outbound_error", _("The call failed: %(error)s") % {"error": str(exc) or type(exc).__name__},
                            {"error": str(exc) or type(exc).__name__}, retryable=True)
    except (httpx.InvalidURL, httpx.UnsupportedProtocol, httpx.DecodingError) as exc:
        raise OutboundError("outbound_error", _("The call failed: %(error)s") % {"error": exc}, status=400)


def _read(response: httpx.Response, max_bytes: int, truncate: bool, deadline: float) -> tuple[bytes, bool]:
    chunks, size = [], 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > max_bytes:
            if truncate:
                chunks.append(chunk[:len(chunk) - (size - max_bytes)])
                return b"".join(chunks), True
            raise OutboundError("outbound_too_large", _("The answer is larger than %(n)s bytes") % {"n": max_bytes},
                                {"max_bytes": max_bytes})
        chunks.append(chunk)
        if time.monotonic() > deadline:
            raise httpx.ReadTimeout("total deadline passed")
    return b"".join(chunks), False


def json_body(value: Any) -> bytes:
    import json

    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str).encode()
