"""calibre adapter for bdnex-core (calibredb source, OPF write-back, metadata-source plugin)."""
