"""`attngen serve` in a real browser: Debian's headless Chromium driven by Playwright (the
system executable; no browser download). Marked `serve` (`pytest -m serve`).

With ATTNGEN_SCREENSHOTS=DIR the test also saves the page's screenshots in DIR; docs/serve.md
shows those made with ATTNGEN_SCREENSHOTS=docs/screenshots."""

import os
import re
import shutil
from pathlib import Path

import pytest
from conftest import REPO_ROOT
from serving import Server

pytestmark = pytest.mark.serve
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 15_000
HOSTILE = '<script>window.pwned=1</script><img src=x onerror="window.pwned=2">'


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def served(tmp_path):
    folder = tmp_path / "specs"
    folder.mkdir()
    for name in ("se", "eca", "cbam", "channel_attention", "spatial_attention"):
        shutil.copy(REPO_ROOT / "specs" / f"{name}.yaml", folder / f"{name}.yaml")
    variants = folder / "variants"
    variants.mkdir()
    shutil.copy(REPO_ROOT / "specs" / "variants" / "se_max.yaml", variants / "se_max.yaml")
    server = Server(tmp_path, "specs", "specs/variants")
    yield server, folder
    assert server.stop() == 0


def _shot(page, name: str) -> None:
    target = os.environ.get("ATTNGEN_SCREENSHOTS")
    if target:
        page.screenshot(path=str(Path(target) / name))


def test_edit_break_fix_and_a_hostile_title(browser, served):
    server, folder = served
    page = browser.new_page(viewport={"width": 1400, "height": 820})
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(server.url)
    page.fill("#search", "se")  # the list is searchable
    page.click("#list a[data-id='specs/se.yaml']")
    page.wait_for_selector("body[data-version='specs/se.yaml@1']")
    assert page.locator("#list a").count() < 6  # cbam, eca... filtered out
    diagram = page.locator("#diagram svg")
    assert "avg_pool" in diagram.text_content()
    assert "class SEAttention(nn.Module):" in page.text_content("#text")
    page.click("#zoom-fit")
    _shot(page, "serve.png")

    spec = folder / "se.yaml"
    good = spec.read_text()
    spec.write_text(good.replace("Squeeze-and-Excitation attention", "SE, edited live"))
    page.wait_for_function("() => (document.querySelector('#diagram svg')?.textContent ?? '')"
                           ".includes('SE, edited live')")
    assert page.text_content("#title") == "SE, edited live"

    spec.write_text(good.replace("in: avg_pool", "in: avg_pol"))  # broken
    page.wait_for_selector("#errors:not([hidden])")
    errors = page.text_content("#errors")
    assert re.search(r"specs/se\.yaml:14:\d+: error\[E300\]", errors)
    assert "squeeze:  {op: view, in: avg_pol" in errors  # the offending line, shown
    assert "stale" in page.get_attribute("#diagram", "class")
    assert "SE, edited live" in diagram.text_content()  # the last good diagram stays
    page.click("#tabs button[data-tab='spec']")
    _shot(page, "serve-error.png")

    spec.write_text(good)  # fixed
    page.wait_for_selector("#errors[hidden]", state="attached")
    assert "stale" not in (page.get_attribute("#diagram", "class") or "")
    assert "Squeeze-and-Excitation attention" in diagram.text_content()

    spec.write_text(good.replace("title: Squeeze-and-Excitation attention",
                                 f"title: '{HOSTILE}'"))
    page.wait_for_function("() => document.querySelector('#title').textContent"
                           ".includes('pwned')")
    assert page.text_content("#title") == HOSTILE  # shown as text
    assert HOSTILE in diagram.text_content()
    assert page.evaluate("() => window.pwned") is None  # and never run
    assert page.locator("#diagram script, #main img, #list img").count() == 0


def test_a_node_links_to_its_spec_line_and_a_variant_shows_its_diff(browser, served):
    server, _ = served
    page = browser.new_page(viewport={"width": 1400, "height": 820})
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(server.url + "#specs%2Fse.yaml")
    page.wait_for_selector("body[data-version='specs/se.yaml@1']")
    page.click("#diagram g.node[data-line='13']")
    assert "avg_pool: {op: AdaptiveAvgPool2d" in page.text_content("#text .hl")
    page.click("#list a[data-id='specs/variants/se_max.yaml']")
    page.wait_for_selector("body[data-version='specs/variants/se_max.yaml@1']")
    page.click("#tabs button[data-tab='diff']")
    assert page.text_content("#text").startswith("--- specs/se.yaml (SEAttention)")
    _shot(page, "serve-diff.png")
