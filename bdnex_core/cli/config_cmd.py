"""``bdnex-core config show|validate``."""

from __future__ import annotations

import click
import yaml

from bdnex_core.cli.context import AppContext, echo_json, pass_app
from bdnex_core.config import resolve_config_path, settings_as_dict


@click.group("config")
def config_group() -> None:
    """Show or check the configuration."""


@config_group.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def show(app: AppContext, as_json: bool) -> None:
    """Print the effective configuration (file values with defaults filled in)."""
    settings = app.settings
    data = settings_as_dict(settings)
    if as_json:
        echo_json({"source": str(settings.source) if settings.source else None, "settings": data})
        return
    click.echo(f"# from {settings.source or 'defaults (no configuration file)'}")
    click.echo(yaml.safe_dump(data, allow_unicode=True, sort_keys=False).rstrip())


@config_group.command("validate")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def validate(app: AppContext, as_json: bool) -> None:
    """Check the configuration file; exit 2 with the key and the problem when invalid."""
    settings = app.settings  # raises ConfigError (one line, exit 2) when invalid
    path, _ = resolve_config_path(app.config_path)
    message = f"{path}: valid" if settings.source else f"{path}: not present, defaults apply"
    if as_json:
        echo_json({"path": str(path), "exists": settings.source is not None, "valid": True})
    else:
        click.echo(message)
