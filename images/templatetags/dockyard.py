import json

from django import template

from images import inspect

register = template.Library()

_UNITS = ["B", "kB", "MB", "GB", "TB", "PB", "EB"]


@register.filter
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


@register.filter
def exec_form(argv):
    """A Config.Cmd or Entrypoint list as the JSON array a Dockerfile would hold."""
    return json.dumps(argv) if argv else ""


register.filter("container_name", inspect.container_name)
