"""Runtime code of ``bdnex-core demo``: a local fake Bédéthèque site and a sample-library builder.

Shipped in the wheel and importing nothing from pytest, so a plain install can run the demo.
"""
