// Drum maps (docs/maps.md): make a map of a library track or a catalog song and follow it to COMPLETE, read it as
// lanes over time at each difficulty, propose an edit of a public map as an RFC 6902 patch, vote on other people's
// edits in the verifier queue, and list or delete your own maps. #/maps is the overview, #/maps/<mapId> one map.
import {api} from "../lib/api.js";
import {errorBox, field, fill, formatDate, formatSeconds, h, progressView, toast, useStyles} from "../lib/dom.js";
import {follow} from "../lib/live.js";

export const title = "Drum maps";

export const DIFFICULTIES = ["easy", "medium", "hard", "expert"];
const FINAL = new Set(["COMPLETE", "FAILED"]);
const VOTERS = new Set(["verifier", "curator", "admin"]);
const LANE_NAMES = {
  kick: "Kick", snare: "Snare", hihat_closed: "Hi-hat", hihat_open: "Open hi-hat", tom_high: "High tom",
  tom_low: "Low tom", crash: "Crash", ride: "Ride",
};
const LANE_COLOURS = ["#c0392b", "#2e6fd8", "#1e8a4c", "#7cb342", "#8e44ad", "#b3559b", "#d68910", "#6d4c41"];
const ROW_PX = 24;
const HEAD_PX = 20;
const MAX_CANVAS_PX = 30000;
const NEAREST_SECONDS = 0.5; // how far from the given time an edit looks for the hit it changes
const NEW_HIT_VELOCITY = 0.8;

// --- pure helpers ------------------------------------------------------------------------------------

export function laneName(lane) {
  return LANE_NAMES[lane] || lane.replace(/_/g, " ");
}

/** Hits per lane in one level of a map document (every lane present, zero when unused). */
export function laneCounts(doc, level) {
  const counts = Object.fromEntries(doc.lanes.map((lane) => [lane, 0]));
  for (const hit of doc.levels[level] || []) counts[hit.lane] = (counts[hit.lane] || 0) + 1;
  return counts;
}

export function mapDuration(doc) {
  const last = Math.max(0, ...DIFFICULTIES.flatMap((level) => (doc.levels[level] || []).map((hit) => hit.t)));
  return Math.max(doc.durationSeconds || 0, last + 0.5);
}

/** What the canvas shows, in words: the level, hits in all and per lane. */
export function chartSummary(doc, level) {
  const counts = laneCounts(doc, level);
  const total = Object.values(counts).reduce((sum, n) => sum + n, 0);
  const lanes = doc.lanes.map((lane) => `${laneName(lane)} ${counts[lane]}`).join(", ");
  return `Drum map at ${level}: ${total} hits over ${formatSeconds(mapDuration(doc))}. ${lanes}.`;
}

/** An edit's diff ({levels: {expert: {added, removed}}, fields}) in words. */
export function diffSummary(diff) {
  const parts = Object.entries((diff && diff.levels) || {})
    .map(([level, change]) => `${level}: ${change.added} added, ${change.removed} removed`);
  if (diff && diff.fields && diff.fields.length) parts.push(`changed: ${diff.fields.join(", ")}`);
  return parts.join("; ") || "no change";
}

const round3 = (x) => Math.round(x * 1000) / 1000;

function beatAt(doc, t) {
  return round3(((t - (doc.offsetSeconds || 0)) * doc.tempoBpm) / 60);
}

/** The hit of `lane` nearest `time` in a level ({index, hit}), or null when none is within NEAREST_SECONDS. */
export function nearestHit(hits, lane, time) {
  let best = null;
  hits.forEach((hit, index) => {
    const distance = Math.abs(hit.t - time);
    if (hit.lane === lane && distance <= NEAREST_SECONDS && (!best || distance < best.distance)) {
      best = {index, hit, distance};
    }
  });
  return best;
}

function sameHit(a, b) {
  return a.t === b.t && a.lane === b.lane;
}

