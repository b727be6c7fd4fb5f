"""A real browser (Playwright driving Debian's chromium) on every Space and every dashboard page.

Each page loads with no console errors and no request leaving this machine, its main action renders an
image or a chart, and the robustness Space takes a real upload and answers a bad one with a readable
message, clearing the results it showed before. Playwright cannot download its own browser here, so the
tests use the system's chromium (`make test` installs Debian's package when it can) and are skipped, with
the reason, where there is none.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest
from PIL import Image

from core.paths import PRETRAINED_DIR, PROJECT_ROOT, RESULTS_DIR

playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (requirements-dev.txt)")
CHROMIUM = next((path for name in ("chromium", "chromium-browser", "google-chrome")
                 if (path := shutil.which(name))), None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium on this machine (make test installs Debian's "
                                "package where it can: apt-get install chromium)")
TIMEOUT_MS = 60_000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def browser() -> Iterator:
    with playwright.sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield instance
        instance.close()


class Watched:
    """A page with its console errors, uncaught exceptions and requests to other hosts recorded."""

    def __init__(self, browser, url: str):
        self.page = browser.new_page(viewport={"width": 1400, "height": 1000})
        self.page.set_default_timeout(TIMEOUT_MS)
        self.errors: list[str] = []
        self.outside: list[str] = []
        self.page.on("console", lambda msg: self.errors.append(msg.text) if msg.type == "error" else None)
        self.page.on("pageerror", lambda err: self.errors.append(str(err)))
        self.page.on("response", lambda r: self.errors.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)
        # an event stream the page closes itself reads as "aborted": that is the protocol, not a fault
        self.page.on("requestfailed", lambda r: None if "/queue/data" in r.url and "ABORTED" in str(r.failure)
                     else self.errors.append(f"failed: {r.url} ({r.failure})"))
        host = urlparse(url).hostname
        self.page.on("request", lambda req: self.outside.append(req.url)
                     if urlparse(req.url).hostname not in (host, None) and not req.url.startswith("data:") else None)
        self.page.goto(url)

    def assert_clean(self) -> None:
        assert not self.errors, "\n".join(self.errors)
        assert not self.outside, f"requests left this machine: {self.outside}"


@pytest.fixture
def serve(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """serve(module) -> URL of that Space's Blocks, built from the shipped models and served on localhost."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("GRADIO_ANALYTICS_ENABLED", "False")
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))
    monkeypatch.setenv("MODEL_SOURCE", str(PRETRAINED_DIR))
    launched = []

    def start(module: str) -> str:
        import importlib

        demo = importlib.import_module(module).build_demo()
        _, url, _ = demo.launch(server_name="127.0.0.1", server_port=_free_port(), prevent_thread_lock=True, quiet=True)
        launched.append(demo)
        return url

    yield start
    for demo in launched:
        demo.close()


def _image_in(page, elem_id: str):
    """The rendered <img> of the output component `elem_id`, once it has one."""
    image = page.locator(f"#{elem_id} img").first
    image.wait_for(state="visible")
    assert image.evaluate("img => img.complete && img.naturalWidth > 0")
    return image


def test_the_dcgan_space_samples_in_a_browser(browser, serve) -> None:
    watched = Watched(browser, serve("apps.dcgan.app"))
    page = watched.page
    page.get_by_role("button", name="Generate").click()
    _image_in(page, "samples")
    page.get_by_role("tab", name="Interpolate").click()
    page.get_by_role("button", name="Interpolate").click()
    _image_in(page, "walk")
    watched.assert_clean()


def test_the_cocogan_space_draws_by_parts_in_a_browser(browser, serve) -> None:
    watched = Watched(browser, serve("apps.cocogan.app"))
    page = watched.page
    page.get_by_role("button", name="Generate").first.click()
    _image_in(page, "cocogan-image")
    watched.assert_clean()


def test_the_progan_space_grows_in_a_browser(browser, serve) -> None:
    watched = Watched(browser, serve("apps.progan.app"))
    page = watched.page
    _image_in(page, "samples")  # drawn on arrival
    page.get_by_role("tab", name="Growth").click()
    page.get_by_role("button", name="Grow").click()
    strip = _image_in(page, "growth")
    width, height = strip.evaluate("img => [img.naturalWidth, img.naturalHeight]")
    assert width > 4 * height  # every stage side by side, 4x4 first
    watched.assert_clean()


