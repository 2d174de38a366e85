"""A Bédéthèque metadata source for ComicTagger, built on bdnex-core."""
