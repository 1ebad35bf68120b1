"""Byte counts as people read them, the same on every page, in the API's text
and in job output."""

_UNITS = ["B", "kB", "MB", "GB", "TB", "PB", "EB"]


def human_size(size):
    """Decimal units with three significant digits, as the docker CLI prints them
    (go-units HumanSizeWithPrecision(size, 3)), so sizes read the same in both."""
    try:
        value = float(size)
    except (TypeError, ValueError):
        return ""
    unit = 0
    while value >= 1000 and unit < len(_UNITS) - 1:
        value /= 1000
        unit += 1
    return f"{value:.3g}{_UNITS[unit]}"
