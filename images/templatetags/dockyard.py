import json

from django import template
from django.template.defaultfilters import date as format_date, timesince
from django.utils.html import format_html

from images import refs
from images.catalog import inspect

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
def grouped(number):
    """12,345,678: a byte count to compare with the engine's, digit for digit."""
    return f"{number:,}"


@register.filter
def exec_form(argv):
    """A Config.Cmd or Entrypoint list as the JSON array a Dockerfile would hold."""
    return json.dumps(argv) if argv else ""


register.filter("container_name", inspect.container_name)
register.filter("short_id", refs.short_id)
register.filter("hex_id", refs.hex_id)


@register.filter
def ago(moment):
    """The one markup for a moment: "3 hours ago", the exact time on hover, and
    a machine-readable datetime."""
    if not moment:
        return ""
    return format_html('<time datetime="{}" title="{}">{} ago</time>', format_date(moment, "c"),
                       format_date(moment, "Y-m-d H:i:s T"), timesince(moment))
