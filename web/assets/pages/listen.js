// Listen: upload a recording, follow its transcription, then read the key, tempo, meter, chords, notes and a
// guitar tab (re-tabbed for another tuning or capo), and download the MIDI, the tab and the whole analysis.
// Routes: #/listen (upload + past transcriptions), #/listen/<transcriptionId> (one transcription).
import {api, uploadWithForm} from "../lib/api.js";
import {errorBox, field, fill, formatDate, formatSeconds, h, progressView, toast, useStyles} from "../lib/dom.js";
import {follow} from "../lib/live.js";

export const title = "Listen";

const INSTRUMENTS = [["auto", "Detect"], ["guitar", "Guitar"], ["bass", "Bass"], ["piano", "Piano"], ["voice", "Voice"]];
const TUNINGS = [["standard", "Standard (E A D G B E)"], ["drop-d", "Drop D (D A D G B E)"],
  ["half-step-down", "Half step down (Eb Ab Db Gb Bb Eb)"], ["open-g", "Open G (D G D G B D)"],
  ["dadgad", "DADGAD (D A D G A D)"]];
const CONTENT_TYPES = {mp3: "audio/mpeg", flac: "audio/flac", wav: "audio/wav", aif: "audio/aiff",
  aiff: "audio/aiff", ogg: "audio/ogg", oga: "audio/ogg", m4a: "audio/mp4", mp4: "audio/mp4"};
const ACCEPTED = new Set(["audio/mpeg", "audio/mp3", "audio/flac", "audio/x-flac", "audio/wav", "audio/x-wav",
  "audio/wave", "audio/vnd.wave", "audio/aiff", "audio/x-aiff", "audio/ogg", "audio/mp4", "audio/x-m4a", "audio/m4a"]);
const FINAL = new Set(["COMPLETE", "FAILED"]);
const NOTE_NAMES = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"];
const CHORD_QUALITIES = {maj: "", min: "m", "7": "7", maj7: "maj7", min7: "m7"};
const PAGE_SIZE = 20;

// --- pure helpers -------------------------------------------------------------------------------------------

/** The upload's content type: the browser's when the API takes it, else one from the file name's extension. */
export function contentTypeOf(file) {
  if (ACCEPTED.has(file.type)) return file.type;
  const ext = (file.name.split(".").pop() || "").toLowerCase();
  return CONTENT_TYPES[ext] || file.type || undefined;
}

/** MIDI pitch → a note name with its octave (60 → "C4"). */
export function noteName(pitch) {
  return `${NOTE_NAMES[((pitch % 12) + 12) % 12]}${Math.floor(pitch / 12) - 1}`;
}

/** A chord label in mir_eval syntax as a musician writes it: "A:min" → "Am", "G:7" → "G7", "N" → "no chord". */
export function chordName(label) {
  if (!label || label === "N" || label === "X") return "no chord";
  const [root, quality = "maj"] = label.split(":");
  const [kind, bass] = quality.split("/");
  const suffix = kind in CHORD_QUALITIES ? CHORD_QUALITIES[kind] : kind;
  return `${root}${suffix}${bass ? `/${bass}` : ""}`;
}

export function keyName(key) {
  return key && key.tonic ? `${key.tonic} ${key.mode}` : "–";
}

function tuningText(tuning) {
  if (!tuning) return "";
  const strings = Array.isArray(tuning.strings) ? ` (${tuning.strings.join(" ")})` : "";
  return `${tuning.name}${strings}`;
}

/** "66 notes from C3 to E5 over 0:23", or what there is when there are none. */
export function notesSummary(notes) {
  if (!notes.length) return "No notes were found.";
  const pitches = notes.map((n) => n.pitch);
  const end = Math.max(...notes.map((n) => n.end));
  return `${notes.length} notes from ${noteName(Math.min(...pitches))} to ${noteName(Math.max(...pitches))} ` +
    `over ${formatSeconds(end)}`;
}

// --- views --------------------------------------------------------------------------------------------------

