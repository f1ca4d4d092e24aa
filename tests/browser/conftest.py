"""Headless Chromium for the browser tests (JupyterLab's widgets, the HTML report)."""

import shutil

import pytest

INSTALL = "apt-get install chromium chromium-driver (Debian/Ubuntu), then pip install selenium"


@pytest.fixture(scope="module")
def chromium():
    """Debian's Chromium through its ChromeDriver (a downloaded browser does not run here),
    headless, with the browser's log kept for the tests' checks of SEVERE entries."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.fail(f"the browser test needs selenium: {INSTALL}", pytrace=False)
    paths = {tool: shutil.which(tool) for tool in ("chromium", "chromedriver")}
    for tool, path in paths.items():
        if path is None:
            pytest.fail(f"the browser test needs {tool}: {INSTALL}", pytrace=False)
    options = webdriver.ChromeOptions()
    options.binary_location = paths["chromium"]
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,2400"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(paths["chromedriver"]))
    driver.implicitly_wait(0)
    yield driver
    driver.quit()
