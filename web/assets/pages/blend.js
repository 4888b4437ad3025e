// Blend: search the song catalog, pick three songs, say how much of each and how wild, and hear the new piece
// (docs/blend.md). Routes: GET /songs, POST/GET/DELETE /blends. #/blend/<blendId> opens one blend.
import {api} from "../lib/api.js";
import {errorBox, field, fill, formatDate, formatSeconds, h, progressView, toast, useStyles} from "../lib/dom.js";
import {follow} from "../lib/live.js";

export const title = "Blend";

const SONGS_PER_BLEND = 3;
const SEARCH_PAGE = 10;
const HISTORY_PAGE = 10;
const GENRES = ["folk", "classical", "pop", "rock", "jazz", "electronic"];
const FINAL = new Set(["COMPLETE", "FAILED"]);
// The API's bounds (functions/blend/blends_api/app.py, BlendRequest).
const WEIGHT = {min: 0.1, max: 100, step: 0.1, value: 1};
const TEMPERATURE = {min: 0.1, max: 2, step: 0.1, value: 0.8};
const CREATIVITY = {min: 0, max: 1, step: 0.05, value: 0.7};
const LENGTH = {min: 15, max: 300, step: 1, value: 120};
const SEED_MAX = 2 ** 31 - 1;

// Songs seen in searches while the app is open: a blend names its songs, the catalog says where they come from.
const knownSongs = new Map();

// --- small pure helpers --------------------------------------------------------------------------------
export function songFacts(song) {
  const tempo = typeof song.tempoBpm === "number" ? `${Math.round(song.tempoBpm)} bpm` : null;
  const length = typeof song.durationSeconds === "number" ? formatSeconds(song.durationSeconds) : null;
  return [song.key, song.timeSignature, tempo, length].filter(Boolean).join(" · ");
}

export function percent(share) {
  return typeof share === "number" ? `${Math.round(share * 100)} %` : "–";
}

/** Each weight's share of the total (what the API normalises them to); zeros when they do not add up. */
export function shares(weights) {
  const total = weights.reduce((sum, w) => sum + (Number.isFinite(w) && w > 0 ? w : 0), 0);
  return weights.map((w) => (total > 0 && Number.isFinite(w) && w > 0 ? w / total : 0));
}

function numberOrUndefined(text) {
  const trimmed = String(text ?? "").trim();
  return trimmed === "" ? undefined : Number(trimmed);
}

/** The POST /blends body from the chosen songs and the form's values (as typed: the API judges them). */
export function blendRequest(chosen, knobs) {
  const body = {
    songs: chosen.map((c) => c.songId),
    weights: chosen.map((c) => numberOrUndefined(c.weight) ?? WEIGHT.value),
    temperature: numberOrUndefined(knobs.temperature),
    creativity: numberOrUndefined(knobs.creativity),
    lengthSeconds: numberOrUndefined(knobs.lengthSeconds),
    genre: knobs.genre || undefined,
    seed: numberOrUndefined(knobs.seed),
  };
  return Object.fromEntries(Object.entries(body).filter(([, value]) => value !== undefined));
}

export function blendName(blend) {
  return (blend.songs || []).map((s) => s.title || s.songId).join(" + ") || blend.blendId;
}

function optionsLine(options) {
  if (!options) return "";
  return [
    `temperature ${options.temperature}`, `creativity ${options.creativity}`, `${options.lengthSeconds} s`,
    `genre: ${options.genre || "from the songs"}`, `seed ${options.seed}`,
  ].join(" · ");
}

function blendHref(blendId) {
  return `#/blend/${encodeURIComponent(blendId)}`;
}