function uploadCard(onStarted) {
  let chosen = null;
  const file = h("input", {type: "file", name: "recording", accept: "audio/*,.mp3,.flac,.wav,.aif,.aiff,.ogg,.m4a"});
  const chosenText = h("p", {class: "muted", "aria-live": "polite"}, "No recording chosen yet.");
  const choose = (picked) => {
    chosen = picked || null;
    chosenText.textContent = chosen ? `Chosen: ${chosen.name} (${(chosen.size / 1e6).toFixed(1)} MB)` :
      "No recording chosen yet.";
  };
  file.addEventListener("change", () => choose(file.files[0]));
  const drop = h("div", {class: "drop"},
    h("p", {}, "Drop a recording here (MP3, FLAC, WAV, AIFF, OGG or M4A, up to 10 minutes), or choose one."),
    field("Recording", file), chosenText);
  drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    choose(event.dataTransfer.files[0]);
  });
  const instrument = h("select", {name: "instrument"},
    INSTRUMENTS.map(([value, label]) => h("option", {value}, label)));
  const tuning = h("select", {name: "tuning"}, h("option", {value: ""}, "My default tuning"),
    TUNINGS.map(([value, label]) => h("option", {value}, label)));
  const capo = h("input", {type: "number", name: "capo", min: 0, max: 12, step: 1, value: "0", inputmode: "numeric"});
  const problem = h("div");
  const submit = h("button", {type: "submit", class: "primary"}, "Transcribe");
  const form = h("form", {class: "card", "aria-labelledby": "listen-upload"},
    h("h2", {id: "listen-upload"}, "Transcribe a recording"),
    drop,
    h("div", {class: "grid"}, field("Instrument", instrument), field("Guitar tuning", tuning),
      field("Capo", capo, "Fret 0 (none) to 12")),
    problem, submit);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    fill(problem);
    if (!chosen) { fill(problem, errorBox("choose a recording first")); return; }
    submit.disabled = true;
    try {
      const body = {instrument: instrument.value, contentType: contentTypeOf(chosen), sizeBytes: chosen.size,
        capo: Number.parseInt(capo.value || "0", 10)};
      if (tuning.value) body.tuning = tuning.value;
      const created = await api("/transcriptions", {method: "POST", body});
      submit.textContent = "Uploading…";
      await uploadWithForm(created.upload, chosen);
      toast("Uploaded; transcribing");
      onStarted(created.transcriptionId);
    } catch (error) {
      fill(problem, errorBox(error));
    } finally {
      submit.disabled = false;
      submit.textContent = "Transcribe";
    }
  });
  return form;
}

function facts(record) {
  const key = record.key;
  const keyDetail = key && key.tonic ? [
    typeof key.confidence === "number" ? ` (confidence ${Math.round(key.confidence * 100)} %)` : "",
    key.alternatives && key.alternatives.length ?
      h("small", {class: "muted"}, ` or ${key.alternatives.map(keyName).join(", ")}`) : null] : [];
  const item = (name, ...value) => [h("dt", {}, name), h("dd", {}, ...value)];
  return h("dl", {class: "listen-facts"},
    item("Key", h("span", {class: "listen-key"}, keyName(key)), ...keyDetail),
    item("Tempo", h("span", {class: "listen-tempo"},
      typeof record.tempoBpm === "number" ? `${Math.round(record.tempoBpm)} BPM` : "–")),
    item("Meter", h("span", {class: "listen-meter"}, record.timeSignature || "–")),
    item("Length", formatSeconds(record.durationSeconds)),
    item("Instrument", record.instrument || "–"));
}

function chordsView(chords) {
  const shown = chords.filter((c) => c.label && c.label !== "N");
  if (!shown.length) return h("p", {class: "muted"}, "No chords were found.");
  return h("ol", {class: "listen-chords", "aria-label": "Chords over time"},
    shown.map((c) => h("li", {},
      h("span", {class: "time"}, formatSeconds(c.start)), " ",
      h("strong", {class: "chord", title: c.label}, chordName(c.label)))));
}

