"""``bdnex-core health``: is the long-running command of this container alive? (a HEALTHCHECK runs it)."""

from __future__ import annotations

import urllib.error
import urllib.request

import click

from bdnex_core.cli.context import echo_json
from bdnex_core.service.health import check, health_file, token_from_environment


def _url_answers(url: str, timeout: float) -> tuple[bool, str]:
    """A GET of ``url`` (the web page, with the token of BDNEX_WEB_TOKEN[_FILE] when set) answers 2xx."""
    request = urllib.request.Request(url, method="GET")
    token = token_from_environment()
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return 200 <= response.status < 300, f"{url} answered HTTP {response.status}"
    except urllib.error.HTTPError as exc:
        return False, f"{url} answered HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return False, f"{url} does not answer ({reason})"


@click.command("health")
@click.option("--url", metavar="URL", help="Check that this address answers (the web page: http://127.0.0.1:8080/).")
@click.option(
    "--max-age",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Unhealthy when the heartbeat is older than SECONDS (default: three beats, at least 60).",
)
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=10.0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def health(url: str | None, max_age: float | None, timeout: float, as_json: bool) -> None:
    """Exit 0 when healthy, 1 otherwise, with one line saying why: the heartbeat a long-running command
    (komga watch/serve, kavita watch) writes to BDNEX_HEALTH_FILE is fresh, and with --url, that address
    answers. Without a heartbeat file (a one-shot command), only --url is checked."""
    results: list[tuple[bool, str]] = []
    path = health_file()
    if path is not None:
        results.append(check(path, max_age=max_age))
    if url:
        results.append(_url_answers(url, timeout))
    if not results:
        results.append((True, "BDNEX_HEALTH_FILE is not set and no --url given: nothing to check"))
    healthy = all(ok for ok, _ in results)
    if as_json:
        echo_json({"healthy": healthy, "checks": [{"ok": ok, "detail": detail} for ok, detail in results]})
    else:
        click.echo("; ".join(detail for _, detail in results))
    raise SystemExit(0 if healthy else 1)
