"""The application: what a person asks of bdnex-core, whichever front-end they ask it through.

The command line (``cli/``), the web page (``web/``) and plugins (through ``api``) call these; they
import none of the front-ends, and no click nor HTTP server: ``workspace`` (the settings and the
database, opened on first use), ``review`` (the review service and the one-file correction),
``reports`` (what ``show`` and the file page show), ``query`` (``ls``, ``missing``), ``organize``
(``rename``), ``undo`` (one restore path for ``undo``, the review's undo and the web page),
``legacy_logs`` (importing earlier BDneX logs), ``operations`` (the calls the plugin API hands out).
"""
