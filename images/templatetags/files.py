from django import template

register = template.Library()


@register.filter
def percent(share):
    """0.4567 as "45.7 %"."""
    try:
        return f"{float(share) * 100:.1f} %"
    except (TypeError, ValueError):
        return ""


@register.filter
def signed_size(size):
    """A size change with its sign, in the units the rest of the page uses."""
    from images.templatetags.dockyard import human_size

    try:
        size = int(size)
    except (TypeError, ValueError):
        return ""
    if size == 0:
        return "0B"
    return ("+" if size > 0 else "−") + human_size(abs(size))
