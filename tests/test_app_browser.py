"""The app in a real browser (Debian's Chromium driven by Playwright): every control, as a visitor uses it.

Screenshots are written to the test's temporary folder (their paths are printed), and to the
folder `$BLVNET_SCREENSHOTS` when that variable is set (docs/screenshots/ holds the last ones
looked at: `BLVNET_SCREENSHOTS=docs/screenshots pytest tests/test_app_browser.py`).
"""

import os
import shutil
from pathlib import Path

import pytest
from blvnet_edu_app import app
from conftest import CHROMIUM, free_port, launch_chromium, randomize_, save_in_authors_format
from playwright.sync_api import expect, sync_playwright

from blvnet_edu import build_model

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium (scripts/setup.sh)"),
]
WAIT = 60_000  # ms: a busy 2-core machine


def choose(page, label: str, option: str) -> None:
    """Pick `option` in the dropdown labelled `label`."""
    page.get_by_label(label, exact=True).click()
    page.get_by_role("option", name=option, exact=True).click()


def test_every_control_in_a_browser(tmp_path):
    port = free_port()
    demo = app.launch(host="127.0.0.1", port=port, block=False)
    models = app.load_models()
    tams = list(models[app.BLVNET_TAM].model.tams())
    checkpoint = tmp_path / "st2stv2-bLVNet-TAM-tiny-a2-b4-f8x2.pth.tar"  # an authors' file of 16 frames
    save_in_authors_format(
        randomize_(build_model("blvnet_tam_tiny", num_classes=174, num_frames=16)).state_dict(), checkpoint
    )
    shots = []

    def shot(page, name: str, locator=None) -> None:
        path = tmp_path / f"{name}.png"
        (locator.screenshot if locator is not None else lambda **kw: page.screenshot(full_page=True, **kw))(
            path=str(path)
        )
        shots.append(path)
        print(f"screenshot: {path}")

    try:
        with sync_playwright() as p:
            browser = launch_chromium(p)
            page = browser.new_page(viewport={"width": 1400, "height": 1100})
            page.goto(f"http://127.0.0.1:{port}/")  # not "networkidle": a busy machine may never get there
            expect(page.get_by_role("button", name="Run")).to_be_visible(timeout=WAIT)
            # the page's TAM plots
            expect(page.locator("#tam-groups .js-plotly-plot")).to_be_visible(timeout=WAIT)

            # A cached example: its results and a line on what to notice, at once.
            page.get_by_role("button", name="moving left then right", exact=True).click()
            expect(page.locator("#notice")).to_contain_text("Swap the halves", timeout=WAIT)
            table = page.locator("#order-table table")
            expect(table).to_contain_text("top-1, halves swapped", timeout=WAIT)
            expect(table.locator("tbody tr")).to_have_count(len(models))
            expect(page.get_by_label("halves swapped")).to_be_checked()
            expect(page.locator("#attributions button.thumbnail-item")).to_have_count(8, timeout=WAIT)
            expect(page.locator("#field .js-plotly-plot")).to_be_visible(timeout=WAIT)
            page.wait_for_timeout(1500)  # plots drawn
            shot(page, "app")

            # Upload a clip and Run: every model at its own frames, then the order test, explanation,
            # TAM view.
            page.locator("#clip button[aria-label='Clear']").click()
            page.locator("#clip input[type=file]").set_input_files(
                str(app.HERE / "examples" / "moving_left.mp4")
            )
            page.wait_for_timeout(1000)
            page.get_by_label("as it is").check()
            page.get_by_role("button", name="Run").click()
            for name in models:
                panel = page.locator(".block", has=page.get_by_text(app.SLOTS[name], exact=True))
                expect(panel.locator(".confidence-set")).to_have_count(5, timeout=WAIT)
            expect(page.get_by_text("8 frames at 48x48 px").first).to_be_visible()
            expect(page.get_by_text("knows only its 14 synthetic classes").first).to_be_visible()
            expect(page.locator("#explain-note")).to_contain_text("Saliency of 'moving left'", timeout=WAIT)

            # The order controls: reversed, halves swapped, a seeded shuffle, a typed order.
            for order, header in (
                ("reversed", "top-1, reversed"),
                ("halves swapped", "top-1, halves swapped"),
                ("pairs shuffled", "top-1, pairs shuffled"),
            ):
                page.get_by_label(order, exact=True).check()
                expect(table).to_contain_text(header, timeout=WAIT)
            seed = page.get_by_label("seed (pairs shuffled)")
            seed.fill("3")
            seed.press("Enter")
            expect(page.locator("#order-table")).to_contain_text("(seed 3)", timeout=WAIT)
            page.get_by_label("your order", exact=True).check()
            typed = page.get_by_label("your order (Enter)")
            typed.fill("6 7 4 5 2 3 0 1")
            typed.press("Enter")
            expect(page.locator("#order-table")).to_contain_text("6 7 | 4 5 | 2 3 | 0 1", timeout=WAIT)
            # the reordered clip, thumbnail by thumbnail
            expect(page.locator("#strip")).to_contain_text("7: frame 6")
            shot(page, "app_orders", page.locator("#section-orders"))

            # Each method, a baseline, a class that is not the top-1: explained again from the cached clip.
            for method in ("Integrated gradients", "Occlusion", "Grad-CAM", "Saliency"):
                choose(page, "attribution method", method)
                expect(page.locator("#explain-note")).to_contain_text(f"{method} of", timeout=WAIT)
                expect(page.locator("#per-frame")).to_contain_text(method, timeout=WAIT)
            choose(page, "attribution method", "Integrated gradients")
            choose(page, "baseline (integrated gradients)", "blurred clip")
            expect(page.locator("#explain-note")).to_contain_text("baseline: blurred clip", timeout=WAIT)
            choose(page, "class to explain", "moving right")
            expect(page.locator("#explain-note")).to_contain_text("'moving right'", timeout=WAIT)
            expect(page.locator("#explain-note")).to_contain_text("not the top-1", timeout=WAIT)
            expect(page.locator("#removal")).to_contain_text("What 'moving right' loses", timeout=WAIT)
            choose(page, "class to explain", "moving left")

            # How it is drawn: sign, opacity; Captum's view of a frame; the frame removal's replacement.
            page.get_by_label("both (red for, blue against)").check()
            expect(page.locator("#explain-note")).to_contain_text(
                "Drawn: both (red for, blue against)", timeout=WAIT
            )
            opacity = page.locator("#opacity input[type=number]")
            opacity.fill("0.5")
            opacity.press("Enter")
            page.wait_for_timeout(1500)
            page.locator("#attributions button.thumbnail-item").nth(4).click()
            expect(page.locator("#captum-frame")).to_be_visible(timeout=WAIT)
            page.keyboard.press("Escape")
            choose(page, "remove a frame by replacing it with", "the clip's mean frame")
            expect(page.locator("#removal")).to_contain_text("the clip's mean frame", timeout=WAIT)
            page.get_by_role("button", name="Explain").click()
            expect(page.locator("#explain-note")).to_contain_text(
                "Integrated gradients of 'moving left'", timeout=WAIT
            )
            expect(page.locator("#explain-note")).to_contain_text("opacity 0.5", timeout=WAIT)
            page.wait_for_timeout(1500)
            shot(page, "app_explain", page.locator("#section-explain"))

            # The TAMs: another layer's channel groups and this clip through it; a model without TAM.
            choose(page, "TAM layer", tams[1])
            expect(page.locator("#tam-groups")).to_contain_text(f"Channels of {tams[1]}", timeout=WAIT)
            expect(page.locator("#field-note")).to_contain_text(tams[1], timeout=WAIT)
            page.wait_for_timeout(1500)
            shot(page, "app_tams", page.locator("#section-tams"))
            choose(page, "model to explain", app.TSN)
            expect(page.locator("#tam-note")).to_contain_text("has no TAM", timeout=WAIT)
            expect(page.locator("#explain-note")).to_contain_text("for TSN (demo)", timeout=WAIT)
            # An example shown while TSN is the model to explain: the controls follow the example's results.
            page.get_by_role("button", name="growing then shrinking", exact=True).click()
            expect(page.locator("#notice")).to_contain_text("'shrinking then growing'", timeout=WAIT)
            expect(page.get_by_label("model to explain")).to_have_value(app.BLVNET_TAM, timeout=WAIT)
            expect(page.locator("#tam-note")).to_contain_text(f"{len(tams)} TAMs", timeout=WAIT)
            expect(page.locator("#explain-note")).to_contain_text(
                "Saliency of 'growing then shrinking'", timeout=WAIT
            )
            # Two quick changes: the last one wins.
            choose(page, "attribution method", "Grad-CAM")
            choose(page, "attribution method", "Occlusion")
            expect(page.locator("#explain-note")).to_contain_text(
                "Occlusion of 'growing then shrinking'", timeout=WAIT
            )
            page.locator("#clip button[aria-label='Clear']").click()  # a new clip: the old results go
            expect(page.locator("#explain-note")).to_contain_text("press Run", timeout=WAIT)
            expect(page.locator("#notice")).to_have_text("", timeout=WAIT)
            page.locator("#clip input[type=file]").set_input_files(
                str(app.HERE / "examples" / "moving_left.mp4")
            )
            page.wait_for_timeout(1000)

            # Every model at 16 frames (a new frames choice runs everything again; the typed order has
            # 8 positions).
            page.get_by_label("your order", exact=True).check()
            expect(page.locator("#order-table")).to_contain_text("top-1, in your order", timeout=WAIT)
            choose(page, "frames", "16")
            expect(page.get_by_text("16 frames at 48x48 px").first).to_be_visible(timeout=WAIT)
            expect(page.locator("#order-table")).to_contain_text(
                "this clip has 16 frames", timeout=WAIT
            )  # typed: 8
            expect(page.locator("#explain-note")).to_contain_text("on 16 frames at 48x48 px", timeout=WAIT)
            expect(page.locator("#attributions button.thumbnail-item")).to_have_count(16, timeout=WAIT)

            # A released checkpoint's layout (16 frames): loaded, named, and run at its own frames.
            page.get_by_text("your own checkpoint").click()
            page.locator("#checkpoint input[type=file]").set_input_files(str(checkpoint))
            choose(page, "labels", "ssv2")
            page.get_by_role("button", name="Load checkpoint").click()
            expect(page.locator("#status")).to_contain_text("16 frames at 224x224 px", timeout=WAIT)
            expect(page.get_by_label("frames", exact=True)).to_have_value(
                "each model's own (your checkpoint: 16)", timeout=WAIT
            )
            page.get_by_role("button", name="Run").click()
            expect(page.locator("#explain-note")).to_contain_text(
                "for your checkpoint, on 16 frames at 224x224 px", timeout=WAIT
            )
            expect(page.locator("#attributions button.thumbnail-item")).to_have_count(16, timeout=WAIT)
            # the end of Run: nothing left running when the server closes
            expect(page.locator("#field-note")).to_contain_text("16 frames at 224x224 px", timeout=WAIT)
            browser.close()
    finally:
        demo.close()
    if os.environ.get("BLVNET_SCREENSHOTS"):
        folder = Path(os.environ["BLVNET_SCREENSHOTS"])
        folder.mkdir(parents=True, exist_ok=True)
        for path in shots:
            shutil.copy(path, folder / path.name)
