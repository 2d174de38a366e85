"""Opening a PostgreSQL connection, with every failure as one line and exit code 3.

psycopg is an optional extra (``pip install 'bdnex-core[postgresql]'``), imported here only.
libpq reads the password from the URL, ``PGPASSWORD`` or ``~/.pgpass``; the URL is shown in
messages with its password masked, and libpq's own message is reduced to one line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bdnex_core.config import mask_url_password
from bdnex_core.errors import DatabaseError

if TYPE_CHECKING:
    import psycopg

#: seconds to wait for a server that does not answer (a wrong host must not hang a command)
CONNECT_TIMEOUT_SECONDS = 10


def is_postgresql_url(location: str) -> bool:
    return location.startswith(("postgresql://", "postgres://"))


def one_line(error: BaseException) -> str:
    """libpq's messages run over several lines (with hints); keep them on one, passwords masked."""
    text = "; ".join(part.strip() for part in str(error).splitlines() if part.strip())
    return mask_url_password(text) or type(error).__name__


def psycopg_module() -> Any:
    """psycopg, imported when PostgreSQL is first used; ``ImportError`` when it is not installed."""
    import psycopg  # lazy: the optional [postgresql] extra, which no SQLite command imports

    return psycopg


def connect(url: str) -> psycopg.Connection[Any]:
    """A connection in UTC (``CURRENT_DATE`` and timestamps agree with SQLite's), not in autocommit."""
    try:
        psycopg = psycopg_module()
    except ImportError:
        raise DatabaseError(
            "PostgreSQL needs the psycopg package: pip install 'bdnex-core[postgresql]'",
            path=mask_url_password(url),
        ) from None
    try:
        return psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_SECONDS, options="-c timezone=UTC")
    except psycopg.Error as exc:
        raise DatabaseError(f"cannot connect to PostgreSQL: {one_line(exc)}", path=mask_url_password(url)) from None


def psycopg_privilege_errors() -> tuple[type[Exception], ...]:
    """The errors of a role that may not do what it was asked (a role that may only read, a
    read-only transaction or server): refused by PostgreSQL, not a bug of ours."""
    psycopg = psycopg_module()
    return (psycopg.errors.InsufficientPrivilege, psycopg.errors.ReadOnlySqlTransaction)


def not_allowed(error: BaseException, location: str) -> DatabaseError:
    """A refusal of :func:`psycopg_privilege_errors` as one line with what to do."""
    return DatabaseError(
        f"PostgreSQL refuses this role the change ({one_line(error)}): use a role that may write, "
        "or only commands that read (ls, stats, sessions list, show)",
        path=location,
    )
