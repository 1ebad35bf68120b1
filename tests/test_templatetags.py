"""The template filters every page shares."""

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from django.template.defaultfilters import date as format_date, timesince
from django.utils.html import format_html

from images.templatetags.dockyard import ago


def test_ago_writes_what_djangos_date_filters_write():
    # Whole seconds: ago counts to the second it is in (to share the text among the rows of one image).
    for moment in (datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=3, minutes=5),
                   datetime(2024, 7, 1, 9, 8, 7, 654321, tzinfo=ZoneInfo("Europe/Paris")),
                   datetime(2024, 1, 2, 3, 4, 5)):
        assert ago(moment) == format_html('<time datetime="{}" title="{}">{} ago</time>', format_date(moment, "c"),
                                          format_date(moment, "Y-m-d H:i:s T"), timesince(moment))
    assert ago(None) == ""
