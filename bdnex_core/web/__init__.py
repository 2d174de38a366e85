"""``bdnex-core web``: a local web page to review matches with covers side by side, follow sessions
and see the library, over the same database and review service as the command line.

See :mod:`bdnex_core.web.app` (routes), :mod:`bdnex_core.web.views` (what each page shows),
:mod:`bdnex_core.web.security` (who may talk to it), :mod:`bdnex_core.web.thumbs` (covers).
"""