function guarded(path, hit) {
  return [{op: "test", path: `${path}/t`, value: hit.t}, {op: "test", path: `${path}/lane`, value: hit.lane}];
}

/** Remove `hit` from `level` and from every easier level holding it (each level is a subset of the one above). */
export function removePatch(doc, level, hit) {
  const ops = [];
  for (const name of DIFFICULTIES.slice(0, DIFFICULTIES.indexOf(level) + 1)) {
    const index = doc.levels[name].findIndex((other) => sameHit(other, hit));
    if (index >= 0) ops.push(...guarded(`/levels/${name}/${index}`, hit), {op: "remove", path: `/levels/${name}/${index}`});
  }
  return ops;
}

/** Add a hit at `time` to `level` and to every harder level that would otherwise hold fewer of it. */
export function addPatch(doc, level, lane, time) {
  const t = round3(time);
  const hit = {t, t0: t, lane, velocity: NEW_HIT_VELOCITY, beat: beatAt(doc, t)};
  const count = (name) => doc.levels[name].filter((other) => sameHit(other, hit)).length;
  const needed = count(level) + 1;
  const ops = [];
  for (const name of DIFFICULTIES.slice(DIFFICULTIES.indexOf(level))) {
    if (count(name) >= needed) continue;
    const at = doc.levels[name].findIndex((other) => other.t > t);
    ops.push({op: "add", path: `/levels/${name}/${at < 0 ? "-" : at}`, value: hit});
  }
  return ops;
}

/** Move `hit` to `newTime` in every level that holds it (so the levels stay nested). */
export function movePatch(doc, hit, newTime) {
  const t = round3(newTime);
  const moved = {...hit, t, t0: t, beat: beatAt(doc, t)};
  const ops = [];
  for (const name of DIFFICULTIES) {
    const index = doc.levels[name].findIndex((other) => sameHit(other, hit));
    const path = `/levels/${name}/${index}`;
    if (index >= 0) ops.push(...guarded(path, hit), {op: "replace", path, value: moved});
  }
  return ops;
}

/** The RFC 6902 patch for one correction: {level, lane, action: remove|add|move, time, newTime}. */
export function correctionPatch(doc, {level, lane, action, time, newTime}) {
  if (!Number.isFinite(time) || time < 0) throw new Error("time: give the hit's time in seconds (0 or more)");
  if (action === "add") return addPatch(doc, level, lane, time);
  const found = nearestHit(doc.levels[level], lane, time);
  if (!found) {
    throw new Error(`time: no ${laneName(lane).toLowerCase()} hit within ${NEAREST_SECONDS} s of ${time} s at ${level}`);
  }
  if (action === "remove") return removePatch(doc, level, found.hit);
  if (!Number.isFinite(newTime) || newTime < 0) throw new Error("new time: give the time to move the hit to, in seconds");
  return movePatch(doc, found.hit, newTime);
}

// --- drawing -----------------------------------------------------------------------------------------

function tickStep(pxPerSecond) {
  return [1, 2, 5, 10, 15, 30, 60, 120].find((step) => step * pxPerSecond >= 60) || 300;
}

