"""The Listen page: a recording uploaded through the page, its transcription followed to COMPLETE, the key,
tempo, chords, notes and tab shown, a re-tab for another tuning and capo, the downloads, and a delete."""

from __future__ import annotations

import re
import time

import requests

from tests.e2e.conftest import ROOT
from tests.e2e.web.conftest import Page, unique_user

RECORDING = ROOT / "events/listen/audio/guitar-take.mp3"  # C, Am, F, G, C, F, G, C on guitar, 100 BPM
FIRST_RUN = 240.0  # the analysis image's first run warms up its libraries; the machine is shared


def test_upload_a_recording_read_its_transcription_retab_it_and_delete_it(page: Page) -> None:
    user = unique_user("listen")
    page.sign_in(user)
    page.go("listen")
    page.wait_for("h2", text="Transcribe a recording")
    page.attach("input[name=recording]", RECORDING)
    page.wait_for("p", text="guitar-take.mp3")
    page.find("select[name=instrument] option[value=guitar]").click()
    page.check("listen-upload")
    page.find("form button[type=submit]").click()

    page.wait(lambda d: re.fullmatch(r"#/listen/[0-9a-f]+", d.execute_script("return location.hash") or ""),
              "the transcription's own address after the upload", timeout=60)
    transcription_id = page.driver.execute_script("return location.hash").rsplit("/", 1)[1]
    progress = page.find(".progress")
    assert progress.get_attribute("aria-label") == "Transcription"
    page.wait_for(".progress[data-status=COMPLETE]", timeout=FIRST_RUN)

    key = page.find(".listen-key").text
    assert re.fullmatch(r"[A-G][#b]? (major|minor)", key), key
    tempo = page.find(".listen-tempo").text
    assert re.fullmatch(r"\d+ BPM", tempo) and 40 <= int(tempo.split()[0]) <= 240, tempo
    assert page.find(".listen-meter").text in ("4/4", "3/4", "6/8")
    chords = [li.text for li in page.find_all(".listen-chords li")]
    assert chords and all(re.fullmatch(r"\d+:\d\d [A-G].*", chord) for chord in chords), chords
    assert re.match(r"\d+ notes from [A-G]", page.find(".listen-notes-summary").text)
    assert "Piano roll" in page.find("canvas.listen-roll").get_attribute("aria-label")
    tab = page.wait_for("pre.tab", text="Tuning: standard").text
    assert re.search(r"^e\|[-0-9|]+$", tab, re.MULTILINE), tab[:400]

    # The downloads are the stored files: the MIDI one is a MIDI file.
    midi = page.find("a.listen-midi").get_attribute("href")
    assert midi.startswith(page.stack.endpoint)
    assert requests.get(midi, timeout=30).content[:4] == b"MThd"
    for link in ("a.listen-tab-text", "a.listen-tab-gp5", "a.listen-json"):
        assert page.find(link).get_attribute("href").startswith(page.stack.endpoint)
    page.check("listen")

    # The same notes for drop D with a capo on the second fret.
    old_gp5 = page.find("a.listen-tab-gp5").get_attribute("href")
    page.find("select[name=retab-tuning] option[value=drop-d]").click()
    page.fill(page.find("input[name=retab-capo]"), "2")
    page.find(".listen-retab button[type=submit]").click()
    retabbed = page.wait_for("pre.tab", text="Tuning: drop-d", timeout=60).text
    assert "Capo: 2" in retabbed
    page.wait(lambda d: page.find("a.listen-tab-gp5").get_attribute("href") != old_gp5, "a new Guitar Pro link")
    page.driver.execute_script("document.querySelector('pre.tab').scrollIntoView()")
    page.screenshot("listen-tab")

    page.phone()
    assert page.driver.execute_script("return document.documentElement.scrollWidth") <= 400
    page.desktop()

    # Delete it from the list (after the confirmation).
    page.driver.execute_script("window.confirm = () => true")
    page.find(f'tr[data-id="{transcription_id}"] button.danger').click()
    page.wait(lambda d: d.execute_script("return location.hash") == "#/listen", "the upload form after the delete")
    page.wait_for("p", text="No transcriptions yet.")
    token = page.stack.idp.issue(user, now=time.time())
    gone = requests.get(f"{page.stack.api_url}/transcriptions/{transcription_id}",
                        headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert gone.status_code == 404
