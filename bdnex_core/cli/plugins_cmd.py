"""``bdnex-core plugins``: installed plugins and their hooks."""

from __future__ import annotations

import click

from bdnex_core.cli.context import echo_json
from bdnex_core.plugins import describe_plugins


@click.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def plugins(as_json: bool) -> None:
    """List loaded plugins (default and installed) and the hooks each implements."""
    described = describe_plugins()
    if as_json:
        echo_json(described)
        return
    for plugin in described:
        if plugin.get("error"):
            click.echo(f"{plugin['name']}: FAILED TO LOAD ({plugin['error']})")
            continue
        origin = "default" if plugin.get("default") else (plugin.get("distribution") or {}).get("name", "registered")
        failed = f" (failed, skipped: {', '.join(plugin['failed_hooks'])})" if plugin.get("failed_hooks") else ""
        click.echo(f"{plugin['name']} [{origin}]: {', '.join(plugin['hooks']) or '(no hooks)'}{failed}")
