"""What every loyalty command refuses in its options before it touches the database.

PostgreSQL cannot store a NUL byte in text, and Python cannot hold a date past
year 9999 (a date near it overflows once moved to UTC): such values end in a
clear ``CommandError``, never in a database error halfway through a run.
"""

from django.core.management.base import CommandError

FIRST_YEAR, LAST_YEAR = 1900, 2999


def refuse_nul_bytes(options) -> None:
    """``CommandError`` if any text option holds a NUL byte."""
    for name, value in options.items():
        values = value if isinstance(value, list | tuple) else [value]
        if any(isinstance(v, str) and "\x00" in v for v in values):
            raise CommandError(f"--{name.replace('_', '-')}: contains a NUL byte.")


def check_year(moment, option) -> None:
    """``CommandError`` unless ``moment`` falls in the years a shop can mean."""
    if not FIRST_YEAR <= moment.year <= LAST_YEAR:
        raise CommandError(
            f"{option}: the year must be from {FIRST_YEAR} to {LAST_YEAR}, not {moment.year}."
        )
