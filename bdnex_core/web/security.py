"""Who may talk to the local web page, and how a page proves a POST came from itself.

The page can rewrite every comic of the library, so it trusts little:

- the ``Host`` header must name this server (a loopback name, or the address it was bound to):
  a page on another site that re-points its own domain at 127.0.0.1 (DNS rebinding) is refused;
- bound to anything but loopback, every request needs the access token printed at start (given once
  as ``?token=``, then kept in a cookie, or sent as ``Authorization: Bearer``), compared in constant
  time;
- every POST carries the page's CSRF token (a form field or the ``X-CSRF-Token`` header).
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
import socket
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode

from starlette.datastructures import URL
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

TOKEN_COOKIE = "bdnex_token"
# the page loads only its own files, is never framed, and sends no Referer to Bédéthèque links
SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; script-src 'self'; style-src 'self'; "
        b"frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


def is_loopback(host: str) -> bool:
    if host.strip("[]") in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass
class Guard:
    """The rules of one running server: which Host names it answers to, its tokens."""

    host: str = "127.0.0.1"
    allowed_hosts: set[str] = field(default_factory=set)
    token: str | None = None  # None: loopback only, no token asked
    csrf_token: str = field(default_factory=lambda: secrets.token_urlsafe(32))

    @classmethod
    def for_bind(cls, host: str, extra_hosts: tuple[str, ...] = (), token: str | None = None) -> Guard:
        """Bound to loopback: no token. Bound elsewhere: a token (``token`` or a new random one)."""
        allowed = set(LOOPBACK_NAMES) | {host.strip("[]").lower()} | {name.lower() for name in extra_hosts}
        if host in ("0.0.0.0", "::"):  # every interface: the machine's own names too
            allowed |= {socket.gethostname().lower(), socket.getfqdn().lower()}
        needs_token = not is_loopback(host)
        return cls(
            host=host, allowed_hosts=allowed, token=(token or secrets.token_urlsafe(24)) if needs_token else None
        )

    def host_allowed(self, header: str) -> bool:
        name = header.strip().lower()
        if name.startswith("["):  # [::1]:8080
            name = name[1 : name.find("]")] if "]" in name else name
        elif name.count(":") == 1:
            name = name.split(":", 1)[0]
        return bool(name) and name in self.allowed_hosts

    def token_ok(self, offered: str | None) -> bool:
        if self.token is None:
            return True
        return offered is not None and hmac.compare_digest(offered.encode(), self.token.encode())

    def csrf_ok(self, offered: str | None) -> bool:
        return offered is not None and hmac.compare_digest(offered.encode(), self.csrf_token.encode())


class GuardMiddleware:
    """Applies :class:`Guard` to every HTTP request before any route sees it."""

    def __init__(self, app: ASGIApp, guard: Guard):
        self.app = app
        self.guard = guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        if not self.guard.host_allowed(request.headers.get("host", "")):
            await PlainTextResponse("unknown Host header: this server answers only to its own address", 400)(
                scope, receive, send
            )
            return
        if self.guard.token is not None:
            from_query = request.query_params.get("token")
            if from_query is not None and self.guard.token_ok(from_query):
                # keep it in a cookie and take it out of the address bar (and of the history)
                rest = urlencode([(k, v) for k, v in parse_qsl(request.url.query) if k != "token"])
                response = RedirectResponse(str(URL(scope=scope).replace(query=rest)), 303)
                response.set_cookie(TOKEN_COOKIE, self.guard.token, httponly=True, samesite="strict")
                await response(scope, receive, send)
                return
            bearer = request.headers.get("authorization", "")
            offered = bearer[7:] if bearer.lower().startswith("bearer ") else request.cookies.get(TOKEN_COOKIE)
            if not self.guard.token_ok(offered):
                await PlainTextResponse(
                    "access token required: open the address printed by `bdnex-core web` (…?token=…)", 401
                )(scope, receive, send)
                return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)
