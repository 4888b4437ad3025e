"""Picture → music in the browser: a picture becomes music with live progress, a second version, history, delete."""

from __future__ import annotations

from pathlib import Path

import requests
from selenium.webdriver.support.ui import Select

from local_stack.stack import LocalStack
from tests.e2e.web.conftest import ROOT, Page, unique_user

SUNSET = ROOT / "events/generation/images/sunset.jpg"
DONE = "#job .progress[data-status='COMPLETE']"
# Every text the progress line shows, in order, as the person would have seen it.
RECORD_STAGES = """
window.stagesSeen = [];
new MutationObserver(() => {
  const stage = document.querySelector("#job .progress .stage");
  const text = stage ? stage.textContent : "";
  if (text && window.stagesSeen[window.stagesSeen.length - 1] !== text) window.stagesSeen.push(text);
}).observe(document.getElementById("main"), {subtree: true, childList: true, characterData: true});
"""


def audio_duration(page: Page) -> float:
    """The result's length as the browser decoded it (waits for the audio's metadata)."""
    page.wait(lambda d: d.execute_script("const a = document.querySelector('#job audio'); "
                                         "return a && a.readyState >= 1"), "the audio's metadata", timeout=30)
    return float(page.driver.execute_script("return document.querySelector('#job audio').duration"))


def test_a_picture_becomes_music_with_live_progress_a_new_version_and_history(page: Page, stack: LocalStack) -> None:
    user = unique_user("gen")
    page.sign_in(user)
    page.find("#picture")
    page.attach("#picture", SUNSET)
    page.wait_for(".preview img")
    Select(page.find("#genre")).select_by_value("jazz")
    page.fill(page.find("#seconds"), "15")
    page.driver.execute_script(RECORD_STAGES)
    page.find("form button[type=submit]").click()

    page.wait_for(DONE, timeout=120)
    stages = page.driver.execute_script("return window.stagesSeen")
    # Live progress: the line moved through the workflow's stages before it said COMPLETE.
    assert any(text.startswith("RUNNING") for text in stages), stages
    assert stages[-1] == "COMPLETE", stages
    job_id = page.driver.execute_script("return location.hash").rsplit("/", 1)[1]
    assert (page.find("#job audio").get_attribute("src") or "").startswith(stack.endpoint)
    assert abs(audio_duration(page) - 15) < 3
    links = {a.text: a.get_attribute("href") or "" for a in page.find_all("#job .downloads a")}
    assert {"Download WAV", "Download MIDI"} <= set(links)
    wav = requests.get(links["Download WAV"], timeout=30)
    assert wav.status_code == 200 and wav.content[:4] == b"RIFF"
    params = page.find("#job .params").text
    assert "jazz" in params and "BPM" in params
    row = page.wait_for(f".gen-history-item[data-job-id='{job_id}']", text="COMPLETE")
    assert (row.find_element("css selector", "img.thumb").get_attribute("src") or "").startswith(stack.endpoint)
    page.check("generate")

    # A second version in another genre, followed live again.
    Select(page.find("#regenerate-genre")).select_by_value("ambient")
    page.driver.execute_script("window.stagesSeen = []")
    page.find("#job .regenerate button").click()
    page.wait(lambda d: d.execute_script("return window.stagesSeen.length > 1"), "the new version to start")
    page.wait_for(DONE, timeout=120)
    stages = page.driver.execute_script("return window.stagesSeen")
    assert stages[0].startswith("PENDING") and stages[-1] == "COMPLETE", stages
    assert "ambient" in page.find("#job .params").text
    assert page.wait_for(f".gen-history-item[data-job-id='{job_id}']", text="ambient")

    # Back on the page later, the history opens the same job; nothing is wider than a phone.
    page.open("generate")
    page.find(f".gen-history-item[data-job-id='{job_id}'] a").click()
    page.wait_for(DONE)
    assert page.driver.execute_script("return location.hash") == f"#/generate/{job_id}"
    assert "ambient" in page.find("#job .params").text
    page.phone()
    assert page.driver.execute_script("return document.documentElement.scrollWidth") <= 400
    page.desktop()

    # Delete, after the browser's confirmation: gone from the page and from the API.
    page.find(f".gen-history-item[data-job-id='{job_id}'] button.danger").click()
    page.accept_confirmation()
    page.wait(lambda d: not page.find_all(f".gen-history-item[data-job-id='{job_id}']"), "the row to go")
    answer = requests.get(f"{stack.api_url}/generations/{job_id}", timeout=30,
                          headers={"Authorization": f"Bearer {stack.token(user)}"})
    assert answer.status_code == 404


def test_a_file_that_is_not_a_picture_or_too_big_gets_the_apis_or_storages_message(
        page: Page, stack: LocalStack, tmp_path: Path) -> None:
    user = unique_user("gen-bad")
    page.sign_in(user)
    notes = tmp_path / "notes.txt"
    notes.write_text("not a picture")
    page.find("#picture")
    page.attach("#picture", notes)
    page.find("form button[type=submit]").click()
    error = page.wait_for("form .error")
    assert "contentType" in error.text and "image/jpeg" in error.text

    huge = tmp_path / "huge.jpg"
    huge.write_bytes(b"\xff\xd8" + bytes(20 * 2**20))  # just over the 20 MB the upload form allows
    page.attach("#picture", huge)
    page.find("form button[type=submit]").click()
    page.wait_for("form .error", text="exceeds the maximum allowed size", timeout=60)
    # The job that never got its picture is removed, so nothing waits in the history.
    token = stack.token(user)
    page.wait(lambda d: not requests.get(f"{stack.api_url}/generations", timeout=30, headers={
        "Authorization": f"Bearer {token}"}).json()["items"], "the abandoned job to be removed")
    assert not page.find_all(".gen-history-item")
    # The two refusals are the only console entries (Chromium logs every 4xx answer; Firefox does not).
    errors = page.console_errors()
    if page.browser == "chromium":
        assert len(errors) == 2 and all(" 400 " in e for e in errors), errors
    else:
        assert errors == [], errors
    page.check("generate-bad-file")
