"""Drive the sampling widget that Voila serves, in headless Chromium, as a person would.

Usage: python tests/browser/check_widget.py URL SCREENSHOT.png [--timeout SECONDS]

Picks class 3, clicks Generate and waits for an image; picks class 5 and checks the image changes; picks the null class
("unconditional (no class)") and checks for one row; then turns on the animation, picks "all classes" and checks for a
grid with a row per class and a GIF; saves a screenshot of the widget.
Uses Debian's chromium and chromedriver (never downloads a browser). Every wait is bounded, and the whole run
is stopped by an alarm after --timeout seconds. Exits 0 when every check passes."""
import argparse, json, os, shutil, signal, sys, tempfile, time
from pathlib import Path
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1200,1400"]

# The pixels of an <img> as a PNG data URL (its blob: URL changes on every update, its pixels only when the image does).
PIXELS = """const img = document.querySelector(arguments[0]);
if (!img || !img.complete || !img.naturalWidth) return null;
const c = document.createElement('canvas'); c.width = img.naturalWidth; c.height = img.naturalHeight;
c.getContext('2d').drawImage(img, 0, 0);
return [img.naturalWidth, img.naturalHeight, c.toDataURL('image/png')];"""

def log(*a): print("browser:", *a, flush=True)

def expected_guidance():
    "The guidance the widget should show at start: the served model's saved scale (app.ipynb's CLASS_DDPM_WIDGET_MODEL), else DEFAULT_GUIDANCE."
    from class_ddpm.config import DEFAULT_GUIDANCE
    model = os.environ.get("CLASS_DDPM_WIDGET_MODEL")
    saved = json.loads((Path(model) / "model_index.json").read_text()).get("guidance_scale") if model else None
    return saved if saved not in (None, 1, 1.0) else DEFAULT_GUIDANCE

def one(driver, css):
    "The element matching `css`, or None."
    els = driver.find_elements(By.CSS_SELECTOR, css)
    return els[0] if els else None

def generate(driver, wait, before):
    "Click Generate; wait until the image differs from `before` and the button is enabled again; return the image."
    one(driver, ".cddpm-generate").click()
    def done(d):
        msg = one(d, ".cddpm-message")
        if msg is not None and "failed" in msg.text: raise AssertionError(f"the widget reports: {msg.text}")
        px = d.execute_script(PIXELS, "img.cddpm-image")
        return px if px and px != before and one(d, ".cddpm-generate").is_enabled() else False
    return wait.until(done, "no new image after clicking Generate")

def main(url, shot, timeout):
    signal.signal(signal.SIGALRM, lambda *_: sys.exit(f"browser: gave up after {timeout} s"))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("browser: stopped"))  # so that `finally` closes the browser
    signal.alarm(timeout)
    profile = tempfile.mkdtemp(prefix="cddpm-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for f in FLAGS + [f"--user-data-dir={profile}"]: opts.add_argument(f)
    t0 = time.time()
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    try:
        driver.set_page_load_timeout(timeout); driver.set_script_timeout(30)
        log(f"opening {url}")
        driver.get(url)
        wait = WebDriverWait(driver, max(10, timeout // 3), poll_frequency=0.25)
        wait.until(lambda d: (b := one(d, ".cddpm-generate")) is not None and b.is_displayed() and b.is_enabled(),
                   "the widget's Generate button never appeared")
        log(f"widget shown after {time.time() - t0:.1f} s")
        assert driver.execute_script(PIXELS, "img.cddpm-image") is None, "an image is shown before Generate"
        shown, want = one(driver, ".cddpm-guidance .widget-readout").text, expected_guidance()
        assert abs(float(shown) - want) <= 0.005 + 1e-9, f"the guidance slider shows {shown}, not the saved {want:g} (its step rounds it?)"  # readout: 2 decimals
        picker = Select(one(driver, ".cddpm-class select"))
        labels = [o.text for o in picker.options]
        assert labels[:3] == ["0", "1", "2"] and labels[-2:] == ["all classes", "unconditional (no class)"], f"class picker offers {labels}"

        picker.select_by_visible_text("3")
        a = generate(driver, wait, None)
        log(f"class 3: a {a[0]}x{a[1]} image")
        assert a[0] > a[1] > 8, f"class 3 with 2 per class should be one row, wider than high; got {a[0]}x{a[1]}"

        picker.select_by_visible_text("5")
        b = generate(driver, wait, a)
        assert b[2] != a[2] and b[:2] == a[:2], f"class 5 gave {b[0]}x{b[1]}, class 3 {a[0]}x{a[1]}"
        log("class 5: the image changed")

        picker.select_by_visible_text("unconditional (no class)")
        u = generate(driver, wait, b)
        assert u[2] != b[2] and u[1] == b[1] and u[0] >= b[0], \
            f"the null class should give one row as high as class 5's (its longer name may widen it): {u[0]}x{u[1]}, class 5 {b[0]}x{b[1]}"
        log("unconditional: one row, another image")
        b = u

        one(driver, ".cddpm-animate input").click()
        picker.select_by_visible_text("all classes")
        g = generate(driver, wait, b)
        rows = labels.index("all classes")
        assert g[0] >= a[0] and (rows - 1) * a[1] < g[1] <= rows * a[1], \
            f"all {rows} classes should give {rows} rows as high as class 3's {a[1]} pixels: got {g[0]}x{g[1]}"
        gif = wait.until(lambda d: d.execute_script(PIXELS, "img.cddpm-animation"), "no animation shown")
        assert gif[:2] == g[:2], f"the animation is {gif[0]}x{gif[1]}, the grid {g[0]}x{g[1]}"
        log(f"all classes: a {g[0]}x{g[1]} grid of {rows} rows and its animation")

        time.sleep(0.5)  # let the layout settle before the picture
        one(driver, ".cddpm-widget").screenshot(shot)
        log(f"screenshot {shot}; all checks passed in {time.time() - t0:.1f} s")
    except BaseException:
        try: driver.save_screenshot(shot.replace(".png", "-failed.png")); log("page text:", driver.find_element(By.TAG_NAME, "body").text[:2000])
        except Exception: pass
        raise
    finally:
        signal.alarm(0)
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)

if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("url"); p.add_argument("screenshot")
    p.add_argument("--timeout", type=int, default=150, help="seconds before the whole run gives up")
    a = p.parse_args()
    main(a.url, a.screenshot, a.timeout)