/** A piano roll: time across, pitch up; drawn at the canvas's shown width. */
function drawPianoRoll(canvas, notes) {
  const ctx = canvas.getContext("2d");
  if (!ctx || !notes.length) return;
  const ratio = window.devicePixelRatio || 1;
  const width = Math.max(canvas.clientWidth, 200);
  const height = Math.max(canvas.clientHeight, 120);
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(height * ratio);
  ctx.scale(ratio, ratio);
  const low = Math.min(...notes.map((n) => n.pitch)) - 1;
  const high = Math.max(...notes.map((n) => n.pitch)) + 1;
  const end = Math.max(...notes.map((n) => n.end)) || 1;
  const row = height / (high - low + 1);
  ctx.fillStyle = "#f1f0fb";
  ctx.fillRect(0, 0, width, height);
  for (let pitch = low; pitch <= high; pitch += 1) {
    if (pitch % 12 === 0) {
      ctx.fillStyle = "#d6d6df";
      ctx.fillRect(0, height - (pitch - low) * row, width, 1); // the bottom of each C's row
    }
  }
  for (const note of notes) {
    const alpha = 0.45 + 0.55 * Math.min(1, (note.velocity || 64) / 127);
    ctx.fillStyle = `rgba(60, 47, 191, ${alpha.toFixed(2)})`;
    const x = (note.start / end) * width;
    const w = Math.max(2, ((note.end - note.start) / end) * width);
    ctx.fillRect(x, height - (note.pitch - low + 1) * row, w, Math.max(2, row - 1));
  }
}

function notesView(notes) {
  const summary = notesSummary(notes);
  const canvas = h("canvas", {class: "listen-roll", role: "img", "aria-label": `Piano roll: ${summary}`});
  const first = notes.slice(0, 8);
  const table = first.length ? h("div", {class: "table-wrap", tabindex: 0, role: "region", "aria-label": "The first notes"}, h("table", {},
    h("caption", {class: "muted"}, `The first ${first.length} notes`),
    h("thead", {}, h("tr", {}, h("th", {scope: "col"}, "Start"), h("th", {scope: "col"}, "Length"),
      h("th", {scope: "col"}, "Note"), h("th", {scope: "col"}, "Velocity"))),
    h("tbody", {}, first.map((n) => h("tr", {}, h("td", {}, `${n.start.toFixed(2)} s`),
      h("td", {}, `${(n.end - n.start).toFixed(2)} s`), h("td", {}, noteName(n.pitch)), h("td", {}, n.velocity)))))) :
    null;
  return {root: h("div", {}, h("p", {class: "listen-notes-summary"}, summary), canvas, table), canvas};
}

function downloadsView(links) {
  const items = [
    [links.midiUrl, "MIDI (notes)", "listen-midi"],
    [links.tabUrl, "Tab (text)", "listen-tab-text"],
    [links.tabFileUrl, "Tab (Guitar Pro 5)", "listen-tab-gp5"],
    [links.resultUrl, "Whole analysis (JSON)", "listen-json"],
  ].filter(([url]) => url);
  if (!items.length) return h("p", {class: "muted"}, "Nothing to download yet.");
  return h("ul", {class: "listen-downloads"},
    items.map(([url, label, cls]) => h("li", {}, h("a", {href: url, class: cls, download: "", rel: "noopener"}, label))));
}

async function fetchTabText(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`the tab could not be read (HTTP ${response.status})`);
  return response.text();
}

