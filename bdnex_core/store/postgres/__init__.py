"""PostgreSQL: the shared database for libraries tagged from several machines.

SQLite stays the embedded default (``schema.sql`` is its reference). This package holds what
runs on PostgreSQL today: the connection (:mod:`.connection`), the same schema in PostgreSQL
types with its own versioned migrations (:mod:`.schema`), and the copy of a whole database
between the two backends (:mod:`.copy`). The pipeline's stores move here next.
"""