// --- the page ----------------------------------------------------------------------------------------------
export function render(main, params = []) {
  useStyles("blend");
  const chosen = [];            // [{song, weight: <input>}]
  const search = searchSection({isChosen, canAdd: () => chosen.length < SONGS_PER_BLEND, add});
  const selection = h("ol", {class: "selection"});
  const selectionStatus = h("p", {class: "hint", id: "blend-selection-hint"});
  const knobs = knobsSection();
  const createProblem = h("div");
  const createButton = h("button", {type: "submit", class: "primary", "aria-describedby": selectionStatus.id},
    "Create blend");
  const result = resultSection({onFinished: () => past.reload()});
  const past = historySection({
    onDeleted(blendId) {
      if (result.current() === blendId) {
        result.clear();
        window.history.replaceState(null, "", "#/blend");
      }
    },
  });

  const form = h("form", {class: "card", novalidate: true, "aria-labelledby": "blend-songs"},
    h("h2", {id: "blend-songs"}, "Your songs"),
    selection, selectionStatus,
    knobs.root,
    createProblem,
    createButton);
  form.addEventListener("submit", (event) => { event.preventDefault(); create(); });

  main.append(h("div", {class: "blend-page"},
    h("h1", {}, "Blend"),
    h("p", {}, "Pick three songs from the catalog, say how much of each you want and how wild it may get, and "
      + "get one new piece that carries something of each."),
    search.root, form, result.root, past.root));
  showSelection();
  past.reload();
  if (params[0]) {
    result.show(params[0]);
    result.root.scrollIntoView({block: "start"});
  }

  function isChosen(songId) { return chosen.some((c) => c.song.songId === songId); }

  function add(song) {
    if (isChosen(song.songId) || chosen.length >= SONGS_PER_BLEND) return;
    const weight = h("input", {type: "number", inputmode: "decimal", min: WEIGHT.min, max: WEIGHT.max,
                               step: WEIGHT.step, value: String(WEIGHT.value), class: "weight"});
    weight.addEventListener("input", showShares);
    chosen.push({song, weight});
    showSelection();
    toast(`${song.title} added (${chosen.length} of ${SONGS_PER_BLEND})`);
  }

  function remove(songId) {
    const at = chosen.findIndex((c) => c.song.songId === songId);
    if (at < 0) return;
    const [gone] = chosen.splice(at, 1);
    showSelection();
    toast(`${gone.song.title} removed`);
  }

  function showSelection() {
    fill(selection, chosen.map(({song, weight}) => {
      const weightField = field("Weight", weight);
      weight.setAttribute("aria-label", `Weight of ${song.title}`);
      return h("li", {dataset: {songId: song.songId}},
        h("div", {class: "song-text"}, h("strong", {}, song.title), song.artist ? ` — ${song.artist}` : "",
          h("small", {class: "muted"}, songFacts(song))),
        h("div", {class: "row weight-row"}, weightField,
          h("span", {class: "share"}, "")),
        h("button", {type: "button", "aria-label": `Remove ${song.title}`, onclick: () => remove(song.songId)},
          "Remove"));
    }));
    selection.hidden = !chosen.length;
    const missing = SONGS_PER_BLEND - chosen.length;
    selectionStatus.textContent = missing > 0
      ? `${chosen.length} of ${SONGS_PER_BLEND} chosen: find ${missing} more above.`
      : "Three songs chosen. Weights are relative: 2, 1, 1 makes the first song half of the blend.";
    createButton.disabled = missing !== 0;
    showShares();
    search.refresh();
  }

  function showShares() {
    const parts = shares(chosen.map((c) => Number(c.weight.value)));
    selection.querySelectorAll(".share").forEach((el, i) => { el.textContent = `${percent(parts[i])} of the blend`; });
  }

  async function create() {
    createProblem.replaceChildren();
    const body = blendRequest(chosen.map((c) => ({songId: c.song.songId, weight: c.weight.value})), knobs.values());
    createButton.disabled = true;
    try {
      const started = await api("/blends", {method: "POST", body});
      window.history.replaceState(null, "", blendHref(started.blendId));
      toast("Blend started");
      result.show(started.blendId, {options: started.options, songs: chosen.map((c) => c.song)});
      result.focus();
      past.reload();
    } catch (error) {
      createProblem.append(errorBox(error));
    } finally {
      createButton.disabled = chosen.length !== SONGS_PER_BLEND;
    }
  }

  return () => { result.clear(); };
}