/** The tab, and the form that places the same notes again for another tuning or capo. */
function tabSection(record, result, links, onLinks) {
  const pre = h("pre", {class: "tab", tabindex: "0", "aria-label": "Guitar tab"}, "Loading the tab…");
  const unplaced = h("p", {class: "muted"});
  const problem = h("div");
  const showTab = async (url, tab) => {
    fill(problem);
    const missing = (tab && tab.unplaced) || [];
    unplaced.textContent = missing.length ?
      `${missing.length} notes could not be placed on the fretboard (out of range or too many at once).` : "";
    if (!url) { pre.textContent = "No tab was written."; return; }
    try {
      pre.textContent = await fetchTabText(url);
    } catch (error) {
      fill(problem, errorBox(error));
    }
  };
  const current = (result.tab && result.tab.tuning) || record.tuning || {};
  const tuning = h("select", {name: "retab-tuning"},
    TUNINGS.map(([value, label]) => h("option", {value, selected: value === current.name}, label)),
    TUNINGS.some(([value]) => value === current.name) ? null :
      h("option", {value: (current.strings || []).join(" "), selected: true}, `Custom (${tuningText(current)})`));
  const capo = h("input", {type: "number", name: "retab-capo", min: 0, max: 12, step: 1, inputmode: "numeric",
    value: String((result.tab && result.tab.capo) ?? record.capo ?? 0)});
  const button = h("button", {type: "submit"}, "Re-tab");
  const form = h("form", {class: "row listen-retab", "aria-label": "Re-tab for another tuning or capo"},
    field("Tuning", tuning), field("Capo", capo, "Fret 0 (none) to 12"), button);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    fill(problem);
    button.disabled = true;
    try {
      const answer = await api(`/transcriptions/${record.transcriptionId}/tab`, {method: "POST",
        body: {tuning: tuning.value, capo: Number.parseInt(capo.value || "0", 10)}});
      onLinks({tabUrl: answer.tabUrl, tabFileUrl: answer.tabFileUrl});
      await showTab(answer.tabUrl, answer.tab);
      toast(`Re-tabbed for ${answer.tuning.name}${answer.capo ? `, capo ${answer.capo}` : ""}`);
    } catch (error) {
      fill(problem, errorBox(error));
    } finally {
      button.disabled = false;
    }
  });
  showTab(links.tabUrl, result.tab);
  return h("section", {"aria-labelledby": "listen-tab-h"}, h("h3", {id: "listen-tab-h"}, "Guitar tab"),
    form, problem, unplaced, pre);
}

/** One transcription: its progress, then its results or its failure. Returns a stop function. */
function transcriptionView(container, id, onChanged) {
  let stopFollow = null;
  let gone = false;
  const progress = progressView("Transcription");
  const body = h("div");
  const remove = h("button", {type: "button", class: "danger"}, "Delete");
  remove.addEventListener("click", async () => {
    if (!confirm("Delete this transcription and its files?")) return;
    try {
      await api(`/transcriptions/${id}`, {method: "DELETE"});
      toast("Transcription deleted");
      location.hash = "#/listen";
    } catch (error) {
      body.prepend(errorBox(error));
    }
  });
  fill(container, h("section", {class: "card", "aria-labelledby": "listen-one"},
    h("div", {class: "row listen-head"}, h("h2", {id: "listen-one"}, "Transcription"), remove,
      h("a", {href: "#/listen"}, "Transcribe another recording")),
    progress.root, body));

  const showComplete = async (record) => {
    let result;
    try {
      result = await api(`/transcriptions/${id}/result`);
    } catch (error) {
      fill(body, errorBox(error));
      return;
    }
    if (gone) return;
    const links = {midiUrl: record.midiUrl, tabUrl: record.tabUrl, tabFileUrl: record.tabFileUrl,
      resultUrl: record.resultUrl};
    const downloads = h("div", {}, downloadsView(links));
    const onLinks = (changed) => { Object.assign(links, changed); fill(downloads, downloadsView(links)); };
    const notes = notesView(result.notes || []);
    fill(body, facts(record),
      h("section", {"aria-labelledby": "listen-chords-h"}, h("h3", {id: "listen-chords-h"}, "Chords"),
        chordsView(result.chords || [])),
      h("section", {"aria-labelledby": "listen-notes-h"}, h("h3", {id: "listen-notes-h"}, "Notes"), notes.root),
      tabSection(record, result, links, onLinks),
      h("section", {"aria-labelledby": "listen-dl-h"}, h("h3", {id: "listen-dl-h"}, "Downloads"), downloads));
    drawPianoRoll(notes.canvas, result.notes || []);
  };

  const show = async (record, announce = false) => {
    if (gone) return;
    progress.update(record);
    if (record.status === "COMPLETE") {
      await showComplete(record);
      if (announce) toast("Transcription complete");
    } else if (record.status === "FAILED") {
      fill(body, h("p", {class: "error", role: "alert"},
        record.failedStage ? `Failed at ${record.failedStage}: ` : "Failed: ", record.errorMessage || "unknown error"));
      if (announce) toast("Transcription failed", "error");
    } else if (record.errorMessage) {
      fill(body, h("p", {class: "error", role: "alert"}, record.errorMessage));
    } else {
      fill(body, h("p", {class: "muted"}, "Transcribing: the key, tempo, chords, notes and tab appear here."));
    }
  };

  const load = () => api(`/transcriptions/${id}`);
  load().then((record) => {
    if (gone) return;
    show(record);
    if (FINAL.has(record.status)) return;
    stopFollow = follow("transcription", id, {
      poll: load,
      onUpdate: async (update) => {
        progress.update(update);
        if (FINAL.has(update.status)) {
          // A push carries the status only; the record has the results and the message.
          try {
            await show(update.transcriptionId ? update : await load(), true);
          } catch (error) {
            fill(body, errorBox(error));
          }
          onChanged();
        }
      },
    });
  }, (error) => { if (!gone) fill(body, errorBox(error)); });

  return () => { gone = true; if (stopFollow) stopFollow(); };
}

