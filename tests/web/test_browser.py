"""The gallery in Debian's chromium: uploads, drawing, neighbours, reconstructions, daydreams, map and samples."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.server.image_files import digit_png, text_named_png

RESULT_URL = re.compile(r"/uploads/\d+$")
DAYDREAM_LENGTH = 3


def upload_file(page: Page, base_url: str, name: str, data: bytes) -> None:
    page.goto(base_url + "/")
    page.locator("#file-input").set_input_files({"name": name, "mimeType": "image/png", "buffer": data})


def test_upload_shows_neighbours_reconstructions(page, live_server):
    upload_file(page, live_server.url, "digit.png", digit_png(0))
    page.wait_for_url(RESULT_URL)
    neighbours = page.locator("#neighbours li")
    expect(neighbours).to_have_count(12)
    expect(neighbours.first.locator(".distance")).to_have_text(re.compile(r"^d = \d+\.\d{3}$"))
    expect(neighbours.first.locator("img")).to_have_attribute("alt", re.compile(r"^Indexed image \d+, label \d$"))
    reconstructions = page.locator("#reconstructions img")
    expect(reconstructions).to_have_count(4)
    expect(reconstructions.first).to_have_attribute("src", re.compile(r"^data:image/png;base64,"))
    expect(page.locator("#reconstructions-status")).to_have_text("")


def test_reload_keeps_result_view(page, live_server):
    upload_file(page, live_server.url, "digit.png", digit_png(1))
    page.wait_for_url(RESULT_URL)
    first_ids = page.locator("#neighbours a").evaluate_all("links => links.map(link => link.dataset.imageId)")
    page.reload()
    expect(page.locator("#neighbours li")).to_have_count(12)
    assert page.locator("#neighbours a").evaluate_all("links => links.map(link => link.dataset.imageId)") == first_ids


def test_neighbour_click_searches_from_it(page, live_server):
    page.goto(live_server.url + "/images/10")
    target = page.locator("#neighbours a").first
    image_id = target.get_attribute("data-image-id")
    target.click()
    page.wait_for_url(re.compile(rf"/images/{image_id}$"))
    expect(page.locator("h1")).to_have_text(f"Image {image_id}")
    expect(page.locator("#neighbours li")).to_have_count(12)


def test_daydream_frames_arrive_in_order(page, live_server):
    page.goto(live_server.url + "/images/7")
    page.locator("#daydream-length").fill(str(DAYDREAM_LENGTH))
    page.locator("#daydream-start").click()
    expect(page.locator("#daydream-status")).to_have_text(f"Daydream finished: {DAYDREAM_LENGTH} frames.")
    frames = page.locator("#daydream-frames li")
    steps = frames.evaluate_all("items => items.map(item => Number(item.dataset.step))")
    arrivals = frames.evaluate_all("items => items.map(item => Number(item.dataset.arrivedMs))")
    assert steps == list(range(DAYDREAM_LENGTH + 1))
    assert arrivals == sorted(arrivals)
    assert arrivals[-1] > arrivals[1]
    expect(frames.last.locator("img")).to_have_attribute("alt", f"Daydream step {DAYDREAM_LENGTH} of {DAYDREAM_LENGTH}")
    expect(page.locator("#daydream-start")).to_be_enabled()


def test_lost_stream_can_restart(page, live_server):
    page.goto(live_server.url + "/images/7")
    # The first stream breaks off after its start event: the connection ends without an end event.
    broken = 'event: start\ndata: {"image":"data:image/png;base64,","length":3}\n\n'
    page.route("**/api/daydreams/stream*", lambda route: route.fulfill(status=200, content_type="text/event-stream", body=broken))
    page.locator("#daydream-length").fill(str(DAYDREAM_LENGTH))
    page.locator("#daydream-start").click()
    expect(page.locator("#daydream-error")).to_have_text(f"The event stream stopped after 0 of {DAYDREAM_LENGTH} frames.")
    restart = page.locator("#daydream-restart")
    expect(restart).to_be_visible()
    page.unroute("**/api/daydreams/stream*")
    restart.click()
    expect(page.locator("#daydream-status")).to_have_text(f"Daydream finished: {DAYDREAM_LENGTH} frames.")
    expect(page.locator("#daydream-error")).to_be_hidden()


def test_stop_button_ends_stream(page, live_server):
    page.goto(live_server.url + "/images/7")
    page.locator("#daydream-length").fill("200")
    page.locator("#daydream-start").click()
    expect(page.locator("#daydream-frames li")).not_to_have_count(0)
    page.locator("#daydream-stop").click()
    expect(page.locator("#daydream-status")).to_have_text(re.compile(r"^Stopped after \d+ of 200 frames\.$"))
    count = page.locator("#daydream-frames li").count()
    page.wait_for_timeout(300)
    expect(page.locator("#daydream-frames li")).to_have_count(count)


def test_text_named_png_shows_error(page, live_server):
    upload_file(page, live_server.url, "notes.png", text_named_png())
    error = page.locator("#upload-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("image 0 ('notes.png') is not an image that Pillow can read")
    assert page.url == live_server.url + "/"


def test_drawn_digit_searches(page, live_server):
    page.goto(live_server.url + "/")
    canvas = page.locator("#draw-canvas")
    box = canvas.bounding_box()
    assert box is not None
    # A "1": one vertical stroke down the middle of the canvas.
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.8, steps=8)
    page.mouse.up()
    page.locator("#draw-search").click()
    page.wait_for_url(RESULT_URL)
    expect(page.locator("#neighbours li")).to_have_count(12)
    expect(page.locator("#model-input")).to_have_attribute("src", re.compile(r"^data:image/png;base64,"))


def test_empty_canvas_is_rejected(page, live_server):
    page.goto(live_server.url + "/")
    page.locator("#draw-search").click()
    expect(page.locator("#upload-error")).to_have_text("The canvas is empty; draw a digit first.")


def test_map_marks_query(page, live_server):
    page.goto(live_server.url + "/map?image_id=4")
    expect(page.locator("#map circle.map-point")).not_to_have_count(0)
    expect(page.locator("#map-query")).to_have_count(1)
    expect(page.locator("#map-legend li")).to_have_count(10)
    page.locator("#map circle.map-point").first.hover()
    expect(page.locator("#map-tooltip")).to_be_visible()


def test_map_keyboard_opens_point(page, live_server):
    page.goto(live_server.url + "/map")
    expect(page.locator("#map circle.map-point")).not_to_have_count(0)
    page.locator("#map").focus()
    page.keyboard.press("ArrowRight")
    expect(page.locator("#map-tooltip")).to_be_visible()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/images/\d+$"))


def test_samples_regenerate(page, live_server):
    page.goto(live_server.url + "/samples")
    images = page.locator("#samples img")
    expect(images).to_have_count(6)
    expect(images.first).to_have_attribute("alt", "Unconditional sample 1 of 6")
    page.locator("#samples-count").fill("2")
    page.locator("#samples-draw").click()
    expect(images).to_have_count(2)
    expect(page.locator("#samples-status")).to_have_text(re.compile(r"^Showing 2 samples of model \w+\.$"))


def test_keyboard_reaches_file_picker(page, live_server):
    page.goto(live_server.url + "/")
    focused = []
    for _ in range(8):
        page.keyboard.press("Tab")
        focused.append(page.evaluate("document.activeElement.id"))
    assert "file-input" in focused


@pytest.mark.parametrize("width", [360])
def test_narrow_screen_has_no_overflow(page, live_server, width):
    page.set_viewport_size({"width": width, "height": 800})
    page.goto(live_server.url + "/images/7")
    expect(page.locator("#neighbours li")).to_have_count(12)
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width
