// The track library (docs/library.md): upload audio files with presigned forms, follow each one from PROCESSING to
// READY or FAILED, search and page through the library, play a track, edit its tags and delete it.
import {api, uploadWithForm} from "../lib/api.js";
import {errorBox, field, fill, formatSeconds, h, progressView, toast, useStyles} from "../lib/dom.js";
import {follow} from "../lib/live.js";

export const title = "Library";

const PAGE_SIZE = 25;
const FORMS_PER_REQUEST = 50; // POST /tracks/uploads takes 1–50 files
const FINAL = new Set(["READY", "FAILED"]);
const TYPES_BY_EXTENSION = {
  mp3: "audio/mpeg", flac: "audio/flac", wav: "audio/wav", aif: "audio/aiff", aiff: "audio/aiff",
  ogg: "audio/ogg", oga: "audio/ogg", m4a: "audio/mp4", mp4: "audio/mp4",
};
const EDITABLE = ["name", "artist", "album"];

/** The content type to ask a form for: the browser's, else one guessed from the name (the API names a bad one). */
export function contentTypeOf(file) {
  if (file.type) return file.type;
  const extension = (file.name.split(".").pop() || "").toLowerCase();
  return TYPES_BY_EXTENSION[extension] || "application/octet-stream";
}

export function inBatches(items, size) {
  const batches = [];
  for (let i = 0; i < items.length; i += size) batches.push(items.slice(i, i + size));
  return batches;
}

export function trackTitle(track) {
  return track.name || track.fileName;
}

/** An API error about `files.N.…` also names the file it is about. */
export function namingTheFile(error, files) {
  const index = /^files\.(\d+)\./.exec(error.field || "");
  const file = index && files[Number(index[1])];
  return file ? new Error(`${file.name}: ${error.message}`) : error;
}

export function parseTags(text) {
  return text.split(",").map((tag) => tag.trim()).filter(Boolean);
}

/** What PATCH /tracks/{id} should change: only edited fields; an emptied field is null (cleared). */
export function tagChanges(track, values) {
  const changes = {};
  for (const key of EDITABLE) {
    const value = values[key].trim();
    if (value !== (track[key] || "")) changes[key] = value || null;
  }
  const tags = parseTags(values.tags);
  if (tags.join(",") !== (track.tags || []).join(",")) changes.tags = tags.length ? tags : null;
  return changes;
}

