"""The Library and Guess the Track pages: upload a track, watch it become READY, play it, edit its title, then
guess it, reveal it, grade it and see when it comes back; the API agrees with what the pages show."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import requests
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement

from local_stack.stack import LocalStack
from tests.e2e.web.conftest import ROOT, Page, unique_user

SAMPLE = ROOT / "events/library/audio/demo-track.flac"  # 12 s, tagged "Tide Lines" by "SoundCanvas Demo"


def api_get(stack: LocalStack, user: str, path: str) -> Any:
    token = stack.idp.issue(user, now=time.time())
    answer = requests.get(f"{stack.api_url}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()


def shown(page: Page, css: str, text: str, timeout: float = 20.0) -> WebElement:
    """page.wait_for for parts the page re-renders while we look (a live status update can replace them)."""
    def found(driver: WebDriver) -> WebElement | bool:
        try:
            return next((el for el in driver.find_elements(By.CSS_SELECTOR, css)
                         if el.is_displayed() and text in el.text), False)
        except StaleElementReferenceException:
            return False
    return page.wait(found, f"{css!r} showing {text!r}", timeout)


def test_upload_play_edit_then_guess_and_grade_a_track(page: Page, stack: LocalStack, tmp_path: Path) -> None:
    user = unique_user("library")
    page.sign_in(user)
    page.go("library")
    page.wait_for("main", text="No tracks yet")

    # Two files chosen at once: the demo track, and text dressed up as an MP3, which the workflow refuses.
    bogus = tmp_path / "not-audio.mp3"
    bogus.write_text("these are words, not sound\n" * 200)
    page.find('input[type="file"][accept="audio/*"]').send_keys(f"{SAMPLE}\n{bogus}")
    page.wait_for(".uploads li", text="demo-track.flac")
    failed = shown(page, "tbody tr", "FAILED", timeout=180)
    failure = api_get(stack, user, f"/tracks/{failed.get_attribute('data-track-id')}")
    assert failure["status"] == "FAILED" and failure["errorMessage"] in failed.text
    shown(page, ".uploads li", failure["errorMessage"])
    row = shown(page, "tbody tr", "READY", timeout=180)
    # The tags were read from the file and the duration from its stream.
    assert "Tide Lines" in row.text and "SoundCanvas Demo" in row.text and "Samples" in row.text
    assert "0:12" in row.text
    track_id = row.get_attribute("data-track-id")
    shown(page, ".uploads .progress .stage", "READY")

    page.find('button[aria-label="Play Tide Lines"]').click()
    src = page.wait(lambda d: d.execute_script("return document.querySelector('audio').src") or False,
                    "the player's source")
    assert src.startswith(stack.endpoint) and "/audio." in src

    page.find('button[aria-label="Edit Tide Lines"]').click()
    page.fill(page.find('form.edit input[name="name"]'), "Low Tide")
    page.find('form.edit button[type="submit"]').click()
    shown(page, "tbody tr td .title", "Low Tide")
    assert not page.find_all("form.edit")
    assert "Tide Lines" not in page.find("tbody").text
    page.check("library")
    track = api_get(stack, user, f"/tracks/{track_id}")
    assert (track["status"], track["name"], track["artist"]) == ("READY", "Low Tide", "SoundCanvas Demo")
    assert track["review"]["count"] == 0

    page.find('#nav a[href="#/guess"]').click()
    shown(page, ".quiz", "1 track due now")
    snippet = page.find(".quiz audio").get_attribute("src")
    assert snippet.startswith(stack.endpoint) and "#t=0," in snippet  # 12 s: shorter than a snippet, all of it
    page.find(".quiz").find_element("xpath", ".//button[.='Play snippet']").click()
    page.find(".quiz").find_element("xpath", ".//button[.='Reveal']").click()
    page.wait_for(".quiz .answer", text="Low Tide · SoundCanvas Demo · Samples")
    page.check("guess")

    page.find('button[aria-label="Grade 4: correct after a hesitation"]').click()
    shown(page, "#quiz-heading", "Nothing to guess right now")
    # SM-2's first successful review brings the track back a day later.
    next_due = shown(page, ".next-due", "tomorrow")
    due_at = next_due.find_element("css selector", "time").get_attribute("datetime")
    track = api_get(stack, user, f"/tracks/{track_id}")
    assert track["review"] == {"count": 1, "dueAt": due_at}
    assert api_get(stack, user, "/due")["items"] == []
    page.check("guess-nothing-due")
