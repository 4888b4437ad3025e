"""The Maps page: a drum map of a public catalog song made through the page and followed to COMPLETE, its chart
drawn with the counts per instrument the API reports, an edit proposed through the form and left pending, and a
curator (karma granted by an administrator) approving it from the verifier queue; once a second approval
publishes version 2, the chart reads either version.

The song's recording (events/maps/groove.mp3, one of ours) is given through the API: that is not the flow here."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import requests
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select

from local_stack.stack import LocalStack
from tests.e2e.web.conftest import Page, unique_user

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[3]
GROOVE = ROOT / "events/maps/groove.mp3"
SONG_QUERY = "banjo reel"


def session(stack: LocalStack, user: str, **claims: Any) -> requests.Session:
    """The API as `user`, signed at the real time (the authorizer's clock)."""
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {stack.idp.issue(user, now=time.time(), **claims)}"
    return http


def song_with_recording(stack: LocalStack, http: requests.Session) -> dict[str, Any]:
    """A public seed song with a recording: given groove.mp3 unless someone already gave it one."""
    song = http.get(f"{stack.api_url}/songs", params={"q": SONG_QUERY}, timeout=30).json()["items"][0]
    if song["audioStatus"] is None:
        created = http.post(f"{stack.api_url}/songs/{song['songId']}/audio", json={"contentType": "audio/mpeg"},
                            timeout=30)
        assert created.status_code in (201, 409), created.text
        if created.status_code == 201:
            form = created.json()["upload"]
            posted = requests.post(form["url"], data=form["fields"],
                                   files={"file": ("groove.mp3", GROOVE.read_bytes(), "audio/mpeg")}, timeout=60)
            assert posted.status_code == 204, posted.text
    deadline = time.monotonic() + 120
    while (song := http.get(f"{stack.api_url}/songs/{song['songId']}", timeout=30).json())["audioStatus"] != "READY":
        assert song["audioStatus"] == "PENDING" and time.monotonic() < deadline, song
        time.sleep(0.5)
    return dict(song)


def see(page: Page, css: str, text: str | None = None, timeout: float = 30.0) -> WebElement:
    """page.wait_for that looks again when the page re-renders the element it was reading (lists here reload)."""
    def found(driver: Any) -> WebElement | bool:
        try:
            for element in driver.find_elements(By.CSS_SELECTOR, css):
                if element.is_displayed() and (text is None or text in element.text):
                    return element
        except StaleElementReferenceException:
            pass
        return False
    return page.wait(found, f"{css!r}" + (f" showing {text!r}" if text else ""), timeout)


def open_maps(page: Page) -> None:
    page.driver.execute_script("location.hash = '#/maps'")
    see(page, "main h1", "Drum maps")


def canvas_marks(page: Page) -> int:
    """How many pixels of the chart are coloured (hits), not white or the grey of rows and grid lines."""
    return int(page.driver.execute_script(
        "const c = document.querySelector('.map-scroll canvas');"
        "const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0;"
        "for (let i = 0; i < d.length; i += 4) { const max = Math.max(d[i], d[i+1], d[i+2]);"
        " if (max - Math.min(d[i], d[i+1], d[i+2]) > 60) n++; } return n;"))


def sign_in_as(page: Page, user: str) -> None:
    """Sign in through the form (as page.sign_in does, reading through re-renders) and open the Maps page."""
    page.driver.execute_script("sessionStorage.clear()")
    page.open("signin")
    page.fill(see(page, "input[name=user]"), user)
    see(page, "form button[type=submit]").click()
    page.wait(lambda d: d.execute_script("return location.hash") == "#/generate", "the generate page after sign-in")
    open_maps(page)


def test_make_a_map_read_its_chart_propose_an_edit_and_approve_it_from_the_queue(
        page: Page, stack: LocalStack) -> None:
    user = unique_user("mapper")
    http = session(stack, user)
    song = song_with_recording(stack, http)

    # Make the map through the page and follow it to COMPLETE.
    sign_in_as(page, user)
    page.find('input[name=map-source][value=song]').click()
    page.fill(page.find("input[name=songQuery]"), SONG_QUERY)
    see(page, "button", "Search").click()
    page.wait(lambda d: d.execute_script("return [...document.querySelectorAll('select[name=songId] option')]"
                                         ".some((o) => o.value === arguments[0])", song["songId"]),
              "the song among the search results")
    Select(page.find("select[name=songId]")).select_by_value(song["songId"])
    see(page, "button", "Create map").click()
    see(page, ".map-status .progress")
    see(page, '.map-status .progress[data-status="COMPLETE"]', timeout=180)
    see(page, "#your-maps ~ div a", song["title"])
    see(page, ".map-status a", "Open the drum map").click()

    # The chart: drawn, described, and counted as the API counts.
    map_id = page.driver.execute_script("return location.hash").split("/")[-1]
    state = http.get(f"{stack.api_url}/maps/{map_id}", timeout=30).json()
    assert state["status"] == "COMPLETE" and state["public"], state
    canvas = see(page, ".map-scroll canvas[role=img]", timeout=60)
    label = canvas.get_attribute("aria-label")
    expert_total = sum(state["counts"].values())
    assert label.startswith(f"Drum map at expert: {expert_total} hits"), label
    assert f"Kick {state['counts']['kick']}" in label and f"Snare {state['counts']['snare']}" in label
    assert f"Tempo {state['tempoBpm']:.1f} BPM" in page.find("main").text
    table = page.find("table.counts").text
    assert f"Kick {state['counts']['kick']}" in table and f"All {expert_total}" in table
    assert canvas_marks(page) > 0
    Select(page.find("select[name=level]")).select_by_value("easy")
    page.wait(lambda d: f"at easy: {state['levels']['easy']} hits" in canvas.get_attribute("aria-label"),
              "the chart redrawn at easy")
    page.check("maps-chart")
    page.phone()  # the chart scrolls inside its box; the page itself never sideways
    assert page.driver.execute_script("return document.documentElement.scrollWidth") <= 400
    page.screenshot("maps-chart-phone")
    page.desktop()

    # Propose removing one hit of the hard level through the form; it waits for the verifiers.
    document = requests.get(state["mapUrl"], timeout=30).json()
    hit = document["levels"]["hard"][len(document["levels"]["hard"]) // 2]
    Select(page.find("select[name=editLevel]")).select_by_value("hard")
    Select(page.find("select[name=lane]")).select_by_value(hit["lane"])
    Select(page.find("select[name=action]")).select_by_value("remove")
    page.fill(page.find("input[name=time]"), str(hit["t"]))
    page.fill(page.find("input[name=comment]"), "a ghost note, not a hit")
    see(page, "button", "Propose edit").click()
    # Levels are nested: the hit leaves hard and every easier level that holds it, and no other.
    removed = "; ".join(f"{level}: 0 added, 1 removed" for level in ("easy", "medium", "hard")
                        if any(h["t"] == hit["t"] and h["lane"] == hit["lane"] for h in document["levels"][level]))
    see(page, ".proposed", f"is pending: {removed}.")
    see(page, "#map-edits ~ div li", "a ghost note, not a hit")
    (edit,) = http.get(f"{stack.api_url}/edits", params={"mapId": map_id}, timeout=30).json()["items"]
    assert edit["state"] == "pending" and edit["author"] == user and edit["baseVersion"] == 1

    # A curator (karma granted by an administrator) approves it from the queue.
    curator = unique_user("curator")
    admin = session(stack, unique_user("admin"), **{"cognito:groups": ["admin"]})
    granted = admin.post(f"{stack.api_url}/users/{curator}/karma", json={"amount": 1000, "reason": "moderator"},
                         timeout=30)
    assert granted.status_code == 201, granted.text
    sign_in_as(page, curator)
    see(page, "#queue ~ p", "You are a curator with karma 1000")
    item = f'li[data-edit-id="{edit["editId"]}"]'
    see(page, item, removed)
    see(page, f"{item} button", "Approve").click()
    see(page, item, "You voted to approve. The edit is pending: 1 approvals, 0 rejections")
    decided = http.get(f"{stack.api_url}/edits/{edit['editId']}", timeout=30).json()
    assert decided["approvals"] == 1 and [v["voter"] for v in decided["votes"]] == [curator]
    page.check("maps")

    # A second curator's approval publishes version 2; the chart reads either version.
    second = unique_user("curator")
    assert admin.post(f"{stack.api_url}/users/{second}/karma", json={"amount": 1000, "reason": "moderator"},
                      timeout=30).status_code == 201
    applied = session(stack, second).post(f"{stack.api_url}/edits/{edit['editId']}/votes",
                                          json={"decision": "approve"}, timeout=30)
    assert applied.status_code == 201 and applied.json()["appliedVersion"] == 2, applied.text
    page.driver.execute_script("location.hash = arguments[0]", f"#/maps/{map_id}")
    version = see(page, "select[name=version]", timeout=60)
    assert Select(version).first_selected_option.text == f"2 by {user} (current)"
    Select(page.find("select[name=level]")).select_by_value("hard")
    canvas = see(page, ".map-scroll canvas[role=img]")
    hard = len(document["levels"]["hard"])
    page.wait(lambda d: f"at hard: {hard - 1} hits" in canvas.get_attribute("aria-label"), "version 2 at hard")
    Select(version).select_by_value("1")
    page.wait(lambda d: f"at hard: {hard} hits" in canvas.get_attribute("aria-label"), "version 1 at hard")
    assert not page.console_errors()
