"""Matching file names to Bédéthèque albums: parsing, candidates, scores, decisions (no I/O: the catalogue
index it reads is given to it; :mod:`bdnex_core.pipeline.catalogue_matcher` opens one)."""