// --- search ------------------------------------------------------------------------------------------------
function searchSection({isChosen, canAdd, add}) {
  const box = h("input", {type: "search", name: "q", maxlength: 200, autocomplete: "off",
                          placeholder: "drowsy maggie"});
  const status = h("p", {class: "muted", role: "status"});
  const list = h("ul", {class: "song-results"});
  const more = h("button", {type: "button", hidden: true}, "More results");
  const problem = h("div");
  const rows = [];            // [{song, button}]
  let query = "";
  let cursor = null;

  const form = h("form", {id: "song-search", role: "search", "aria-label": "Search the catalog"},
    field("Title or artist", box, "Typos and any word order are fine. Search with an empty box to browse."),
    h("button", {type: "submit"}, "Search"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    query = box.value.trim();
    cursor = null;
    rows.length = 0;
    list.replaceChildren();
    load();
  });
  more.addEventListener("click", () => load());

  async function load() {
    problem.replaceChildren();
    status.textContent = "Searching…";
    try {
      const page = await api("/songs", {query: {q: query || undefined, limit: SEARCH_PAGE, cursor: cursor || undefined}});
      for (const song of page.items) {
        knownSongs.set(song.songId, song);
        list.append(songRow(song));
      }
      cursor = page.nextCursor;
      more.hidden = !cursor;
      status.textContent = rows.length ? `${rows.length} songs${cursor ? " so far" : ""}`
        : `No song matches “${query}”.`;
    } catch (error) {
      status.textContent = "";
      problem.append(errorBox(error));
    }
    refresh();
  }

  function songRow(song) {
    const button = h("button", {type: "button", "aria-label": `Add ${song.title}`, onclick: () => add(song)}, "Add");
    rows.push({song, button});
    return h("li", {dataset: {songId: song.songId}},
      h("div", {class: "song-text"},
        h("strong", {}, song.title), song.artist ? ` — ${song.artist}` : "",
        song.mine ? h("span", {class: "pill"}, "yours") : null,
        h("small", {class: "muted"}, songFacts(song))),
      button);
  }

  function refresh() {
    for (const {song, button} of rows) {
      const picked = isChosen(song.songId);
      button.disabled = picked || !canAdd();
      button.textContent = picked ? "Added" : "Add";
    }
  }

  const root = h("section", {class: "card", "aria-labelledby": "blend-search"},
    h("h2", {id: "blend-search"}, "Find songs"), form, problem, status, list, more);
  return {root, refresh};
}

// --- the knobs ---------------------------------------------------------------------------------------------
function rangeField(label, bounds, hint) {
  const input = h("input", {type: "range", min: bounds.min, max: bounds.max, step: bounds.step,
                            value: String(bounds.value)});
  const shown = h("output", {"aria-hidden": "true"}, String(bounds.value));
  input.addEventListener("input", () => { shown.textContent = input.value; });
  const wrapper = field(label, input, hint);
  const row = h("div", {class: "row range-row"});
  input.replaceWith(row);
  row.append(input, shown);
  return {wrapper, input};
}

function knobsSection() {
  const temperature = rangeField("Temperature", TEMPERATURE,
    "0.1–2.0. Below 1 keeps to each song's likeliest next notes; above 1 takes more surprises.");
  const creativity = rangeField("Creativity", CREATIVITY,
    "0–1. 0 stays close to the songs (copies of up to 4 bars); 1 wanders (at most 1 bar).");
  const length = h("input", {type: "number", inputmode: "numeric", min: LENGTH.min, max: LENGTH.max,
                             step: LENGTH.step, value: String(LENGTH.value), name: "lengthSeconds"});
  const genre = h("select", {name: "genre"}, h("option", {value: ""}, "From the songs"),
    GENRES.map((g) => h("option", {value: g}, g[0].toUpperCase() + g.slice(1))));
  const seed = h("input", {type: "number", inputmode: "numeric", min: 0, max: SEED_MAX, step: 1, name: "seed",
                           placeholder: "random"});
  const root = h("fieldset", {class: "knobs"}, h("legend", {}, "How to blend"),
    h("div", {class: "grid"},
      temperature.wrapper, creativity.wrapper,
      field("Length (seconds)", length, `${LENGTH.min}–${LENGTH.max} s`),
      field("Genre", genre, "Instruments and groove"),
      field("Seed", seed, "Optional. The same songs, settings and seed give the same piece.")));
  return {
    root,
    values: () => ({temperature: temperature.input.value, creativity: creativity.input.value,
                    lengthSeconds: length.value, genre: genre.value, seed: seed.value}),
  };
}

