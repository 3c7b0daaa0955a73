"""The app in a real browser (Debian's Chromium driven by Playwright): upload, run, see results.

The screenshot is written to the test's temporary folder (its path is printed), and to
`$BLVNET_SCREENSHOT` when that variable is set.
"""

import os
import shutil

import pytest
from playwright.sync_api import expect, sync_playwright

from blvnet_edu_app import app

from conftest import free_port

CHROMIUM = "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium (scripts/setup.sh)")


def test_upload_run_compare_orders_and_pick_a_tam_layer(tmp_path):
    port = free_port()
    demo = app.launch(host="127.0.0.1", port=port, block=False)
    models = app.load_models()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=CHROMIUM,
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                      "--disable-component-update", "--disable-sync"],
            )
            page = browser.new_page(viewport={"width": 1400, "height": 2000})
            page.goto(f"http://127.0.0.1:{port}/")  # not "networkidle": a busy machine may never get there
            expect(page.get_by_role("button", name="Run")).to_be_visible(timeout=60_000)
            expect(page.locator(".js-plotly-plot").first).to_be_visible(timeout=60_000)  # the page's TAM plots
            page.locator("input[type=file]").first.set_input_files(str(app.HERE / "examples" / "moving_left.mp4"))
            page.wait_for_timeout(1000)
            page.get_by_role("button", name="Run").click()
            # the fast prediction first: one top-5 panel per demo model, each with its five classes
            for name in models:
                panel = page.locator(".block", has=page.get_by_text(app.SLOTS[name], exact=True))
                expect(panel.locator(".output-class")).to_be_visible(timeout=60_000)
                expect(panel.locator(".confidence-set")).to_have_count(5, timeout=60_000)
            # then the attribution: the gallery of overlays and the temporal importance plot
            gallery = page.locator("[data-testid='gallery'] img, .gallery img, button.thumbnail-item img")
            expect(gallery.first).to_be_visible(timeout=60_000)
            # the order test: every model again on the clip with its pairs shuffled
            page.get_by_label("pairs shuffled").check()
            table = page.locator("table", has_text="top-1, pairs shuffled")
            expect(table).to_be_visible(timeout=60_000)
            expect(table.locator("tbody tr")).to_have_count(len(models))
            expect(page.get_by_text("Expected: TSN")).to_be_visible()
            # every TAM of bLVNet-TAM can be picked; its weights are plotted
            tams = list(models[app.BLVNET_TAM].model.tams())
            page.get_by_label("TAM layer").click()
            page.get_by_role("option", name=tams[-1], exact=True).click()
            expect(page.locator(".js-plotly-plot", has_text=f"TAM weights of {tams[-1]}")).to_be_visible(timeout=60_000)
            expect(page.locator(".js-plotly-plot", has_text="past (-), current (0) and future (+)")).to_be_visible()
            assert page.get_by_text("blvnet_tam_tiny").first.is_visible()  # the model card
            shot = tmp_path / "app.png"
            page.screenshot(path=str(shot), full_page=True)
            print(f"screenshot: {shot}")
            if os.environ.get("BLVNET_SCREENSHOT"):
                shutil.copy(shot, os.environ["BLVNET_SCREENSHOT"])
            browser.close()
    finally:
        demo.close()
