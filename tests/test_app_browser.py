"""The app in a real browser (Debian's Chromium driven by Playwright): upload, run, see results.

The screenshot is written to the test's temporary folder (its path is printed), and to
`$BLVNET_SCREENSHOT` when that variable is set.
"""

import os
import shutil
import socket

import pytest
from playwright.sync_api import expect, sync_playwright

from blvnet_edu.cli import load_app_module

CHROMIUM = "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium (scripts/setup.sh)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_upload_run_and_see_labels_gallery_and_plots(tmp_path):
    app = load_app_module()
    port = free_port()
    demo = app.launch(host="127.0.0.1", port=port, block=False)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=CHROMIUM,
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                      "--disable-component-update", "--disable-sync"],
            )
            page = browser.new_page(viewport={"width": 1400, "height": 2000})
            page.goto(f"http://127.0.0.1:{port}/", wait_until="networkidle")
            page.locator("input[type=file]").first.set_input_files(str(app.HERE / "examples" / "moving_left.mp4"))
            page.wait_for_timeout(1000)
            page.get_by_role("button", name="Run").click()
            # the fast prediction first: the top-5 label
            expect(page.get_by_text("moving left").first).to_be_visible(timeout=60_000)
            # then the attribution: the gallery of overlays and the temporal importance plot
            gallery = page.locator("[data-testid='gallery'] img, .gallery img, button.thumbnail-item img")
            expect(gallery.first).to_be_visible(timeout=60_000)
            plots = page.locator(".js-plotly-plot")
            expect(plots.nth(2)).to_be_visible(timeout=60_000)  # importance + 2 TAM plots
            assert plots.count() >= 3
            assert page.get_by_text("blvnet_tam_tiny").first.is_visible()  # the model card
            shot = tmp_path / "app.png"
            page.screenshot(path=str(shot), full_page=True)
            print(f"screenshot: {shot}")
            if os.environ.get("BLVNET_SCREENSHOT"):
                shutil.copy(shot, os.environ["BLVNET_SCREENSHOT"])
            browser.close()
    finally:
        demo.close()