/** Lanes (rows) by time (columns): beat and bar lines, second marks, one mark per hit of the level. */
export function drawChart(canvas, doc, level, pxPerSecond) {
  const duration = mapDuration(doc);
  const scale = Math.min(pxPerSecond, MAX_CANVAS_PX / duration);
  canvas.width = Math.ceil(duration * scale) + 8;
  canvas.height = HEAD_PX + ROW_PX * doc.lanes.length;
  canvas.dataset.pxPerSecond = String(scale);
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#ffffff";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  doc.lanes.forEach((_, row) => {
    if (row % 2) { ctx.fillStyle = "#f1f1f6"; ctx.fillRect(0, HEAD_PX + row * ROW_PX, canvas.width, ROW_PX); }
  });
  const beat = doc.tempoBpm > 0 ? 60 / doc.tempoBpm : 0;
  if (beat * scale >= 4) {
    const firstBeat = (doc.firstDownbeatIndex || 0);
    for (let i = 0, t = doc.offsetSeconds || 0; t <= duration; i += 1, t = (doc.offsetSeconds || 0) + i * beat) {
      const bar = (i - firstBeat) % (doc.beatsPerBar || 4) === 0;
      ctx.fillStyle = bar ? "#b9b9c8" : "#e2e2ea";
      ctx.fillRect(Math.round(t * scale), HEAD_PX, 1, canvas.height - HEAD_PX);
    }
  }
  ctx.fillStyle = "#444455";
  ctx.font = "11px system-ui, sans-serif";
  ctx.textBaseline = "middle";
  const step = tickStep(scale);
  for (let t = 0; t <= duration; t += step) {
    ctx.fillRect(Math.round(t * scale), HEAD_PX - 5, 1, 5);
    ctx.fillText(formatSeconds(t), Math.round(t * scale) + 3, HEAD_PX / 2 - 1);
  }
  for (const hit of doc.levels[level] || []) {
    const row = doc.lanes.indexOf(hit.lane);
    if (row < 0) continue;
    ctx.globalAlpha = 0.45 + 0.55 * Math.min(1, Math.max(0, hit.velocity));
    ctx.fillStyle = LANE_COLOURS[row % LANE_COLOURS.length];
    ctx.beginPath();
    ctx.arc(hit.t * scale, HEAD_PX + row * ROW_PX + ROW_PX / 2, 5, 0, 2 * Math.PI);
    ctx.fill();
  }
  ctx.globalAlpha = 1;
}

// --- the page ----------------------------------------------------------------------------------------

export function render(main, params) {
  useStyles("maps");
  const stops = new Set();
  const watch = (stop) => { stops.add(stop); return stop; };
  if (params[0]) renderMap(main, params[0], watch);
  else renderOverview(main, watch);
  return () => { for (const stop of stops) stop(); stops.clear(); };
}

function sourceTitle(map) {
  const source = map.source || {};
  return source.title || source.id || map.mapId;
}

// --- #/maps: make a map, your maps, the verifier queue --------------------------------------------------

function renderOverview(main, watch) {
  const list = yourMaps();
  main.append(
    h("h1", {}, "Drum maps"),
    h("p", {class: "muted"}, "A drum map is a chart of a song's kick, snare, hi-hats, toms and cymbals over time at "
      + "four difficulties. Maps of public catalog songs are shared: anyone may propose corrections and verifiers "
      + "vote on them."),
    makeMapCard(watch, () => list.reload()),
    list.root,
    verifierQueue(),
  );
}

