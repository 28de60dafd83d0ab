"""Date, time and number formats of the pages (Django ``FORMAT_MODULE_PATH``): one style in every
language, ``2026-12-01 06:54:34`` in the server's ``TIME_ZONE`` and ``919,007.50``. Input formats not
set here come from Django's own locale files."""
