"""Import pages (filled by the import-pages work): upload, preview and mapping, progress, history, error report."""
