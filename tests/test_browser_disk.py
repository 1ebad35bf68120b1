"""A person in Chromium on the Disk page: after a few samples (made by calling the
sampling function, not by waiting for beat) each series is drawn on a canvas,
with its text table beside it."""

import pytest
from playwright.sync_api import expect

from images.sizes import human_size
from tests.test_disk import sampled

pytestmark = [pytest.mark.browser]

SIZE_STROKE = (0x1F, 0x5F, 0xA8)  # static/js/disk.js: the size line's colour


def stroke_pixels(page, selector):
    """How many of the canvas's pixels are the size line's colour."""
    return page.eval_on_selector(selector, """(canvas, rgb) => {
        const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
        let found = 0;
        for (let i = 0; i < data.length; i += 4) {
            if (data[i] === rgb[0] && data[i + 1] === rgb[1] && data[i + 2] === rgb[2] && data[i + 3] > 200) found++;
        }
        return found;
    }""", list(SIZE_STROKE))


def test_the_disk_plots_draw_each_series_beside_its_table(page):
    samples = sampled(3)
    page.goto("/disk/")
    expect(page.locator("h1")).to_have_text("Disk")
    for series in ("images", "containers", "volumes", "build_cache", "total"):
        chart = page.locator(f'.disk-chart[data-series="{series}"]')
        expect(chart).to_have_attribute("data-points", "3")
        expect(chart.locator("canvas")).to_have_count(1)
        assert stroke_pixels(page, f'.disk-chart[data-series="{series}"] canvas') > 50, series
    # The legend names both lines; the table beside the plot gives the newest sample first.
    expect(page.locator('.disk-chart[data-series="images"] .u-legend')).to_contain_text("Reclaimable")
    first_row = page.locator('.disk-plot:has([data-series="images"]) .disk-table tbody tr').first
    expect(first_row.locator("td").first).to_have_text(human_size(samples[-1].images_size))