function makeMapCard(watch, onFinished) {
  const kind = (value, label, checked) => h("label", {class: "choice"},
    h("input", {type: "radio", name: "map-source", value, checked}), ` ${label}`);
  const choice = h("fieldset", {class: "choice"}, h("legend", {}, "Map from"),
    kind("track", "one of my library tracks", true), kind("song", "a catalog song", false));
  const trackSelect = h("select", {name: "trackId"}, h("option", {value: ""}, "Loading your tracks…"));
  const trackField = field("Library track", trackSelect, "Only tracks that are READY can be mapped.");
  const query = h("input", {type: "search", name: "songQuery", placeholder: "e.g. soldier's joy"});
  const songSelect = h("select", {name: "songId"}, h("option", {value: ""}, "Search the catalog first"));
  const searchProblem = h("div");
  const search = async () => {
    searchProblem.replaceChildren();
    if (!query.value.trim()) return;
    try {
      const found = await api("/songs", {query: {q: query.value.trim(), limit: 20}});
      fill(songSelect, found.items.length ? found.items.map((song) => h("option", {value: song.songId},
        `${song.title}${song.artist ? ` — ${song.artist}` : ""} · ${song.audioStatus === "READY" ? "recording ready"
          : "no recording yet"}`)) : h("option", {value: ""}, "No song matches"));
    } catch (error) {
      searchProblem.append(errorBox(error));
    }
  };
  query.addEventListener("keydown", (event) => { if (event.key === "Enter") { event.preventDefault(); search(); } });
  const songBox = h("div", {hidden: true},
    h("div", {class: "row"}, field("Find a catalog song", query),
      h("button", {type: "button", onclick: search}, "Search")),
    searchProblem,
    field("Catalog song", songSelect, "A song needs a recording before it can be mapped; a public song's map is "
      + "shared with everyone."));
  choice.addEventListener("change", () => {
    const song = choice.querySelector("input:checked").value === "song";
    trackField.hidden = song;
    songBox.hidden = !song;
  });
  const difficulty = h("select", {name: "difficulty"},
    DIFFICULTIES.map((level) => h("option", {value: level, selected: level === "expert"}, level)));
  const problem = h("div");
  const status = h("div", {class: "map-status"});
  const submit = h("button", {type: "submit", class: "primary"}, "Create map");
  const form = h("form", {class: "card", "aria-labelledby": "make-map"},
    h("h2", {id: "make-map"}, "Make a map"),
    choice, trackField, songBox,
    field("Difficulty to show first", difficulty, "All four levels are always made."),
    problem, submit, status);
  api("/tracks", {query: {limit: 100}}).then((answer) => {
    const ready = answer.items.filter((track) => track.status === "READY");
    fill(trackSelect, ready.length ? ready.map((track) => h("option", {value: track.trackId},
      `${track.name || track.fileName}${track.durationSeconds ? ` (${formatSeconds(track.durationSeconds)})` : ""}`))
      : h("option", {value: ""}, "No READY tracks in your library"));
  }).catch((error) => {
    fill(trackSelect, h("option", {value: ""}, "Your tracks could not be listed"));
    problem.append(errorBox(error));
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    problem.replaceChildren();
    const fromSong = choice.querySelector("input:checked").value === "song";
    const id = fromSong ? songSelect.value : trackSelect.value;
    if (!id) {
      problem.append(errorBox(fromSong ? "songId: choose a catalog song (search for it first)"
        : "trackId: choose one of your READY tracks"));
      return;
    }
    submit.disabled = true;
    try {
      const created = await api("/maps", {method: "POST",
        body: {[fromSong ? "songId" : "trackId"]: id, difficulty: difficulty.value}});
      fill(status, followMap(created.mapId, watch, (map) => {
        if (map.status === "COMPLETE") {
          toast("The drum map is ready");
          status.append(h("p", {}, h("a", {href: `#/maps/${map.mapId}`}, `Open the drum map of ${sourceTitle(map)}`)));
        }
        onFinished();
      }));
      onFinished();
    } catch (error) {
      problem.append(errorBox(error));
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

/** A progress bar following a map to COMPLETE or FAILED; `onFinal(map)` gets the map as GET /maps/{id} reads it. */
function followMap(mapId, watch, onFinal) {
  const progress = progressView("Drum map");
  progress.update({status: "PENDING", progress: 0});
  const problem = h("div");
  const poll = () => api(`/maps/${mapId}`);
  watch(follow("map", mapId, {
    poll,
    onUpdate: async (update) => {
      progress.update(update);
      if (!FINAL.has(update.status)) return;
      try {
        const map = update.mapId ? update : await poll();
        if (map.status === "FAILED") {
          const where = map.failedStage ? ` at ${map.failedStage}` : "";
          problem.append(errorBox(`the map failed${where}: ${map.errorMessage || "no reason given"}`));
          toast("The drum map failed", "error");
        }
        onFinal(map);
      } catch (error) {
        problem.append(errorBox(error));
      }
    },
  }));
  return h("div", {}, progress.root, problem);
}

function yourMaps() {
  const problem = h("div");
  const body = h("div", {}, h("p", {class: "muted"}, "Loading…"));
  const root = h("section", {class: "card", "aria-labelledby": "your-maps"}, h("h2", {id: "your-maps"}, "Your maps"),
    problem, body);
  const remove = async (map, row, button) => {
    problem.replaceChildren();
    button.disabled = true;
    try {
      await api(`/maps/${map.mapId}`, {method: "DELETE"});
      row.remove();
      toast(`Deleted the map of ${sourceTitle(map)}`);
    } catch (error) {
      problem.append(errorBox(error));
      button.disabled = false;
    }
  };
  const reload = async () => {
    try {
      const answer = await api("/maps", {query: {limit: 50}});
      if (!answer.items.length) { fill(body, h("p", {class: "muted"}, "You have not made a map yet.")); return; }
      const rows = answer.items.map((map) => {
        const button = h("button", {type: "button", class: "danger", "aria-label": `Delete the map of ${sourceTitle(map)}`},
          "Delete");
        const row = h("tr", {dataset: {mapId: map.mapId}},
          h("td", {}, h("a", {href: `#/maps/${map.mapId}`}, sourceTitle(map)),
            h("div", {class: "muted"}, map.source && map.source.kind === "track" ? "library track" : "catalog song",
              map.public ? " · public" : "")),
          h("td", {}, h("span", {class: "pill"}, map.status)),
          h("td", {}, map.tempoBpm ? `${map.tempoBpm.toFixed(1)} BPM` : "–"),
          h("td", {}, `v${map.version}`),
          h("td", {}, formatDate(map.createdAt)),
          h("td", {}, button));
        button.addEventListener("click", () => remove(map, row, button));
        return row;
      });
      fill(body, h("div", {class: "table-wrap"}, h("table", {},
        h("thead", {}, h("tr", {}, ["Map", "Status", "Tempo", "Version", "Made", "Actions"]
          .map((name) => h("th", {scope: "col"}, name)))),
        h("tbody", {}, rows))));
    } catch (error) {
      fill(body, errorBox(error));
    }
  };
  reload();
  return {root, reload};
}

function verifierQueue() {
  const standing = h("p", {class: "muted"}, "Loading your standing…");
  const list = h("ul", {class: "edit-list"});
  const body = h("div", {}, h("p", {class: "muted"}, "Loading…"));
  const more = h("button", {type: "button", hidden: true}, "Show more edits");
  const root = h("section", {class: "card", "aria-labelledby": "queue"},
    h("h2", {id: "queue"}, "Edits waiting for verifiers"),
    standing, body, more);
  let who = null;
  let cursor = null;
  const page = async () => {
    const queue = await api("/edits", {query: {state: "pending", limit: 100, cursor}});
    list.append(...queue.items.map((edit) => editItem(edit, who)));
    cursor = queue.nextCursor;
    more.hidden = !cursor;
    if (!list.children.length) fill(body, h("p", {class: "muted"}, "No edit is waiting."));
  };
  more.addEventListener("click", () => page().catch((error) => body.append(errorBox(error))));
  api("/me").then(async (me) => {
    const {role, karma, limits} = me.community;
    who = {mayVote: VOTERS.has(role), me: me.userId};
    fill(standing, who.mayVote
      ? `You are a ${role} with karma ${karma}: you may vote on other people's edits `
        + `(${limits.votes ? limits.votes.left : 0} votes left today).`
      : `You are a ${role} with karma ${karma}. Verifiers (karma 200 and an account at least 7 days old), curators and `
        + "admins vote on edits; you may propose them.");
    fill(body, list);
    await page();
  }).catch((error) => fill(body, errorBox(error)));
  return root;
}

function editItem(edit, {mayVote, me}) {
  const id = `edit-${edit.editId}`;
  const outcome = h("div", {role: "status"});
  const summary = h("div", {id},
    h("strong", {}, edit.comment || "(no comment)"), " ",
    h("span", {class: "pill"}, edit.state),
    h("div", {}, diffSummary(edit.diff), ` · ${edit.operations} operation${edit.operations === 1 ? "" : "s"}`),
    h("div", {class: "muted"}, `by ${edit.author} on `,
      h("a", {href: `#/maps/${edit.mapId}`}, `map ${edit.mapId.slice(0, 8)}`),
      ` version ${edit.baseVersion} · ${edit.approvals} approvals, ${edit.rejections} rejections · `
        + formatDate(edit.createdAt)));
  const item = h("li", {dataset: {editId: edit.editId}}, summary);
  if (edit.author === me) {
    item.append(h("p", {class: "muted"}, "Your edit: others vote on it."));
  } else if (mayVote && edit.state === "pending") {
    const buttons = ["approve", "reject"].map((decision) => h("button", {
      type: "button", class: decision === "approve" ? "primary" : "danger", "aria-describedby": id,
      onclick: async () => {
        outcome.replaceChildren();
        for (const button of buttons) button.disabled = true;
        try {
          const vote = await api(`/edits/${edit.editId}/votes`, {method: "POST", body: {decision}});
          const applied = vote.appliedVersion ? ` (version ${vote.appliedVersion} published)` : "";
          outcome.append(h("p", {}, `You voted to ${decision}. The edit is ${vote.state}${applied}: `
            + `${vote.approvals} approvals, ${vote.rejections} rejections.`));
          toast(`Vote recorded: the edit is ${vote.state}`);
        } catch (error) {
          outcome.append(errorBox(error));
          for (const button of buttons) button.disabled = false;
        }
      },
    }, decision === "approve" ? "Approve" : "Reject"));
    item.append(h("div", {class: "row"}, buttons));
  }
  item.append(outcome);
  return item;
}

// --- #/maps/<mapId>: one map -----------------------------------------------------------------------

function renderMap(main, mapId, watch) {
  const heading = h("h1", {}, "Drum map");
  const body = h("div", {}, h("p", {class: "muted"}, "Loading the map…"));
  main.append(h("p", {}, h("a", {href: "#/maps"}, "← All drum maps")), heading, body);
  const show = async () => {
    try {
      const map = await api(`/maps/${mapId}`);
      heading.textContent = `Drum map: ${sourceTitle(map)}`;
      document.title = `${heading.textContent} · SoundCanvas`;
      if (map.status !== "COMPLETE") {
        fill(body, h("p", {}, "This map is being made."), followMap(mapId, watch, (done) => {
          if (done.status === "COMPLETE") show();
        }));
        return;
      }
      const doc = await mapDocument(map.mapUrl);
      fill(body, mapFacts(map, doc));
      const chart = chartCard(map, doc);
      const pending = mapEdits(map);
      body.append(chart.root, editCard(map, doc, chart, pending.reload), pending.root);
    } catch (error) {
      fill(body, errorBox(error));
    }
  };
  show();
}

async function mapDocument(url) {
  if (!url) throw new Error("the map has no document to read");
  const response = await fetch(url);
  if (!response.ok) throw new Error(`the map document could not be read (HTTP ${response.status})`);
  return response.json();
}

function mapFacts(map, doc) {
  const fact = (name, value) => [h("dt", {}, name), h("dd", {}, value)];
  return h("dl", {class: "card facts"},
    fact("Tempo", `${Number(doc.tempoBpm).toFixed(1)} BPM, ${doc.beatsPerBar} beats a bar`),
    fact("Length", formatSeconds(map.durationSeconds || mapDuration(doc))),
    fact("Source", `${map.source && map.source.kind === "track" ? "library track" : "catalog song"} ${sourceTitle(map)}`),
    fact("Version", `${map.version} · ${map.state}`
      + (map.verifiedVersion ? ` (version ${map.verifiedVersion} verified)` : "")),
    fact("Author", map.author),
    fact("Shared", map.public ? "yes: a public catalog song's map" : "no: only you see it"));
}

function chartCard(map, doc) {
  const level = h("select", {name: "level"},
    DIFFICULTIES.map((name) => h("option", {value: name, selected: name === (map.difficulty || "expert")}, name)));
  const zoom = h("input", {type: "range", name: "zoom", min: 20, max: 400, step: 10, value: 80});
  const canvas = h("canvas", {role: "img"});
  const labels = h("div", {class: "lane-labels", "aria-hidden": "true"},
    doc.lanes.map((lane) => h("div", {}, laneName(lane))));
  const scroller = h("div", {class: "map-scroll", tabindex: 0, role: "region",
    "aria-label": "Drum map over time (scrolls sideways)"}, canvas);
  const counts = h("tbody");
  const caption = h("caption", {});
  const onPick = new Set();
  let shown = doc;
  const redraw = () => {
    drawChart(canvas, shown, level.value, Number(zoom.value));
    canvas.setAttribute("aria-label", chartSummary(shown, level.value));
    caption.textContent = `Hits per instrument at ${level.value}`;
    const perLane = laneCounts(shown, level.value);
    fill(counts, shown.lanes.map((lane) => h("tr", {},
      h("th", {scope: "row"}, laneName(lane)), h("td", {}, String(perLane[lane])))),
      h("tr", {}, h("th", {scope: "row"}, "All"), h("td", {}, String(Object.values(perLane).reduce((a, b) => a + b, 0)))));
  };
  level.addEventListener("change", redraw);
  zoom.addEventListener("input", redraw);
  canvas.addEventListener("click", (event) => {
    const scale = Number(canvas.dataset.pxPerSecond);
    const row = Math.floor((event.offsetY - HEAD_PX) / ROW_PX);
    if (row < 0 || row >= shown.lanes.length || !scale) return;
    const pick = {lane: shown.lanes[row], time: round3(event.offsetX / scale), level: level.value};
    for (const callback of onPick) callback(pick);
  });
  redraw();
  const controls = h("div", {class: "row"}, field("Difficulty", level), field("Zoom (pixels per second)", zoom));
  const problem = h("div");
  api(`/maps/${map.mapId}/versions`).then((answer) => {
    if (answer.items.length < 2) return;
    const version = h("select", {name: "version"}, answer.items.map((item) => h("option",
      {value: item.version, selected: item.current},
      `${item.version} by ${item.author}${item.current ? " (current)" : ""}`)));
    version.addEventListener("change", async () => {
      problem.replaceChildren();
      try {
        const found = await api(`/maps/${map.mapId}/versions/${version.value}`);
        shown = await mapDocument(found.url);
        redraw();
      } catch (error) {
        problem.append(errorBox(error));
      }
    });
    controls.prepend(field("Version", version, "Edits are proposed against the current version."));
  }).catch((error) => problem.append(errorBox(error)));
  const root = h("section", {class: "card", "aria-labelledby": "chart"},
    h("h2", {id: "chart"}, "Chart"),
    controls, problem,
    h("div", {class: "map-chart"}, labels, scroller),
    h("p", {class: "hint"}, `Tempo ${Number(doc.tempoBpm).toFixed(1)} BPM. Click a hit to fill in the edit form.`),
    h("div", {class: "table-wrap"}, h("table", {class: "counts"}, caption,
      h("thead", {}, h("tr", {}, h("th", {scope: "col"}, "Instrument"), h("th", {scope: "col"}, "Hits"))), counts)));
  return {root, level, onPick};
}

function editCard(map, doc, chart, onProposed) {
  const root = h("section", {class: "card", "aria-labelledby": "propose"}, h("h2", {id: "propose"}, "Propose an edit"));
  if (!map.public) {
    root.append(h("p", {}, "Only finished maps of public catalog songs are open to edits. This map is of "
      + `${map.source && map.source.kind === "track" ? "one of your library tracks" : "a song of your own"}, `
      + "so it stays yours alone."));
    return root;
  }
  const level = h("select", {name: "editLevel"},
    DIFFICULTIES.map((name) => h("option", {value: name, selected: name === chart.level.value}, name)));
  const lane = h("select", {name: "lane"}, doc.lanes.map((name) => h("option", {value: name}, laneName(name))));
  const action = h("select", {name: "action"},
    h("option", {value: "remove"}, "Remove the hit nearest the time"),
    h("option", {value: "add"}, "Add a hit at the time"),
    h("option", {value: "move"}, "Move the hit nearest the time"));
  const time = h("input", {type: "number", name: "time", min: 0, step: "any", required: true});
  const newTime = h("input", {type: "number", name: "newTime", min: 0, step: "any"});
  const newTimeField = field("New time (seconds)", newTime);
  newTimeField.hidden = true;
  action.addEventListener("change", () => { newTimeField.hidden = action.value !== "move"; });
  const comment = h("input", {type: "text", name: "comment", maxlength: 1000,
    placeholder: "e.g. the snare at 0:12 is a ghost note"});
  const answer = h("div", {role: "status"});
  const submit = h("button", {type: "submit", class: "primary"}, "Propose edit");
  const standing = h("p", {class: "hint"});
  api("/me").then((me) => {
    const {role, karma, limits} = me.community;
    standing.textContent = `You are a ${role} with karma ${karma}: ${limits.edits.left} of ${limits.edits.limit} edits `
      + "left today.";
  }).catch((error) => standing.replaceChildren(errorBox(error)));
  const form = h("form", {"aria-label": "Propose an edit"},
    h("p", {class: "hint"}, `Against version ${map.version}. Verifiers review every edit; two approvals publish it.`),
    standing,
    h("div", {class: "row"}, field("Level", level), field("Instrument", lane), field("Change", action)),
    h("div", {class: "row"}, field("Time (seconds)", time, "Pick a hit on the chart or type its time."), newTimeField),
    field("Comment for the verifiers", comment),
    submit, answer);
  chart.onPick.add((pick) => {
    lane.value = pick.lane;
    level.value = pick.level;
    time.value = String(pick.time);
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    answer.replaceChildren();
    let patch;
    try {
      patch = correctionPatch(doc, {level: level.value, lane: lane.value, action: action.value,
        time: parseFloat(time.value), newTime: parseFloat(newTime.value)});
    } catch (error) {
      answer.append(errorBox(error));
      return;
    }
    submit.disabled = true;
    try {
      const edit = await api(`/maps/${map.mapId}/edits`, {method: "POST",
        body: {baseVersion: map.version, patch, comment: comment.value.trim()}});
      answer.append(h("p", {class: "proposed"},
        `Edit ${edit.editId.slice(0, 8)} is ${edit.state}: ${diffSummary(edit.diff)}.`));
      toast(`Your edit is ${edit.state}`);
      onProposed();
    } catch (error) {
      answer.append(errorBox(error));
    } finally {
      submit.disabled = false;
    }
  });
  root.append(form);
  return root;
}

function mapEdits(map) {
  const body = h("div", {}, h("p", {class: "muted"}, "Loading…"));
  const root = h("section", {class: "card", "aria-labelledby": "map-edits"},
    h("h2", {id: "map-edits"}, "Pending edits of this map"), body);
  const reload = async () => {
    if (!map.public) { fill(body, h("p", {class: "muted"}, "None: this map is not shared.")); return; }
    try {
      const answer = await api("/edits", {query: {state: "pending", mapId: map.mapId, limit: 50}});
      fill(body, answer.items.length
        ? h("ul", {class: "edit-list"}, answer.items.map((edit) => h("li", {dataset: {editId: edit.editId}},
          h("strong", {}, edit.comment || "(no comment)"), ` by ${edit.author}: ${diffSummary(edit.diff)} · `,
          h("span", {class: "pill"}, edit.state), ` ${edit.approvals} approvals, ${edit.rejections} rejections`)))
        : h("p", {class: "muted"}, "No edit is waiting."));
    } catch (error) {
      fill(body, errorBox(error));
    }
  };
  reload();
  return {root, reload};
}