// --- one blend: progress, then the piece, its files and what is in it ----------------------------------------
function resultSection({onFinished}) {
  const root = h("section", {class: "card blend-result", "aria-labelledby": "blend-result", hidden: true});
  let shownId = null;
  let stop = null;

  function clear() {
    if (stop) { stop(); stop = null; }
    shownId = null;
    root.hidden = true;
    root.replaceChildren();
  }

  function show(blendId, hint = {}) {
    clear();
    shownId = blendId;
    const heading = h("h2", {id: "blend-result", tabindex: -1},
      hint.songs ? blendName({songs: hint.songs}) : "Blend");
    const progress = progressView("Blend");
    const settings = h("p", {class: "muted"}, optionsLine(hint.options));
    const details = h("div");
    fill(root, heading, progress.root, settings, details);
    root.hidden = false;
    const poll = () => api(`/blends/${encodeURIComponent(blendId)}`);

    // followed: the blend finished while the page watched it (announce it, refresh the list), not opened finished
    const finish = async (update, followed) => {
      let record = update;
      try {
        if (!record.blendId) record = await poll();
      } catch (error) {
        details.append(errorBox(error));
        return;
      }
      if (shownId !== blendId) return;
      heading.textContent = blendName(record);
      settings.textContent = optionsLine(record.options);
      progress.update(record);
      const shown = record.status === "COMPLETE" ? await completed(record) : failed(record);
      if (shownId !== blendId) return;
      fill(details, shown);
      if (!followed) return;
      if (record.status === "COMPLETE") toast("Blend ready");
      else toast(`Blend failed: ${record.errorMessage || "no reason given"}`, "error");
      onFinished();
    };

    poll().then((record) => {
      if (shownId !== blendId) return;
      heading.textContent = blendName(record);
      settings.textContent = optionsLine(record.options);
      progress.update(record);
      if (FINAL.has(record.status)) {
        fill(details);
        finish(record, false).catch((error) => details.append(errorBox(error)));
        return;
      }
      stop = follow("blend", blendId, {
        poll,
        onUpdate(update) {
          progress.update(update);
          if (FINAL.has(update.status)) finish(update, true).catch((error) => details.append(errorBox(error)));
        },
      });
    }, (error) => { progress.root.hidden = true; details.append(errorBox(error)); });
  }

  /** Bring a new blend into view (and keyboard focus): it appears below the form. */
  function focus() {
    const heading = root.querySelector("h2");
    if (!heading) return;
    heading.focus({preventScroll: true});
    root.scrollIntoView({block: "start"});
  }

  return {root, show, clear, focus, current: () => shownId};
}

function failed(record) {
  const where = record.failedStage ? ` (at ${record.failedStage})` : "";
  return errorBox({message: `${record.errorMessage || "The blend failed."}${where}`});
}

async function completed(record) {
  const name = blendName(record);
  const facts = [record.key, record.timeSignature,
    typeof record.tempoBpm === "number" ? `${Math.round(record.tempoBpm)} bpm` : null,
    formatSeconds(record.durationSeconds)].filter(Boolean).join(" · ");
  const downloads = h("p", {class: "row downloads"},
    record.audioUrl ? h("a", {href: record.audioUrl, target: "_blank", rel: "noopener"}, "Download MP3") : null,
    record.midiUrl ? h("a", {href: record.midiUrl}, "Download MIDI") : null);
  return [
    h("p", {}, facts),
    record.audioUrl ? h("audio", {controls: true, preload: "metadata", src: record.audioUrl,
                                  "aria-label": `The blend of ${name}`}) : null,
    downloads,
    h("h3", {}, "What is in it"),
    await attribution(record),
    novelty(record),
  ];
}

/** Where a blend's songs come from: the catalog's own words (seen in a search, else read once). */
async function sources(songs) {
  const missing = songs.filter((s) => !knownSongs.has(s.songId));
  await Promise.all(missing.map(async (s) => {
    try { knownSongs.set(s.songId, await api(`/songs/${encodeURIComponent(s.songId)}`)); } catch { /* title only */ }
  }));
  return songs.map((s) => knownSongs.get(s.songId) || null);
}