def test_the_collection_space_shows_every_family_in_a_browser(browser, serve) -> None:
    watched = Watched(browser, serve("apps.collection.app"))
    page = watched.page
    page.get_by_role("button", name="Generate").first.click()
    gallery = page.locator("#side-by-side img")
    gallery.first.wait_for(state="visible")
    assert gallery.count() >= 10  # one grid per family
    watched.assert_clean()


def _upload(page, path: Path) -> None:
    """Pick `path` in the file chooser the upload button opens, as a person would."""
    with page.expect_file_chooser() as chooser:
        page.locator("#upload").click()
    chooser.value.set_files(str(path))


def test_the_robustness_space_attacks_uploads_and_refuses_a_bad_upload(browser, serve, tmp_path: Path) -> None:
    watched = Watched(browser, serve("apps.robustness.app"))
    page = watched.page
    _image_in(page, "adversarial")  # the first example is attacked on load
    page.locator("#attack-chart, #clean-bars").first.wait_for(state="visible")

    photo = tmp_path / "shirt.png"
    picture = Image.new("RGB", (120, 160), (250, 250, 250))
    picture.paste((20, 60, 200), (30, 30, 90, 130))  # a plain garment shape on white: a fair upload
    picture.save(photo)
    _upload(page, photo)
    _image_in(page, "adversarial")

    bad = tmp_path / "not-an-image.png"
    bad.write_text("<html>definitely not a PNG</html>")
    _upload(page, bad)
    toast = page.locator(".toast-body, [data-testid='toast-body']").first
    toast.wait_for(state="visible")
    assert "image" in toast.inner_text().lower() and "Traceback" not in toast.inner_text()
    page.wait_for_function("() => !document.querySelector('#adversarial img')")  # the stale result is gone
    watched.errors = [e for e in watched.errors if "not-an-image" not in e]  # the refused upload is the point
    watched.assert_clean()


