"""The app in a real browser: ``streamlit run`` on a free port, driven by headless Chromium.

Loads the Compare page, runs a small comparison (two control sets, one path, demo-size
scenario), checks that the charts rendered and the table has one column per control set, and
saves a screenshot (copied to ``docs/compare-page.png`` for the README when
``PERPSIM_UPDATE_SCREENSHOT`` is set, as ``make screenshot`` does). Every process the
test starts (Streamlit, chromedriver and Chromium, the ``perpsim`` subprocess and its anvil
nodes) is stopped, even when the test fails.

Then walks every page (each renders without an exception) and reads a finished tune on the
Tune page: its Pareto chart drawn, the recommended set beside the current one, and its button
that opens the verification runs in the Compare page.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from app_helpers import APP
from simulator.paths import PROJECT_ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CONTROLS = ("baseline", "insurance_x10")
SCREENSHOT = PROJECT_ROOT / "docs" / "compare-page.png"
START_TIMEOUT_S = 60
RUN_TIMEOUT_S = 240


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop_group(process: subprocess.Popen) -> None:
    """SIGTERM the process group, SIGKILL it if it lingers."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError):
            args = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if text in args:
                found.append(f"{cmdline.parent.name}: {args.strip()}")
    return found


@pytest.fixture
def served_app(tmp_path: Path) -> Iterator[str]:
    """``streamlit run app/streamlit_app.py`` on a free port; yields its URL."""
    runs = tmp_path / "runs"
    log = (tmp_path / "streamlit.log").open("w")
    env = {**os.environ, "PERPSIM_RUNS_DIR": str(runs)}
    port = _free_port()
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("streamlit")), "run", str(APP),
         "--server.headless", "true", "--browser.gatherUsageStats", "false",
         "--server.address", "127.0.0.1", "--server.port", str(port),
         "--server.fileWatcherType", "none"],
        cwd=PROJECT_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log,
        stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"streamlit exited: {(tmp_path / 'streamlit.log').read_text()}")
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as answer:
                    if answer.read().strip() == b"ok":
                        break
            if time.monotonic() > deadline:
                pytest.fail(f"streamlit did not answer on {url} within {START_TIMEOUT_S} s")
            time.sleep(0.2)
        yield url
    finally:
        _stop_group(process)
        log.close()
        # The app's perpsim subprocess (its own process group, SIGTERM on the app's death) and
        # its anvil nodes must be gone too: they are the only processes naming this folder.
        deadline = time.monotonic() + 20
        while _processes_mentioning(str(runs)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _processes_mentioning(str(runs)) == []


@pytest.fixture
def browser(tmp_path: Path):
    """Headless Chromium through the Debian chromedriver (no download, no network)."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.fail(
            "the browser test needs /usr/bin/chromium and /usr/bin/chromedriver: make setup"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    profile = tempfile.mkdtemp(prefix="chromium-", dir=tmp_path)
    for argument in (
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run",
        "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--window-size=1400,2600",
    ):  # fmt: skip
        options.add_argument(argument)
    service = Service(str(CHROMEDRIVER), log_output=str(tmp_path / "chromedriver.log"))
    driver = webdriver.Chrome(service=service, options=options)
    try:
        yield driver
    finally:
        driver.quit()


def _wait(driver, condition, timeout: float, what: str):
    from selenium.common.exceptions import WebDriverException

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(WebDriverException):
            result = condition(driver)
            if result:
                return result
        time.sleep(0.25)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


def test_compare_page_runs_a_comparison_in_a_real_browser(served_app, browser, tmp_path):
    from selenium.webdriver.common.by import By

    browser.get(f"{served_app}/compare?controls={','.join(CONTROLS)}&paths=1")

    def run_button(driver):
        for button in driver.find_elements(By.CSS_SELECTOR, "button"):
            if button.text.strip() == "Run comparison" and button.is_enabled():
                return button
        return None

    button = _wait(browser, run_button, START_TIMEOUT_S, "the Run comparison button")
    # The chosen control sets' chips: full names, dark text on a light tint.
    chips = browser.find_elements(By.CSS_SELECTOR, ".stMultiSelect [data-tag]")
    assert [chip.get_attribute("aria-label") for chip in chips] == list(CONTROLS)
    assert chips[0].value_of_css_property("background-color") == "rgba(219, 231, 245, 1)"
    button.click()

    def finished(driver):
        tables = driver.find_elements(By.CSS_SELECTOR, "[data-testid='stTable'] table")
        plots = driver.find_elements(By.CSS_SELECTOR, ".js-plotly-plot .main-svg")
        busy = driver.find_elements(By.CSS_SELECTOR, "[data-testid='stProgress']")
        return tables and len(plots) >= 6 and not busy

    _wait(browser, finished, RUN_TIMEOUT_S, "the comparison table and charts")
    assert browser.find_elements(By.CSS_SELECTOR, "[data-testid='stException']") == []
    assert not [
        e.text for e in browser.find_elements(By.CSS_SELECTOR, "[data-testid='stAlert']")
        if "stopped" in e.text
    ]  # fmt: skip

    [table] = browser.find_elements(By.CSS_SELECTOR, "[data-testid='stTable'] table")
    header = [th.text.strip() for th in table.find_elements(By.CSS_SELECTOR, "thead th")]
    assert header == ["metric", *CONTROLS]  # the metric names, then one column per control set
    rows = [tr.text for tr in table.find_elements(By.CSS_SELECTOR, "tbody tr")]
    assert any(row.startswith("bad_debt_usd") for row in rows)

    charts = browser.find_elements(By.CSS_SELECTOR, "[data-testid='stPlotlyChart']")
    assert len(charts) >= 6
    traces = browser.find_elements(By.CSS_SELECTOR, ".js-plotly-plot .scatterlayer .trace")
    assert len(traces) >= len(CONTROLS)  # the lines of the path-0 charts were drawn

    time.sleep(1.0)  # let the last chart finish its transition before the picture
    shot = tmp_path / "compare-page.png"
    assert browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000
    if os.environ.get("PERPSIM_UPDATE_SCREENSHOT"):  # `make screenshot`: refresh the README's
        SCREENSHOT.parent.mkdir(exist_ok=True)
        shutil.copyfile(shot, SCREENSHOT)

    # The market selector: the comparison's one market shows that market's own rows.
    def market_button(driver):
        for button in driver.find_elements(By.CSS_SELECTOR, "[data-testid='stButtonGroup'] button"):
            if button.text.strip() == "BTC":
                return button
        return None

    _wait(browser, market_button, 10, "the market selector's BTC button").click()

    def market_rows(driver):
        tables = driver.find_elements(By.CSS_SELECTOR, "[data-testid='stTable'] table")
        rows = [tr.text for t in tables for tr in t.find_elements(By.CSS_SELECTOR, "tbody tr")]
        return rows if any(r.startswith("insurance_payout_usd") for r in rows) else None

    rows = _wait(browser, market_rows, 30, "BTC's rows of the comparison")
    assert not any(row.startswith("var95_bad_debt_usd") for row in rows)  # the venue's tail rows
    assert browser.find_elements(By.CSS_SELECTOR, "[data-testid='stException']") == []


#: Every page of the app (its address) and a heading it shows once rendered.
PAGES = {"": "Scenario", "compare": "Compare controls", "runs": "Runs", "contagion": "Contagion",
         "tune": "Tune parameters"}  # fmt: skip


def test_every_page_renders_and_the_tune_page_shows_a_tune_in_a_real_browser(
    served_app, browser, tmp_path
):
    from selenium.webdriver.common.by import By

    from tune_helpers import copy_tune

    tune = copy_tune(tmp_path / "runs")
    data = json.loads((tune / "tune.json").read_text())

    def heading(text):
        def shown(driver):
            titles = [h.text for h in driver.find_elements(By.CSS_SELECTOR, "h1")]
            return any(text in t for t in titles)

        return shown

    for address, title in PAGES.items():
        browser.get(f"{served_app}/{address}")
        _wait(browser, heading(title), START_TIMEOUT_S, f"the {title} page")
        assert browser.find_elements(By.CSS_SELECTOR, "[data-testid='stException']") == [], title

    # The Tune page (the last one opened) shows the tune: the Pareto chart with its markers,
    # the recommended set beside the current one, the trials table.
    def pareto_drawn(driver):
        points = driver.find_elements(By.CSS_SELECTOR, ".js-plotly-plot .scatterlayer .point")
        tables = driver.find_elements(By.CSS_SELECTOR, "[data-testid='stTable'] table")
        frames = driver.find_elements(By.CSS_SELECTOR, "[data-testid='stDataFrame']")
        return len(points) >= data["trials"]["complete"] and tables and frames

    _wait(browser, pareto_drawn, RUN_TIMEOUT_S, "the Pareto chart, the sets and the trials")
    legend = [t.text for t in browser.find_elements(By.CSS_SELECTOR, ".js-plotly-plot .legendtext")]
    assert "Pareto front" in legend and "candidates" in legend
    [table] = browser.find_elements(By.CSS_SELECTOR, "[data-testid='stTable'] table")
    header = [th.text.strip() for th in table.find_elements(By.CSS_SELECTOR, "thead th")]
    recommended = data["recommended"]["label"]
    assert header[1:] == ["current · tuning (2 paths)", "current · held-out (2 paths)",
                          f"{recommended} · tuning (2 paths)", f"{recommended} · held-out (2 paths)"]  # fmt: skip

    # Its button opens the verification runs in the Compare page.
    def compare_button(driver):
        for button in driver.find_elements(By.CSS_SELECTOR, "button"):
            if "Open the verification runs in Compare" in button.text and button.is_enabled():
                return button
        return None

    _wait(browser, compare_button, 10, "the Compare button").click()

    def compared(driver):
        for table in driver.find_elements(By.CSS_SELECTOR, "[data-testid='stTable'] table"):
            header = [th.text.strip() for th in table.find_elements(By.CSS_SELECTOR, "thead th")]
            if header[:2] == ["metric", "current"]:
                return header
        return None

    header = _wait(browser, compared, 60, "the verification runs in the Compare page")
    assert header == ["metric", "current", *(c["label"] for c in data["candidates"])]
    assert browser.find_elements(By.CSS_SELECTOR, "[data-testid='stException']") == []
