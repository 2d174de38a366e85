"""The application: what a person asks of bdnex-core, whichever front-end they ask it through.

The command line (``cli/``), the web page (``web/``) and plugins (through ``api``) call these; they
import none of the front-ends, and no click nor HTTP: ``query`` (``ls``, ``missing``), ``organize``
(``rename``), ``undo`` (one restore path for ``undo``, the review's undo and the web page),
``legacy_logs`` (importing earlier BDneX logs).
"""
