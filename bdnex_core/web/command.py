"""``bdnex-core web``: serve the local web page (review with covers, sessions, library, files).

The command lives with the page it serves: the command line loads it by name and never imports ``web``.
"""

from __future__ import annotations

import socket
import webbrowser

import click
import uvicorn

from bdnex_core.app.workspace import Workspace
from bdnex_core.service.health import token_from_environment
from bdnex_core.web.app import create_app
from bdnex_core.web.security import Guard


@click.command("web")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (not loopback: a token).")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on.")
@click.option("--open", "open_browser", is_flag=True, help="Open the page in the default browser.")
@click.option(
    "--allow-host", "allow_hosts", multiple=True, metavar="NAME", help="Another name this server is reached by."
)
@click.pass_obj
def web(app: Workspace, host: str, port: int, open_browser: bool, allow_hosts: tuple[str, ...]) -> None:
    """A local web page: review queued matches with the covers side by side, follow sessions, see
    the library and each file's history. Bound to 127.0.0.1 unless --host says otherwise; any other
    address needs the access token printed at start (the same at every start when BDNEX_WEB_TOKEN or
    BDNEX_WEB_TOKEN_FILE gives it)."""
    guard = Guard.for_bind(host, allow_hosts, token=token_from_environment())
    application = create_app(app.settings, guard)
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)  # connections made from now on wait for the server, none is refused
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/" + (f"?token={guard.token}" if guard.token else "")
    click.echo(f"bdnex-core web on {url}  (Ctrl-C stops it)")
    if guard.token:
        click.echo("not loopback: every request needs the token above (kept in a cookie after the first visit)")
    if open_browser:
        webbrowser.open(url)
    config = uvicorn.Config(application, log_level="warning", access_log=False)
    uvicorn.Server(config).run(sockets=[sock])
