"""The widgets in a real browser: JupyterLab in headless Chromium, driven by selenium.

For each notebook: open it with ``interactive = True``, Run All, wait for the kernel, then
change a widget's control right away (the first change is where blank plots showed) and
check what the browser got: a PNG that decodes, of a sensible size, not blank; no "Error
displaying widget"; no image in JupyterLab's Log Console (where misrouted figures land);
no SEVERE entry in the browser's log. Screenshots of each widget go to $REWRITELIB_SHOTS
(default: the test's temporary folder).

`make test` runs this after the notebook tests, in the same runs folder ($REWRITELIB_RUNS),
so the notebooks' tiny sweeps are already done and each notebook only reports. Needs
Debian's chromium and chromium-driver (a downloaded browser does not run here).
"""

import base64
import io
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import nbformat
import pytest
from papermill.iorw import load_notebook_node
from papermill.parameterize import parameterize_notebook

from conftest import NOTEBOOK_TINY

pytestmark = pytest.mark.browser

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# The stored notebooks are the cpu-scale study over the committed records; the widgets are
# tested at tiny, on the sweeps the notebook tests left in the runs folder.


def interactive_copy(name: str, folder: Path) -> None:
    """The notebook at tiny with ``interactive = True`` injected as papermill would, outputs
    cleared (00, which reads the committed records, as stored)."""
    nb = load_notebook_node(str(NOTEBOOKS / f"{name}.ipynb"))
    tiny = {} if name.startswith("00_") else {"preset": "tiny", **NOTEBOOK_TINY.get(name, {})}
    nb = parameterize_notebook(nb, {**tiny, "interactive": True})
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nbformat.write(nb, folder / f"{name}.ipynb")


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server on 127.0.0.1 with a random port and token, on copies of the notebooks."""
    root = tmp_path_factory.mktemp("lab")
    for nb in NOTEBOOKS.glob("*.ipynb"):
        interactive_copy(nb.stem, root)
    # no "official Jupyter news?" prompt over the page (it asks the internet)
    news = root / ".settings" / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    news.parent.mkdir(parents=True)
    news.write_text(json.dumps({"fetchNews": "false"}))
    # every cell in the page, not only those in view (JupyterLab 4 windows long notebooks)
    tracker = news.parents[1] / "notebook-extension" / "tracker.jupyterlab-settings"
    tracker.parent.mkdir(parents=True)
    tracker.write_text(json.dumps({"windowingMode": "none"}))
    port, token = free_port(), uuid.uuid4().hex
    env = {**os.environ, "JUPYTERLAB_SETTINGS_DIR": str(root / ".settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(root / ".workspaces"),
           "REWRITELIB_RUNS": os.environ.get("REWRITELIB_RUNS", str(root / ".runs"))}
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
           f"--ServerApp.port={port}", f"--IdentityProvider.token={token}",
           f"--ServerApp.root_dir={root}", "--ServerApp.port_retries=0"]
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    log = open(root / ".lab.log", "w")
    server = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
            break
        except OSError:
            assert server.poll() is None, (root / ".lab.log").read_text()[-3000:]
            time.sleep(0.5)
    else:
        raise AssertionError("JupyterLab did not answer within 60 s")
    yield {"url": url, "token": token, "root": root}
    server.terminate()
    server.wait(30)
    log.close()


@pytest.fixture(scope="module")
def browser(lab, chromium):  # after the server: the page opens on it
    return chromium


@pytest.fixture(autouse=True)
def fresh_kernels(lab, browser):
    """Each notebook's kernels are shut down after its test, passed or not."""
    yield
    close_all(browser, lab)


