"""The ``shoal`` console command: Django's manage.py plus Shoal's own commands."""

import os
import sys


def main(argv=None):
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shoal.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["shoal", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    main()