async function attribution(record) {
  const songs = record.songs || [];
  const found = await sources(songs);
  const shares = record.attribution || {};
  return h("ul", {class: "attribution"}, songs.map((song, i) => {
    const source = found[i];
    const origin = source ? [source.collection, source.source].filter(Boolean).join(" · ") : "";
    return h("li", {dataset: {songId: song.songId}},
      h("strong", {}, song.title || song.songId), song.artist ? ` — ${song.artist}` : "",
      h("div", {}, `Asked for ${percent(song.weight)}, traced in the blend: ${percent(shares[song.songId])}`),
      origin ? h("div", {class: "muted"}, `From ${origin}`) : null,
      source && source.licence ? h("div", {class: "muted"}, `Licence: ${source.licence}`) : null);
  }));
}

function novelty(record) {
  const parts = [];
  const n = record.novelty;
  if (n) {
    parts.push(h("p", {}, `Longest passage taken from one song: ${Math.round(n.longestCopiedBars * 100) / 100} bars. `
      + `New four-note phrases: ${percent(n.newPhraseShare)}.`));
  }
  const gates = Object.entries(record.gates || {});
  if (gates.length) {
    parts.push(h("p", {class: "row gates"}, h("span", {}, "Checks:"),
      gates.map(([gate, result]) => h("span", {class: "pill", dataset: {passed: String(!!result.passed)}},
        `${gate} ${result.passed ? "passed" : "failed"}`))));
  }
  if (record.attempts > 1) parts.push(h("p", {class: "muted"}, `Composed ${record.attempts} times to pass them.`));
  return parts;
}

// --- past blends -------------------------------------------------------------------------------------------
function historySection({onDeleted}) {
  const body = h("tbody");
  const table = h("div", {class: "table-wrap", tabindex: 0, role: "region", "aria-label": "Your blends"}, h("table", {},
    h("caption", {class: "muted"}, "Newest first; blends are kept for 7 days."),
    h("thead", {}, h("tr", {}, h("th", {scope: "col"}, "Songs"), h("th", {scope: "col"}, "Status"),
      h("th", {scope: "col"}, "Created"), h("th", {scope: "col"}, h("span", {class: "visually-hidden"}, "Actions")))),
    body));
  const empty = h("p", {class: "muted"}, "No blends yet.");
  const more = h("button", {type: "button", hidden: true}, "More blends");
  const problem = h("div");
  let cursor = null;
  let generation = 0;

  async function load(reset) {
    const mine = reset ? ++generation : generation;
    problem.replaceChildren();
    try {
      const page = await api("/blends", {query: {limit: HISTORY_PAGE, cursor: reset ? undefined : cursor}});
      if (mine !== generation) return;
      if (reset) body.replaceChildren();
      for (const blend of page.items) body.append(row(blend));
      cursor = page.nextCursor;
      more.hidden = !cursor;
      empty.hidden = body.children.length > 0;
      table.hidden = body.children.length === 0;
    } catch (error) {
      problem.append(errorBox(error));
    }
  }

  function row(blend) {
    const name = blendName(blend);
    const remove = h("button", {type: "button", class: "danger", "aria-label": `Delete the blend of ${name}`},
      "Delete");
    remove.addEventListener("click", async () => {
      if (!window.confirm(`Delete the blend of ${name}? Its audio and MIDI go too.`)) return;
      remove.disabled = true;
      problem.replaceChildren();
      try {
        await api(`/blends/${encodeURIComponent(blend.blendId)}`, {method: "DELETE"});
        toast("Blend deleted");
        onDeleted(blend.blendId);
        await load(true);
      } catch (error) {
        remove.disabled = false;
        problem.append(errorBox(error));
      }
    });
    return h("tr", {dataset: {blendId: blend.blendId}},
      h("td", {}, h("a", {href: blendHref(blend.blendId)}, name)),
      h("td", {}, h("span", {class: "pill", dataset: {status: blend.status}}, blend.status)),
      h("td", {}, formatDate(blend.createdAt)),
      h("td", {}, remove));
  }

  more.addEventListener("click", () => load(false));
  const root = h("section", {class: "card", "aria-labelledby": "blend-history"},
    h("h2", {id: "blend-history"}, "Your blends"), problem, empty, table, more);
  table.hidden = true;
  return {root, reload: () => load(true)};
}