@pytest.fixture(scope="module")
def shots(lab):
    folder = Path(os.environ.get("REWRITELIB_SHOTS") or lab["root"] / ".shots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# --- driving JupyterLab --------------------------------------------------------------------

def wait(driver, what, timeout=120, every=0.2, message="condition"):
    """Poll ``what(driver)`` until it is truthy; fail with ``message`` after ``timeout`` s."""
    from selenium.common.exceptions import StaleElementReferenceException

    end = time.time() + timeout
    while time.time() < end:
        try:
            value = what(driver)
        except StaleElementReferenceException:  # JupyterLab re-rendered it: look again
            value = None
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {message}")


def css(driver, selector, root=None):
    from selenium.webdriver.common.by import By
    return (root or driver).find_elements(By.CSS_SELECTOR, selector)


def click(driver, find, timeout=120, message="an element"):
    """Click the first element ``find(driver)`` returns, once it takes the click.

    JupyterLab re-renders cells and menus while they settle: an element found a moment ago
    can be stale, or covered, by the time it is clicked; then look for it again."""
    from selenium.common.exceptions import ElementClickInterceptedException

    def clicked(d):
        found = find(d)
        if not found:
            return False
        try:
            found[0].click()  # a stale element raises here and wait() looks again
        except ElementClickInterceptedException:
            return False
        return True
    wait(driver, clicked, timeout=timeout, message=f"{message} to take a click")


def menu(driver, top: str, item: str) -> None:
    """Click a menu bar entry, then one of its items, by their labels."""
    from selenium.webdriver.common.by import By
    click(driver, lambda d: d.find_elements(By.XPATH, f"//div[contains(@class,'lm-MenuBar-itemLabel') and text()='{top}']"),
          message=f"the {top} menu")
    click(driver, lambda d: d.find_elements(By.XPATH, f"//div[contains(@class,'lm-Menu-itemLabel') and text()='{item}']"),
          message=f"the menu item {item}")


# the notebook in view: the tabs of notebooks checked before stay in the page, hidden
ACTIVE = ".jp-NotebookPanel:not(.lm-mod-hidden) "


def kernel_idle(driver) -> bool:
    indicator = css(driver, ACTIVE + ".jp-Notebook-ExecutionIndicator")
    return bool(indicator) and indicator[0].get_attribute("data-status") == "idle"


def prompts(driver) -> list[str]:
    # textContent, not .text: selenium's .text is "" for a cell scrolled out of view
    return [p.get_attribute("textContent").strip() for p in css(driver, ACTIVE + ".jp-CodeCell .jp-InputArea-prompt")]


def kernel_ready(driver) -> bool:
    """The notebook is open, its kernel idle; a "Select Kernel" dialog (which JupyterLab
    sometimes shows on opening) is answered with the notebook's own kernel."""
    for button in css(driver, ".jp-Dialog .jp-Dialog-button.jp-mod-accept"):
        button.click()
        return False
    status = [i.text for i in css(driver, ".jp-StatusBar-Item")]  # "Python 3 (rewritelib) | Idle"
    connected = any(t.endswith("| Idle") and not t.startswith("No Kernel") for t in status)
    return bool(prompts(driver)) and kernel_idle(driver) and connected


def run_all(driver, lab, name: str, timeout=300) -> None:
    driver.get(f"{lab['url']}/lab/tree/{name}.ipynb?token={lab['token']}")
    wait(driver, kernel_ready, message=f"{name} to open with its kernel")
    for _ in range(5):  # a click while the notebook is still settling can be lost: retry
        # Run All acts on the notebook with the focus
        click(driver, lambda d: css(d, ACTIVE + ".jp-Cell"), timeout=20, message=f"{name}'s first cell")
        menu(driver, "Run", "Run All Cells")
        try:
            wait(driver, lambda d: any(p != "[ ]:" for p in prompts(d)), timeout=20, message="Run All to start")
            break
        except AssertionError:
            continue
    else:
        raise AssertionError(f"Run All of {name} did not start after 5 tries")

    def all_ran(d):
        ps = prompts(d)
        return ps and all(p not in ("[ ]:", "[*]:", "") for p in ps) and kernel_idle(d)

    try:
        wait(driver, all_ran, timeout=timeout, message=f"Run All of {name}")
    except AssertionError:
        driver.save_screenshot(str(lab["root"] / f".{name}-timeout.png"))
        raise AssertionError(f"Run All of {name} did not finish in {timeout} s; prompts {prompts(driver)}, "
                             f"kernel idle: {kernel_idle(driver)}; screenshot in {lab['root']}") from None
    errors = css(driver, ACTIVE + ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr'] .ansi-red-fg")
    assert not errors, f"{name} raised: {errors[0].text[:500]}"


def close_all(driver, lab) -> None:
    """Shut down every kernel (the next notebook gets the CPU to itself)."""
    base, token = lab["url"], lab["token"]
    sessions = json.load(urllib.request.urlopen(f"{base}/api/sessions?token={token}"))
    for s in sessions:
        req = urllib.request.Request(f"{base}/api/sessions/{s['id']}?token={token}", method="DELETE")
        urllib.request.urlopen(req)


OUTERMOST_VBOX = ("//div[contains(@class,'jp-NotebookPanel') and not(contains(@class,'lm-mod-hidden'))]"
                  "//div[contains(@class,'jp-OutputArea-output')]//div[contains(@class,'widget-vbox')"
                  " and not(ancestor::div[contains(@class,'widget-vbox')])]")


def widget(driver, name):
    """The notebook's (last) widget: the outermost box in an output area."""
    views = wait(driver, lambda d: d.find_elements("xpath", OUTERMOST_VBOX), timeout=30,
                 message=f"{name}'s widget to render")
    return views[-1]


def image_bytes(driver, img) -> bytes:
    """The bytes behind an <img> (a blob: or data: URL), fetched by the page itself."""
    b64 = driver.execute_async_script("""
        const [img, done] = arguments;
        fetch(img.src).then(r => r.arrayBuffer()).then(buf => {
            let s = ""; const a = new Uint8Array(buf);
            for (let i = 0; i < a.length; i += 8192) s += String.fromCharCode(...a.subarray(i, i + 8192));
            done(btoa(s));
        }).catch(e => done("ERROR " + e));""", img)
    assert not b64.startswith("ERROR"), b64
    return base64.b64decode(b64)


def check_png(data: bytes, what: str):
    """A PNG that decodes, of a sensible size, with something drawn on it."""
    from PIL import Image

    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{what}: not a PNG"
    im = Image.open(io.BytesIO(data)).convert("RGBA")
    w, h = im.size
    assert 200 <= w <= 3000 and 100 <= h <= 3000, f"{what}: odd size {w} x {h}"
    alpha = im.getchannel("A").getextrema()
    assert alpha[1] > 0, f"{what}: fully transparent (a blank plot)"
    colors = im.getcolors(maxcolors=1 << 20)
    assert colors is None or len(colors) > 20, f"{what}: {len(colors)} colours (a blank plot)"
    return im.size


def images(driver, view):
    return [img for img in css(driver, "img", view) if img.get_attribute("src")]


def new_image(driver, view, before: set, what: str, timeout=90) -> bytes:
    """Wait for an image in ``view`` that is not one of ``before``; return its bytes."""
    def fresh(d):
        for img in images(d, view):
            data = image_bytes(d, img)
            if data not in before:
                return data
        return None
    data = wait(driver, fresh, timeout=timeout, every=0.5, message=f"a new image after {what}")
    check_png(data, what)
    return data


def page_clean(driver, name):
    """No widget error, no image in the Log Console, nothing SEVERE in the browser's log."""
    assert "Error displaying widget" not in driver.find_element("tag name", "body").text, name
    if not css(driver, ".jp-LogConsolePanel"):  # once open it stays, following the notebook in view
        menu(driver, "View", "Show Log Console")
    console = wait(driver, lambda d: css(d, ".jp-LogConsolePanel"), timeout=20, message="the Log Console")[0]
    time.sleep(0.5)
    assert not css(driver, "img", console), f"{name}: a figure landed in the Log Console"
    severe = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert not severe, f"{name}: browser log: {severe[:3]}"


def screenshot(driver, view, path: Path) -> None:
    driver.execute_script("arguments[0].scrollIntoView({block: 'start'});", view)
    time.sleep(0.3)
    view.screenshot(str(path))


def select(element, index: int):
    from selenium.webdriver.support.ui import Select
    Select(element).select_by_index(index)


def slide_right(driver, slider_view):
    """Move a slider one step with the keyboard, as a user would."""
    from selenium.webdriver.common.keys import Keys
    handle = css(driver, ".noUi-handle", slider_view)[0]
    handle.click()
    handle.send_keys(Keys.ARROW_RIGHT)


# --- the notebooks --------------------------------------------------------------------------

def test_data_explorer(lab, browser, shots):
    name = "01_data_construction"
    run_all(browser, lab, name)
    view = widget(browser, name)
    readouts = [r.text for r in css(browser, ".widget-readout", view)]
    assert readouts[0] == "12", f"the explorer should start at the notebook's I = 12, shows {readouts}"
    before = {image_bytes(browser, img) for img in images(browser, view)}
    assert before, "no image before the change"
    slide_right(browser, css(browser, ".widget-slider", view)[0])  # I: 12 -> 13
    new_image(browser, view, before, "moving the I slider")
    wait(browser, lambda d: css(d, ".widget-readout", view)[0].text == "13", message="I = 13")
    screenshot(browser, view, shots / f"{name}.png")
    page_clean(browser, name)


def test_live_training(lab, browser, shots):
    name = "02_training"
    run_all(browser, lab, name)
    view = widget(browser, name)
    assert [r.text for r in css(browser, ".widget-readout", view)][0] == "8"  # the notebook's I
    slide_right(browser, css(browser, ".widget-slider", view)[0])
    css(browser, "button", view)[0].click()
    new_image(browser, view, set(), "training", timeout=150)
    wait(browser, lambda d: "exact match seen" in view.text, message="the scores")
    screenshot(browser, view, shots / f"{name}.png")
    page_clean(browser, name)


@pytest.mark.parametrize("name,study", [("03_diversity_ablation", "diversity-tiny"),
                                        ("04_skew_ablation", "skew-tiny"),
                                        ("05_families_and_occurrences", "families-tiny"),
                                        ("06_pretrained_lora", "pretrained-tiny")])
def test_results_browser(lab, browser, shots, name, study):
    run_all(browser, lab, name, timeout=600)
    view = widget(browser, name)
    pick, runs = css(browser, "select", view)[:2]
    assert pick.get_attribute("value") == study, "the browser should open on the notebook's study"
    assert runs.get_attribute("value"), "a run should be selected"
    before = {image_bytes(browser, img) for img in images(browser, view)}
    assert before, "no image before the change"
    options = [o.get_attribute("value") for o in css(browser, "option", pick)]
    other = next(i for i, o in enumerate(options) if o != study)
    select(pick, other)  # another study: a new table, curve and run list
    new_image(browser, view, before, f"picking the study {options[other]}")
    runs = css(browser, "select", view)[1]
    run_ids = [o.get_attribute("value") for o in css(browser, "option", runs)]
    wait(browser, lambda d: run_ids[0] in view.text, message=f"the record of {run_ids[0]}")
    if len(run_ids) > 1:
        select(runs, 1)
        wait(browser, lambda d: run_ids[1] in view.text, message=f"the record of {run_ids[1]}")
    screenshot(browser, view, shots / f"{name}.png")
    page_clean(browser, name)
