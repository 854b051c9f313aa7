"""Save a PNG screenshot of each gallery view of a running ACN server, driving Debian's chromium with Playwright.

    python web/screenshots.py --url http://127.0.0.1:8000 --out docs/screenshots [--image digit.png]

Views: home, result (an upload, or indexed image 0 when no image is given and the model has no drawing
canvas), a finished daydream, the latent map with the query marked, samples, a rejected upload and a narrow
screen. The server must listen on 127.0.0.1 or localhost; the script refuses any other host.
"""

import argparse
import sys
import urllib.parse
from pathlib import Path

from playwright.sync_api import Page, expect, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
# --no-sandbox lets Chromium run as root, --disable-dev-shm-usage copes with a small /dev/shm in containers,
# and the networking flags keep Chromium from reaching outside hosts.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost"})
TIMEOUT_MS = 120_000  # a daydream on a large model samples for a while
# A daydream frame takes well under a second on an idle machine, but other jobs can slow it many times.
DAYDREAM_TIMEOUT_MS = 180_000
VIEWPORT = {"width": 1200, "height": 900}
NARROW_VIEWPORT = {"width": 380, "height": 800}
DAYDREAM_LENGTH = 6


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Save a screenshot of each view of the ACN gallery.")
    parser.add_argument("--url", required=True, help="base URL of a running server on 127.0.0.1, e.g. http://127.0.0.1:8000")
    parser.add_argument("--out", type=Path, required=True, help="directory for the PNG files; created if missing")
    parser.add_argument("--image", type=Path, help="image file to upload for the result view (default: a drawn digit or indexed image 0)")
    parser.add_argument("--chromium", type=Path, default=CHROMIUM, help=f"chromium executable (default: {CHROMIUM})")
    return parser.parse_args(argv)


def check_local(url: str) -> str:
    """Return the URL without a trailing slash, or raise ValueError when it points at another host."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "http" or parts.hostname not in LOCAL_HOSTS:
        raise ValueError(f"--url {url!r} is not a local server; pass http://127.0.0.1:PORT")
    return url.rstrip("/")


def save(page: Page, out: Path, name: str) -> None:
    path = out / f"{name}.png"
    page.screenshot(path=path, full_page=True)
    print(f"saved {path}")


def wait_for_images(page: Page) -> None:
    page.wait_for_function("[...document.images].every((image) => image.complete)")


def farthest_point(page: Page) -> int:
    """Return the index of the map point farthest from the query marker, so its thumbnail leaves the marker visible."""
    script = """() => {
        const marker = document.querySelector("#map-query circle");
        const [mx, my] = [Number(marker.getAttribute("cx")), Number(marker.getAttribute("cy"))];
        const points = [...document.querySelectorAll("#map circle.map-point")];
        const distances = points.map((p) => Math.hypot(Number(p.getAttribute("cx")) - mx, Number(p.getAttribute("cy")) - my));
        return distances.indexOf(Math.max(...distances));
    }"""
    return int(page.evaluate(script))


def draw_digit(page: Page) -> None:
    """Draw a rough 7 on the home page's canvas and search it."""
    box = page.locator("#draw-canvas").bounding_box()
    assert box is not None

    def at(x: float, y: float) -> tuple[float, float]:
        return box["x"] + box["width"] * x, box["y"] + box["height"] * y

    page.mouse.move(*at(0.25, 0.25))
    page.mouse.down()
    page.mouse.move(*at(0.75, 0.25), steps=10)
    page.mouse.move(*at(0.45, 0.8), steps=10)
    page.mouse.up()
    page.locator("#draw-search").click()


def open_result(page: Page, base: str, image: Path | None) -> None:
    """Open a result view: of the given file, else of a drawn digit, else of indexed image 0."""
    page.goto(base + "/")
    if image is not None:
        page.locator("#file-input").set_input_files(str(image))
    elif page.locator("#draw-canvas").count() > 0:
        draw_digit(page)
    else:
        page.goto(base + "/images/0")
        return
    page.wait_for_url("**/uploads/*")


def take_screenshots(base: str, out: Path, image: Path | None, chromium: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport=VIEWPORT)
        context.set_default_timeout(TIMEOUT_MS)
        expect.set_options(timeout=TIMEOUT_MS)
        page = context.new_page()

        page.goto(base + "/")
        save(page, out, "home")

        open_result(page, base, image)
        expect(page.locator("#reconstructions img").first).to_be_visible()
        wait_for_images(page)
        save(page, out, "result")
        result_url = page.url

        page.locator("#daydream-length").fill(str(DAYDREAM_LENGTH))
        page.locator("#daydream-start").click()
        expect(page.locator("#daydream-status")).to_have_text(
            f"Daydream finished: {DAYDREAM_LENGTH} frames.", timeout=DAYDREAM_TIMEOUT_MS
        )
        page.locator("#daydream-heading").scroll_into_view_if_needed()
        save(page, out, "daydream")

        page.locator("#map-link").click()
        expect(page.locator("#map-query")).to_have_count(1)
        page.locator("#map circle.map-point").nth(farthest_point(page)).hover()
        save(page, out, "latent-map")

        page.goto(base + "/samples")
        expect(page.locator("#samples img").first).to_be_visible()
        save(page, out, "samples")

        page.goto(base + "/")
        page.locator("#file-input").set_input_files({"name": "notes.png", "mimeType": "image/png", "buffer": b"not an image\n"})
        expect(page.locator("#upload-error")).to_be_visible()
        save(page, out, "upload-error")

        page.set_viewport_size(NARROW_VIEWPORT)
        page.goto(result_url)
        wait_for_images(page)
        save(page, out, "result-narrow")
        browser.close()


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(argv)
    try:
        base = check_local(args.url)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if not args.chromium.is_file():
        print(f"error: {args.chromium} not found; install Debian's chromium package or pass --chromium PATH", file=sys.stderr)
        return 2
    if args.image is not None and not args.image.is_file():
        print(f"error: image file {args.image} not found; pass an existing file with --image", file=sys.stderr)
        return 2
    take_screenshots(base, args.out, args.image, args.chromium)
    return 0


if __name__ == "__main__":
    sys.exit(main())