def _translators(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The shipped translators when there are some, else tiny untrained ones (pix2pix on edges, a StarGAN)."""
    from core.inference import list_models

    if list_models(PRETRAINED_DIR, kind="translator"):
        return
    import torch

    from core.hub import save_model
    from core.models import MODELS

    for name, family, config in [("pix2pix-tiny", "pix2pix", {"in_channels": 1, "source": "edges"}),
                                 ("stargan-tiny", "stargan", {"num_classes": 2, "class_names": ["dress", "hat"]})]:
        spec = MODELS.get(family)
        torch.manual_seed(0)
        network = spec.build(spec.make_config(image_size=64, width=4, max_width=8, **config))[spec.exported]
        save_model(network, tmp_path / "translators" / name, family=family)
    monkeypatch.setenv("MODEL_SOURCE", str(tmp_path / "translators"))


def test_the_translate_space_translates_uploads_and_refuses_a_bad_upload(
    browser, serve, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from core.demos import translate as lab

    _translators(monkeypatch, tmp_path)
    watched = Watched(browser, serve("apps.translate.app"))
    page = watched.page
    _image_in(page, "input-photo")  # the first example photo is translated on arrival
    first = next(iter(lab.available_translators().values()))
    if lab.controls(first).preview:  # a paired model: the edges, mask or grayscale it sees is shown too
        _image_in(page, "model-input")
    page.locator("#results img").first.wait_for(state="visible")

    photo = tmp_path / "shirt.png"
    picture = Image.new("RGBA", (120, 160), (0, 0, 0, 0))  # transparent background: composited on white
    picture.paste((20, 60, 200, 255), (30, 30, 90, 130))
    picture.save(photo)
    page.locator("#upload input[type=file]").set_input_files(str(photo))
    page.wait_for_function(  # the upload replaces the example: its centre is the blue garment
        """() => { const img = document.querySelector('#input-photo img'); if (!img || !img.complete) return false;
                   const c = document.createElement('canvas'); c.width = c.height = 1;
                   const ctx = c.getContext('2d'); ctx.drawImage(img, img.naturalWidth / 2, img.naturalHeight / 2,
                   1, 1, 0, 0, 1, 1); const [r, g, b] = ctx.getImageData(0, 0, 1, 1).data;
                   return b > 150 && r < 80; }"""
    )
    page.locator("#results img").first.wait_for(state="visible")

    bad = tmp_path / "not-an-image.png"
    bad.write_text("<html>definitely not a PNG</html>")
    page.locator("#upload input[type=file]").set_input_files(str(bad))
    toast = page.locator(".toast-body, [data-testid='toast-body']").first
    toast.wait_for(state="visible")
    assert "image" in toast.inner_text().lower() and "Traceback" not in toast.inner_text()
    page.wait_for_function("() => !document.querySelector('#results img')")  # the stale result is gone
    # The refused upload is the point; gr.File's upload-progress stream, closed by the page once the file is in,
    # reads as "aborted" when it closes first (the protocol, like /queue/data in Watched)
    watched.errors = [e for e in watched.errors
                      if "not-an-image" not in e and not ("/upload_progress" in e and "ERR_ABORTED" in e)]
    watched.assert_clean()


def test_the_edit_search_space_edits_and_finds_products(browser, serve, monkeypatch: pytest.MonkeyPatch,
                                                         tmp_path: Path) -> None:
    """The first example is edited and searched on arrival: the photo, the edit and both result galleries."""
    from core import retrieval
    from core.demos import edit_search as lab

    gallery = tmp_path / "gallery"  # a small index (the pixel baseline: quick to build) of real test photos
    source = Path(os.environ.get("DATA_ROOT", PROJECT_ROOT.parent / "shared" / "data")) / "clothing-small" / "test"
    for name in ("dress", "t-shirt"):
        (gallery / name).mkdir(parents=True)
        for file in sorted((source / name).iterdir())[:6]:
            shutil.copy2(file, gallery / name / file.name)
    monkeypatch.setenv("FGL_CACHE", str(tmp_path / "cache"))
    retrieval.build_index(retrieval.load_gallery(f"folder:{gallery}", "train"), "pixels:8", "exact", out=tmp_path / "index")
    monkeypatch.setattr(lab, "INDEX_FOLDER", tmp_path / "index")
    lab.open_index.cache_clear()
    watched = Watched(browser, serve("apps.edit_search.app"))
    page = watched.page
    _image_in(page, "photo"), _image_in(page, "edited")
    _image_in(page, "original-results"), _image_in(page, "edited-results")
    assert "| 1 |" not in page.locator("#edited-table").inner_text()  # rendered as a table, not as text
    assert page.locator("#edited-table table tr").count() == 11
    assert "Searched 12 products" in page.locator("#summary").inner_text()
    watched.assert_clean()
    lab.open_index.cache_clear()


# ---------------------------------------------------------------- the dashboard

DASHBOARD_PAGES = {"": "Leaderboard", "quality": "Quality", "collection": "The classic collection", "robustness": "Robustness",
                   "retrieval": "Retrieval", "performance": "Memory & throughput", "samples": "Samples"}


@pytest.fixture(scope="module")
def dashboard() -> Iterator[str]:
    port = _free_port()
    env = {**os.environ, "RESULTS_SOURCE": str(RESULTS_DIR), "HF_HUB_OFFLINE": "1",
           "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"}
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(PROJECT_ROOT / "apps" / "dashboard" / "app.py"),
         "--server.port", str(port), "--server.headless", "true", "--client.toolbarMode", "viewer",
         "--client.showErrorDetails", "type"],
        cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.2)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_every_dashboard_page_renders_in_a_browser(browser, dashboard: str) -> None:
    """Every page, reached as a visitor does (the navigation), shows its title and a chart, table or image."""
    watched = Watched(browser, dashboard)
    page = watched.page
    for path, title in DASHBOARD_PAGES.items():
        if path:
            page.locator(f"[data-testid='stSidebarNav'] a[href$='/{path}']").click()
        page.get_by_role("heading", name=title, exact=True).first.wait_for(state="visible")
        content = page.locator(".js-plotly-plot, [data-testid='stDataFrame'], [data-testid='stImage'] img")
        content.first.wait_for(state="visible")
        assert page.locator("[data-testid='stException']").count() == 0, title
    watched.assert_clean()
