"""Covers compared: the archive's front cover against each candidate album's Bédéthèque cover.

The cover is the strongest evidence a file carries besides its name (a mislabelled file's pages are
another album's; two editions of one album often differ by their cover). This package holds the
fingerprint (:mod:`.fingerprint`: perceptual hashes, pure Python over Pillow), the choice of the
archive's cover page (:mod:`.pages`) and the comparisons a tag makes, politely (:mod:`.check`).
Nothing here is imported at start-up: Pillow is loaded only when a cover is compared.
"""
