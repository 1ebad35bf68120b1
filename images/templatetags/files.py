from html import escape

from django import template
from django.utils.safestring import mark_safe

from images.sizes import human_size

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
    try:
        size = int(size)
    except (TypeError, ValueError):
        return ""
    if size == 0:
        return "0B"
    return ("+" if size > 0 else "−") + human_size(abs(size))


# Rows of long lists are written here rather than in a template: Django's
# template engine spends 60 ms of CPU on 500 tree rows, this 6 ms, and a
# directory should answer in well under 100 ms. Every value goes through
# html.escape (quotes too) before it is joined.

@register.simple_tag
def tree_rows(listing, base):
    """The rows of one directory listing (images.files.explorer.Directory);
    `base` is the directory URL, which each subdirectory's link extends."""
    changed = "&amp;changed=1" if listing.changed_only else ""
    link = f"{escape(base)}?layer={listing.layer}{changed}&amp;path="
    rows = []
    for entry in listing.entries:
        name = escape(entry.name)
        if entry.is_dir:
            name = f'<a class="tree-dir" href="{link}{escape(entry.quoted_path)}" aria-expanded="false">{name}/</a>'
        if entry.link:
            name += f' <span class="tree-link" title="{escape(entry.kind)} to">→ <code>{escape(entry.link)}</code></span>'
        current = ' aria-current="true"' if listing.focus and entry.name == listing.focus else ""
        rows.append(
            f'<li class="{escape(entry.css_class)}"{current}><div class="tree-row"><span class="tree-name">{name}</span>'
            f'<span class="tree-mark">{escape(entry.mark_text)}</span><span class="tree-size">{escape(entry.size_text)}'
            f'</span><code class="tree-mode" title="{escape(entry.kind)}, mode {escape(entry.octal_mode)}">'
            f'{escape(entry.mode)}</code><span class="tree-owner" title="owner uid:gid">{escape(entry.owner)}</span>'
            "</div></li>")
    return mark_safe("\n".join(rows))  # noqa: S308 - every value above is escaped


def _diff_side(side):
    if side is None:
        return ""
    owner = f" {side['uid']}:{side['gid']}" if side["uid"] is not None else ""
    link = f" → <code>{escape(side['link'])}</code>" if side["link"] else ""
    return (f'<span class="diff-side">{escape(human_size(side["size"]))} <code>{escape(side["mode"])}</code>'
            f"{escape(owner)}{link}</span>")


@register.simple_tag
def diff_rows(changes):
    """The rows of the file changes (images.files.diff.FileChange) of a diff."""
    rows = []
    for change in changes:
        what = f' <span class="subtle">({escape(", ".join(change.what))})</span>' if change.what else ""
        rows.append(
            f'<tr class="change-{escape(change.change)}"><td><code>{escape(change.path)}</code> <span class="subtle">'
            f'{escape(change.kind)}</span></td><td>{escape(change.change)}{what}</td><td class="num">'
            f"{escape(signed_size(change.size_change))}</td><td>{_diff_side(change.a)}</td><td>{_diff_side(change.b)}"
            "</td></tr>")
    return mark_safe("\n".join(rows))  # noqa: S308 - every value above is escaped
