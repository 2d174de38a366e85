"""``db copy``: a whole database from SQLite to PostgreSQL (or back), verified before it is kept.

Every table of the source (ours: not the migration records nor SQLite's full-text index, which
its target rebuilds its own way) is copied row by row into a target whose schema is created
first and which must hold no rows yet. Each table's count and checksum
(:class:`~.values.TableChecksum`: canonical rows in primary-key order) are taken on the source
while reading and on the target by reading it back, inside the target's transaction: any
difference, a value that does not fit its column or a row the target refuses rolls it all back,
so a copy is whole or absent.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from bdnex_core.errors import DatabaseError
from bdnex_core.store.postgres.sides import Side, open_side
from bdnex_core.store.postgres.values import Column, TableChecksum


@dataclass(frozen=True)
class TableCopy:
    table: str
    rows: int
    checksum: str


@dataclass
class CopyReport:
    source: str
    target: str
    tables: list[TableCopy] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(table.rows for table in self.tables)

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "target": self.target,
            "rows": self.rows,
            "tables": [{"table": t.table, "rows": t.rows, "sha256": t.checksum} for t in self.tables],
        }


def table_checksum(side: Side, table: str, columns: list[Column]) -> TableChecksum:
    checksum = TableChecksum(columns)
    for row in side.rows(table, columns):
        checksum.add(row)
    return checksum


def dependency_order(tables: list[str], references: dict[str, set[str]]) -> list[str]:
    """Referenced tables before the tables that refer to them (alphabetical otherwise)."""
    ordered: list[str] = []
    placed: set[str] = set()

    def place(table: str, path: tuple[str, ...]) -> None:
        if table in placed or table in path:
            return  # a reference cycle: the order within it does not matter (copied in one transaction)
        for parent in sorted(references.get(table, set()) & set(tables)):
            place(parent, (*path, table))
        placed.add(table)
        ordered.append(table)

    for table in sorted(tables):
        place(table, ())
    return ordered


def _tee(rows: Iterator[tuple[Any, ...]], checksum: TableChecksum) -> Iterator[tuple[Any, ...]]:
    for row in rows:
        checksum.add(row)
        yield row


def copy_database(source_location: str, target_location: str) -> CopyReport:
    """Copy every table and row; raise :class:`DatabaseError` (target untouched) on any problem."""
    if source_location == target_location:
        raise DatabaseError("the source and the target are the same database", path=target_location)
    source = open_side(source_location, create=False)
    try:
        target = open_side(target_location, create=True)
        try:
            report = _copy(source, target)
            target.commit()
            return report
        finally:
            target.close()
    finally:
        source.close()


def _copy(source: Side, target: Side) -> CopyReport:
    tables = source.tables()
    if not tables:
        raise DatabaseError("no bdnex-core tables to copy", path=source.location)
    known = set(target.tables())
    missing = [table for table in tables if table not in known]
    if missing:
        raise DatabaseError(
            f"no table {', '.join(missing)} in this schema (a newer bdnex-core made the source?)",
            path=target.location,
        )
    filled = {table: count for table in sorted(known) if (count := target.count(table))}
    if filled:
        counts = ", ".join(f"{table}: {count}" for table, count in filled.items())
        raise DatabaseError(f"already holds rows ({counts}); copy into an empty database", path=target.location)

    report = CopyReport(source.location, target.location)
    order = dependency_order(tables, {table: source.references(table) for table in tables})
    for table in order:
        columns = source.columns(table)
        target_columns = {column.name: column for column in target.columns(table)}
        extra = [column.name for column in columns if column.name not in target_columns]
        if extra:
            raise DatabaseError(f"table {table} has no column {', '.join(extra)} here", path=target.location)
        written = [target_columns[column.name] for column in columns]
        read = TableChecksum(columns)
        target.insert(table, written, _tee(source.rows(table, columns), read))
        back = table_checksum(target, table, written)
        if (back.rows, back.hexdigest()) != (read.rows, read.hexdigest()):
            raise DatabaseError(
                f"table {table}: {read.rows} rows read, {back.rows} read back, checksums "
                f"{read.hexdigest()[:12]} and {back.hexdigest()[:12]}: the copy is not kept",
                path=target.location,
            )
        report.tables.append(TableCopy(table, read.rows, read.hexdigest()))
    return report