/** The caller's transcriptions, newest first, a page at a time. */
function historyView(container, openId) {
  const rows = h("tbody");
  const problem = h("div");
  const more = h("button", {type: "button", hidden: true}, "Show more");
  let cursor = null;
  const row = (item) => {
    const remove = h("button", {type: "button", class: "danger",
      "aria-label": `Delete the transcription of ${formatDate(item.createdAt)}`}, "Delete");
    const tr = h("tr", {dataset: {id: item.transcriptionId}},
      h("td", {}, h("a", {href: `#/listen/${item.transcriptionId}`,
        "aria-current": item.transcriptionId === openId ? "page" : null}, formatDate(item.createdAt))),
      h("td", {}, h("span", {class: "pill"}, item.status)),
      h("td", {}, keyName(item.key)),
      h("td", {}, typeof item.tempoBpm === "number" ? `${Math.round(item.tempoBpm)} BPM` : "–"),
      h("td", {}, remove));
    remove.addEventListener("click", async () => {
      if (!confirm("Delete this transcription and its files?")) return;
      try {
        await api(`/transcriptions/${item.transcriptionId}`, {method: "DELETE"});
        tr.remove();
        toast("Transcription deleted");
        if (item.transcriptionId === openId) location.hash = "#/listen";
      } catch (error) {
        fill(problem, errorBox(error));
      }
    });
    return tr;
  };
  const load = async (reset) => {
    fill(problem);
    try {
      const page = await api("/transcriptions", {query: {limit: PAGE_SIZE, cursor: reset ? null : cursor}});
      if (reset) fill(rows);
      rows.append(...page.items.map(row));
      cursor = page.nextCursor || null;
      more.hidden = !cursor;
      empty.textContent = "No transcriptions yet.";
      empty.hidden = rows.children.length > 0;
      table.hidden = rows.children.length === 0;
    } catch (error) {
      fill(problem, errorBox(error));
    }
  };
  more.addEventListener("click", () => load(false));
  const empty = h("p", {class: "muted", role: "status"}, "Loading your transcriptions…");
  const table = h("div", {class: "table-wrap", tabindex: 0, role: "region", "aria-label": "Your transcriptions", hidden: true}, h("table", {class: "listen-history"},
    h("thead", {}, h("tr", {}, ...["Created", "Status", "Key", "Tempo"].map((name) => h("th", {scope: "col"}, name)),
      h("th", {scope: "col"}, h("span", {class: "visually-hidden"}, "Actions")))), rows));
  fill(container, h("section", {class: "card", "aria-labelledby": "listen-history-h"},
    h("h2", {id: "listen-history-h"}, "Your transcriptions"), problem, empty, table, more));
  load(true);
  return () => load(true);
}

export function render(main, params) {
  useStyles("listen");
  const openId = params[0] || null;
  const top = h("div");
  const history = h("div");
  main.append(h("h1", {}, "Listen"),
    h("p", {class: "muted"}, "Upload a recording to get its key, tempo, meter, chords, notes and a guitar tab."),
    top, history);
  const refresh = historyView(history, openId);
  if (!openId) {
    top.append(uploadCard((id) => { location.hash = `#/listen/${encodeURIComponent(id)}`; }));
    return null;
  }
  return transcriptionView(top, openId, refresh);
}
