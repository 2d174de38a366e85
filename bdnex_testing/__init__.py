"""Test helpers shared by the core's and the plugins' test suites (fixtures, archive builders,
loop filesystems). Not shipped in any wheel: importable from a checkout, where the root
``conftest.py`` puts the repository on ``sys.path``."""