export function render(main) {
  useStyles("library");
  const rows = new Map(); // trackId -> {track, row}
  const watching = new Map(); // trackId -> stop following it
  let cursor = null;
  let playingId = null;
  let search = {q: "", artist: ""};

  // --- upload
  const files = h("input", {type: "file", multiple: true, accept: "audio/*", name: "files"});
  const uploadProblem = h("div");
  const uploads = h("ul", {class: "uploads", "aria-label": "Uploads"});
  const drop = h("div", {class: "drop"},
    h("p", {}, "Drop audio files here, or choose them:"),
    field("Audio files", files, "MP3, FLAC, WAV, AIFF, OGG or M4A; up to 200 MB each"));
  files.addEventListener("change", () => {
    upload([...files.files]);
    files.value = "";
  });
  drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    upload([...event.dataTransfer.files]);
  });

  // --- player
  const audio = h("audio", {controls: true, preload: "none", "aria-label": "Track player"});
  const playing = h("p", {class: "now-playing"});
  const player = h("section", {class: "card player", "aria-labelledby": "player-heading", hidden: true},
    h("h2", {id: "player-heading"}, "Now playing"), playing, audio);

  // --- the list
  const q = h("input", {type: "search", name: "q", autocomplete: "off"});
  const artist = h("input", {type: "text", name: "artist", autocomplete: "off"});
  const searchForm = h("form", {role: "search", class: "row search", "aria-label": "Search the library"},
    field("Search", q, "Title, artist, album, tags or file name"),
    field("Artist", artist, "Exact name, any case"),
    h("button", {type: "submit"}, "Search"));
  const body = h("tbody");
  const table = h("table", {},
    h("caption", {class: "muted"}, "Your tracks, newest first"),
    h("thead", {}, h("tr", {},
      ["Title", "Artist", "Album", "Duration", "Status", "Actions"].map((name) => h("th", {scope: "col"}, name)))),
    body);
  const empty = h("p", {class: "muted", hidden: true});
  const listProblem = h("div");
  const more = h("button", {type: "button", hidden: true, onclick: () => loadPage()}, "Load more");

  searchForm.addEventListener("submit", (event) => {
    event.preventDefault();
    search = {q: q.value.trim(), artist: artist.value.trim()};
    loadPage(true);
  });

  main.append(
    h("h1", {}, "Library"),
    h("section", {class: "card upload", "aria-labelledby": "upload-heading"},
      h("h2", {id: "upload-heading"}, "Upload"), drop, uploadProblem, uploads),
    player,
    h("section", {"aria-labelledby": "tracks-heading"},
      h("h2", {id: "tracks-heading"}, "Your tracks"), searchForm, listProblem,
      h("div", {class: "table-wrap", tabindex: 0, role: "region", "aria-label": "Your tracks"}, table), empty, more));

  async function loadPage(reset = false) {
    fill(listProblem);
    more.disabled = true;
    try {
      const answer = await api("/tracks", {query: {limit: PAGE_SIZE, q: search.q, artist: search.artist,
                                                   cursor: reset ? null : cursor}});
      if (reset) { body.replaceChildren(); rows.clear(); }
      for (const track of answer.items) showTrack(track, {atTop: false, followIt: true});
      cursor = answer.nextCursor;
      more.hidden = !cursor;
      const filtered = Boolean(search.q || search.artist);
      empty.hidden = rows.size > 0;
      empty.textContent = filtered ? "No track matches." : "No tracks yet: upload some above.";
    } catch (error) {
      listProblem.append(errorBox(error));
    } finally {
      more.disabled = false;
    }
  }

  // --- rows
  function showTrack(track, {atTop, followIt = false}) {
    const known = rows.get(track.trackId);
    const row = known ? fill(known.row, trackCells(track)) : h("tr", {dataset: {trackId: track.trackId}}, trackCells(track));
    if (!known && atTop) body.prepend(row);
    else if (!known) body.append(row);
    rows.set(track.trackId, {track, row});
    empty.hidden = true;
    if (track.trackId === playingId) showPlaying(track);
    if (followIt && track.status === "PROCESSING" && !known) watch(track.trackId);
  }

  function trackCells(track) {
    const name = trackTitle(track);
    const status = h("span", {class: "pill", dataset: {status: track.status}}, track.status);
    return [
      h("td", {}, h("span", {class: "title"}, name),
        track.name && track.name !== track.fileName ? h("small", {class: "muted file"}, track.fileName) : null),
      h("td", {}, track.artist || ""),
      h("td", {}, track.album || ""),
      h("td", {}, track.status === "READY" ? formatSeconds(track.durationSeconds) : ""),
      h("td", {}, status, track.errorMessage ? h("small", {class: "error-text"}, track.errorMessage) : null),
      h("td", {class: "actions"},
        h("button", {type: "button", disabled: track.status !== "READY", "aria-label": `Play ${name}`,
                     onclick: () => play(track.trackId)}, "Play"),
        h("button", {type: "button", "aria-label": `Edit ${name}`, onclick: (event) => edit(track, event.target)},
          "Edit"),
        h("button", {type: "button", class: "danger", "aria-label": `Delete ${name}`,
                     onclick: () => remove(track)}, "Delete")),
    ];
  }

  async function play(trackId) {
    fill(listProblem);
    try {
      const track = await api(`/tracks/${encodeURIComponent(trackId)}`);
      playingId = trackId;
      showPlaying(track);
      audio.src = track.streamUrl;
      player.hidden = false;
      audio.play().catch(() => toast("Press play on the player to listen."));
    } catch (error) {
      listProblem.append(errorBox(error));
    }
  }

  function showPlaying(track) {
    fill(playing, trackTitle(track), track.artist ? ` · ${track.artist}` : "");
  }

  function edit(track, opener) {
    const known = rows.get(track.trackId);
    if (!known || known.row.nextElementSibling?.classList.contains("editor")) return;
    const inputs = {
      name: h("input", {type: "text", name: "name", value: track.name || "", maxlength: 200}),
      artist: h("input", {type: "text", name: "artist", value: track.artist || "", maxlength: 200}),
      album: h("input", {type: "text", name: "album", value: track.album || "", maxlength: 200}),
      tags: h("input", {type: "text", name: "tags", value: (track.tags || []).join(", ")}),
    };
    const problem = h("div");
    const close = () => { editor.remove(); opener.focus(); };
    const form = h("form", {class: "edit", "aria-label": `Edit ${trackTitle(track)}`},
      h("div", {class: "grid"},
        field("Title", inputs.name), field("Artist", inputs.artist), field("Album", inputs.album),
        field("Tags", inputs.tags, "Separated by commas; an emptied field is cleared")),
      problem,
      h("div", {class: "row"},
        h("button", {type: "submit", class: "primary"}, "Save"),
        h("button", {type: "button", onclick: close}, "Cancel")));
    const editor = h("tr", {class: "editor"}, h("td", {colspan: 6}, form));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      fill(problem);
      const current = rows.get(track.trackId)?.track || track;
      const changes = tagChanges(current, Object.fromEntries(Object.entries(inputs).map(([k, el]) => [k, el.value])));
      if (!Object.keys(changes).length) { close(); return; }
      try {
        const updated = await api(`/tracks/${encodeURIComponent(track.trackId)}`, {method: "PATCH", body: changes});
        editor.remove();
        showTrack(updated, {atTop: false});
        rows.get(updated.trackId).row.querySelector(".actions button:nth-child(2)").focus();
        toast(`Saved “${trackTitle(updated)}”.`);
      } catch (error) {
        problem.append(errorBox(error));
      }
    });
    known.row.after(editor);
    inputs.name.focus();
  }

  async function remove(track) {
    const name = trackTitle(track);
    if (!confirm(`Delete “${name}”? Its audio and review history are removed.`)) return;
    fill(listProblem);
    try {
      await api(`/tracks/${encodeURIComponent(track.trackId)}`, {method: "DELETE"});
      const known = rows.get(track.trackId);
      if (known) {
        if (known.row.nextElementSibling?.classList.contains("editor")) known.row.nextElementSibling.remove();
        known.row.remove();
      }
      rows.delete(track.trackId);
      if (track.trackId === playingId) { audio.pause(); audio.removeAttribute("src"); player.hidden = true; }
      empty.hidden = rows.size > 0;
      toast(`Deleted “${name}”.`);
    } catch (error) {
      listProblem.append(errorBox(error));
    }
  }

  // --- uploading and following
  async function upload(chosen) {
    fill(uploadProblem);
    for (const batch of inBatches(chosen, FORMS_PER_REQUEST)) {
      let answer;
      try {
        answer = await api("/tracks/uploads", {method: "POST", body: {files: batch.map((file) => ({
          fileName: file.name, contentType: contentTypeOf(file), sizeBytes: file.size}))}});
      } catch (error) {
        uploadProblem.append(errorBox(namingTheFile(error, batch)));
        continue;
      }
      answer.files.forEach((form, i) => send(batch[i], form));
    }
  }

  async function send(file, form) {
    const progress = progressView(file.name);
    const note = h("div", {class: "note"});
    uploads.prepend(h("li", {}, h("span", {class: "file-name"}, file.name),
      form.replaces ? h("small", {class: "muted"}, " (replaces the track with this file name)") : null,
      progress.root, note));
    progress.update({status: "UPLOADING", stage: "sending", progress: 5});
    const known = rows.get(form.trackId);
    showTrack({...(known ? known.track : {fileName: file.name, tags: []}), trackId: form.trackId,
               status: "UPLOADING", errorMessage: null}, {atTop: !known});
    try {
      await uploadWithForm(form.upload, file);
    } catch (error) {
      progress.update({status: "FAILED", stage: "upload"});
      note.append(errorBox(error));
      return;
    }
    progress.update({status: "PROCESSING", stage: "uploaded", progress: 8});
    watch(form.trackId, {progress, note, fileName: file.name});
  }

  function watch(trackId, upload = null) {
    const following = watching.get(trackId);
    if (following && !upload) return;
    if (following) following();
    const path = `/tracks/${encodeURIComponent(trackId)}`;
    const stop = follow("track", trackId, {
      poll: () => api(path),
      onUpdate: (update) => {
        if (upload) upload.progress.update(update);
        if (FINAL.has(update.status) || update.status === "UNKNOWN") watching.delete(trackId);
        if (FINAL.has(update.status)) settle(trackId, path, update, upload);
      },
    });
    watching.set(trackId, stop);
  }

  async function settle(trackId, path, update, upload) {
    try {
      const track = "fileName" in update ? update : await api(path);
      if (rows.has(trackId)) showTrack(track, {atTop: false});
      if (track.status === "READY") toast(`“${trackTitle(track)}” is ready.`);
      else {
        toast(`${track.fileName} failed: ${track.errorMessage || "see the list"}`, "error");
        if (upload) upload.note.append(errorBox(new Error(track.errorMessage || "the track failed")));
      }
    } catch (error) {
      (upload ? upload.note : listProblem).append(errorBox(error));
    }
  }

  loadPage(true);
  return () => {
    for (const stop of watching.values()) stop();
    watching.clear();
    audio.pause();
  };
}
