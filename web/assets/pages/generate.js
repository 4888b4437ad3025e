// Picture → music: drop a picture, pick a genre and a length, and follow the piece being made (docs/generation.md).
// The options offered are the API's own (POST /generations's request model in /openapi.json); the job's record
// (GET /generations/{jobId}) gives the result's presigned URLs and the parameters drawn from the picture.
import {api, uploadWithForm} from "../lib/api.js";
import {errorBox, field, fill, formatDate, h, progressView, toast, useStyles} from "../lib/dom.js";
import {follow} from "../lib/live.js";

export const title = "Picture → music";

const FINAL = new Set(["COMPLETE", "FAILED"]);
const PAGE_SIZE = 10;
const URL_REFRESH_MS = 4 * 60 * 1000; // the API's presigned URLs live 5 minutes
const DOWNLOADS = [["Download WAV", "audioUrl"], ["Download MP3", "previewUrl"], ["Download MIDI", "midiUrl"]];
// What the API documents, used only if its OpenAPI document cannot be read.
const FALLBACK_OPTIONS = {
  genres: ["house", "techno", "hiphop", "lofi", "ambient", "rock", "jazz", "classical", "pop", "cinematic"],
  modes: ["heuristic", "model"],
  minSeconds: 15, maxSeconds: 300, defaultSeconds: 60,
};
// General MIDI program names (0-based), for the instruments the composer picked.
const GM_PROGRAMS = [
  "Acoustic Grand Piano", "Bright Acoustic Piano", "Electric Grand Piano", "Honky-tonk Piano", "Electric Piano 1",
  "Electric Piano 2", "Harpsichord", "Clavinet", "Celesta", "Glockenspiel", "Music Box", "Vibraphone", "Marimba",
  "Xylophone", "Tubular Bells", "Dulcimer", "Drawbar Organ", "Percussive Organ", "Rock Organ", "Church Organ",
  "Reed Organ", "Accordion", "Harmonica", "Tango Accordion", "Acoustic Guitar (nylon)", "Acoustic Guitar (steel)",
  "Electric Guitar (jazz)", "Electric Guitar (clean)", "Electric Guitar (muted)", "Overdriven Guitar",
  "Distortion Guitar", "Guitar Harmonics", "Acoustic Bass", "Fingered Bass", "Picked Bass", "Fretless Bass",
  "Slap Bass 1", "Slap Bass 2", "Synth Bass 1", "Synth Bass 2", "Violin", "Viola", "Cello", "Contrabass",
  "Tremolo Strings", "Pizzicato Strings", "Orchestral Harp", "Timpani", "String Ensemble 1", "String Ensemble 2",
  "Synth Strings 1", "Synth Strings 2", "Choir Aahs", "Voice Oohs", "Synth Voice", "Orchestra Hit", "Trumpet",
  "Trombone", "Tuba", "Muted Trumpet", "French Horn", "Brass Section", "Synth Brass 1", "Synth Brass 2",
  "Soprano Sax", "Alto Sax", "Tenor Sax", "Baritone Sax", "Oboe", "English Horn", "Bassoon", "Clarinet", "Piccolo",
  "Flute", "Recorder", "Pan Flute", "Blown Bottle", "Shakuhachi", "Whistle", "Ocarina", "Square Lead", "Saw Lead",
  "Calliope Lead", "Chiff Lead", "Charang Lead", "Voice Lead", "Fifths Lead", "Bass + Lead", "New Age Pad",
  "Warm Pad", "Polysynth Pad", "Choir Pad", "Bowed Pad", "Metallic Pad", "Halo Pad", "Sweep Pad", "Rain",
  "Soundtrack", "Crystal", "Atmosphere", "Brightness", "Goblins", "Echoes", "Sci-fi", "Sitar", "Banjo", "Shamisen",
  "Koto", "Kalimba", "Bagpipe", "Fiddle", "Shanai", "Tinkle Bell", "Agogo", "Steel Drums", "Woodblock", "Taiko Drum",
  "Melodic Tom", "Synth Drum", "Reverse Cymbal", "Guitar Fret Noise", "Breath Noise", "Seashore", "Bird Tweet",
  "Telephone Ring", "Helicopter", "Applause", "Gunshot",
];

let optionsPromise = null;

/** The choices POST /generations accepts, read from its request model in the API's OpenAPI document. */
export function requestOptions(openapi) {
  const props = openapi?.components?.schemas?.GenerationRequest?.properties;
  if (!props) return FALLBACK_OPTIONS;
  const genreSchema = (props.genre?.anyOf || [props.genre]).find((s) => s && Array.isArray(s.enum));
  const seconds = props.durationSeconds || {};
  return {
    genres: genreSchema ? genreSchema.enum : FALLBACK_OPTIONS.genres,
    modes: props.mode?.enum || FALLBACK_OPTIONS.modes,
    minSeconds: seconds.minimum ?? FALLBACK_OPTIONS.minSeconds,
    maxSeconds: seconds.maximum ?? FALLBACK_OPTIONS.maxSeconds,
    defaultSeconds: seconds.default ?? FALLBACK_OPTIONS.defaultSeconds,
  };
}

function loadOptions() {
  optionsPromise ||= api("/openapi.json").then(requestOptions, () => FALLBACK_OPTIONS);
  return optionsPromise;
}

/** The body of POST /generations from the form's values; empty choices are left to the API's defaults. */
export function createBody({genre, seconds, mode, seed, contentType}) {
  const body = {durationSeconds: Number(seconds), contentType: contentType || "application/octet-stream"};
  if (genre) body.genre = genre;
  if (mode) body.mode = mode;
  if (seed !== "" && seed !== null && seed !== undefined) body.seed = Number(seed);
  return body;
}

export function instrumentName(program) {
  return GM_PROGRAMS[program] || `program ${program}`;
}

/** The parameters drawn from the picture, as [label, text] pairs a person can read. */
export function paramRows(params) {
  if (!params) return [];
  const rows = [];
  if (params.genre) rows.push(["Genre", params.genre]);
  if (params.tempoBpm) rows.push(["Tempo", `${params.tempoBpm} BPM`]);
  if (params.key) rows.push(["Key", [params.key, params.scale && params.scale.replace(/_/g, " ")].filter(Boolean).join(" ")]);
  if (params.mood) rows.push(["Mood", params.mood]);
  if (typeof params.energy === "number") rows.push(["Energy", `${Math.round(params.energy * 100)} %`]);
  if (typeof params.density === "number") rows.push(["Density", `${Math.round(params.density * 100)} %`]);
  for (const [part, program] of Object.entries(params.instruments || {})) {
    rows.push([`Instrument (${part})`, instrumentName(program)]);
  }
  if (params.durationSeconds) rows.push(["Length", `${params.durationSeconds} s`]);
  if (params.seed !== undefined && params.seed !== null) rows.push(["Seed", String(params.seed)]);
  return rows;
}

function genreSelect(genres, emptyLabel) {
  return h("select", {}, h("option", {value: ""}, emptyLabel), genres.map((g) => h("option", {value: g}, g)));
}

export async function render(main, params) {
  useStyles("generate");
  const shownJobId = params[0] || null;
  const stops = new Set();
  let leaving = false;

  main.append(h("h1", {}, title));
  const formSlot = h("div");
  const jobCard = h("section", {class: "card gen-job", id: "job", "aria-labelledby": "job-title", hidden: true});
  const historyList = h("ul", {class: "gen-history", "aria-label": "Your generations"});
  const historyProblem = h("div");
  const more = h("button", {type: "button", hidden: true}, "Load more");
  main.append(h("div", {class: "gen-top"}, formSlot, jobCard),
    h("section", {"aria-labelledby": "history-title"},
      h("h2", {id: "history-title"}, "History"), historyProblem, historyList, more));

  // --- one job: progress, result, regenerate -------------------------------------------------------------
  let current = null; // {jobId, progress, result, stop}

  function showJob(jobId, state) {
    if (current) current.stop();
    const progress = progressView("Generation");
    const result = h("div", {class: "result"});
    current = {jobId, progress, result, stop: () => {}};
    fill(jobCard, h("h2", {id: "job-title"}, "Your piece"), progress.root, result);
    jobCard.hidden = false;
    progress.update(state);
    jobCard.scrollIntoView({block: "nearest"});
    return current;
  }

  function watch(job) {
    const shown = current;
    shown.stop();
    const poll = () => api(`/generations/${job.jobId}`);
    const stop = follow("generation", job.jobId, {
      poll,
      onUpdate: async (update) => {
        if (leaving || current !== shown) return;
        shown.progress.update(update);
        if (!FINAL.has(update.status)) return;
        try {
          const record = "options" in update ? update : await poll();
          if (current === shown) finish(record);
        } catch (error) {
          fill(shown.result, errorBox(error));
        }
      },
    });
    stops.add(stop);
    shown.stop = () => { stop(); stops.delete(stop); };
  }

  function finish(job) {
    current.progress.update(job);
    updateHistoryRow(job, {add: job.jobId === newestJobId});
    if (job.status === "COMPLETE") {
      toast("Your music is ready.");
      fill(current.result, resultView(job));
    } else {
      toast("The generation failed.", "error");
      fill(current.result, failureView(job));
    }
  }

  function resultView(job) {
    const audio = h("audio", {controls: true, preload: "metadata", src: job.previewUrl || job.audioUrl,
                              "aria-label": "The generated music"});
    const links = DOWNLOADS.filter(([, name]) => job[name]).map(([label, name]) =>
      h("a", {href: job[name], target: "_blank", rel: "noopener", dataset: {field: name}}, label));
    keepFresh(job.jobId, audio, links);
    const rows = paramRows(job.params);
    return [
      audio,
      h("p", {class: "row downloads"}, links),
      rows.length ? [h("h3", {}, "Drawn from the picture"),
        h("dl", {class: "params"}, rows.map(([label, text]) => [h("dt", {}, label), h("dd", {}, text)]))] : null,
      regenerateControls(job),
    ];
  }

  /** Presigned URLs expire: sign them again now and then, and once more if the player finds its URL gone. */
  function keepFresh(jobId, audio, links) {
    const shown = current;
    const refresh = async () => {
      const fresh = await api(`/generations/${jobId}`);
      for (const link of links) if (fresh[link.dataset.field]) link.href = fresh[link.dataset.field];
      return fresh;
    };
    const reload = async () => {
      const at = audio.currentTime;
      const fresh = await refresh();
      audio.src = fresh.previewUrl || fresh.audioUrl;
      audio.currentTime = at;
    };
    const timer = setInterval(() => {
      if (current !== shown) { stop(); return; }
      (audio.paused ? reload() : refresh()).catch(() => { /* the next interval tries again */ });
    }, URL_REFRESH_MS);
    const stop = () => { clearInterval(timer); stops.delete(stop); };
    stops.add(stop);
    audio.addEventListener("error", () => reload().catch(() => {}), {once: true});
  }

  function failureView(job) {
    const where = job.failedStage ? ` (while ${job.failedStage})` : "";
    return [errorBox({message: `${job.errorMessage || "The generation failed."}${where}`}), regenerateControls(job)];
  }

  function regenerateControls(job) {
    const genre = genreSelect(options.genres, `keep ${job.params?.genre || job.options?.genre || "the picture's choice"}`);
    const problem = h("div");
    const button = h("button", {type: "button", class: "primary"}, "Regenerate");
    button.addEventListener("click", async () => {
      button.disabled = true;
      problem.replaceChildren();
      try {
        await api(`/generations/${job.jobId}/regenerate`, {method: "POST", body: genre.value ? {genre: genre.value} : {}});
        toast("Making a new version…");
        const shown = showJob(job.jobId, {status: "PENDING", stage: "queued", progress: 0});
        updateHistoryRow({...job, status: "PENDING", stage: "queued"});
        watch({jobId: shown.jobId});
      } catch (error) {
        problem.append(errorBox(error));
        button.disabled = false;
      }
    });
    return h("div", {class: "regenerate"},
      h("h3", {}, "Another version"),
      h("p", {class: "muted"}, "A new seed, and the genre you choose here."),
      h("div", {class: "row"}, field("Genre for the new version", Object.assign(genre, {id: "regenerate-genre"})), button),
      problem);
  }

  async function openJob(jobId) {
    const shown = showJob(jobId, {status: "", stage: "loading"});
    try {
      const job = await api(`/generations/${jobId}`);
      if (leaving || current !== shown) return;
      shown.progress.update(job);
      if (FINAL.has(job.status)) finish(job);
      else {
        if (job.errorMessage) shown.result.append(errorBox({message: job.errorMessage}));
        watch(job);
      }
    } catch (error) {
      fill(shown.result, errorBox(error));
    }
  }

  // --- history ---------------------------------------------------------------------------------------------
  const rows = new Map(); // jobId -> li
  let newestJobId = null; // the job made on this page, not yet in the loaded history
  let nextCursor = null;

  function historyRow(job) {
    const genre = job.params?.genre || job.options?.genre;
    const open = h("a", {href: `#/generate/${job.jobId}`, "aria-label": `Open the generation of ${formatDate(job.createdAt)}`}, "Open");
    const remove = h("button", {type: "button", class: "danger", "aria-label": `Delete the generation of ${formatDate(job.createdAt)}`}, "Delete");
    const li = h("li", {class: "gen-history-item", dataset: {jobId: job.jobId}},
      job.imageUrl ? h("img", {src: job.imageUrl, alt: "", class: "thumb", loading: "lazy"}) : h("span", {class: "thumb none"}),
      h("div", {class: "summary"},
        h("span", {class: "pill", dataset: {status: job.status}}, job.status),
        h("span", {}, formatDate(job.createdAt)),
        genre ? h("span", {class: "muted"}, genre) : null),
      h("div", {class: "row actions"}, open, remove));
    remove.addEventListener("click", () => deleteJob(job, li, remove));
    open.addEventListener("click", (event) => {
      if (location.hash !== open.getAttribute("href") || jobCard.hidden) return;
      event.preventDefault(); // already shown (the hash would not change)
      jobCard.scrollIntoView({block: "start"});
    });
    return li;
  }

  /** Show a job's new state in its history row; `add` puts a new job at the top (the list is newest first). */
  function updateHistoryRow(job, {add = false} = {}) {
    const old = rows.get(job.jobId);
    if (!old && !add) return;
    const li = historyRow(job);
    rows.set(job.jobId, li);
    if (old) old.replaceWith(li);
    else historyList.prepend(li);
  }

  async function deleteJob(job, li, button) {
    if (!confirm(`Delete the generation of ${formatDate(job.createdAt)}? Its picture and music are removed.`)) return;
    button.disabled = true;
    try {
      await api(`/generations/${job.jobId}`, {method: "DELETE"});
      li.remove();
      rows.delete(job.jobId);
      if (current && current.jobId === job.jobId) {
        current.stop();
        current = null;
        jobCard.hidden = true;
        history.replaceState(null, "", "#/generate");
      }
      toast("Generation deleted.");
    } catch (error) {
      button.disabled = false;
      historyProblem.replaceChildren(errorBox(error));
    }
  }

  async function loadHistory() {
    more.disabled = true;
    historyProblem.replaceChildren();
    try {
      const page = await api("/generations", {query: {limit: PAGE_SIZE, cursor: nextCursor}});
      if (leaving) return;
      for (const job of page.items) {
        if (rows.has(job.jobId)) continue;
        const li = historyRow(job);
        rows.set(job.jobId, li);
        historyList.append(li);
      }
      nextCursor = page.nextCursor;
      more.hidden = !nextCursor;
      if (!rows.size) historyProblem.replaceChildren(h("p", {class: "muted"}, "Nothing made yet."));
    } catch (error) {
      historyProblem.replaceChildren(errorBox(error));
    } finally {
      more.disabled = false;
    }
  }
  more.addEventListener("click", loadHistory);

  // --- the form ----------------------------------------------------------------------------------------------
  const options = await loadOptions();
  fill(formSlot, createForm());
  if (shownJobId) openJob(shownJobId);
  loadHistory();

  function createForm() {
    let picture = null;
    let previewUrl = null;
    const input = h("input", {type: "file", accept: "image/*", name: "picture", id: "picture"});
    const preview = h("div", {class: "preview"});
    const zone = h("div", {class: "drop"},
      h("p", {}, "Drop a picture here, or"),
      field("Choose a picture", input, "JPEG, PNG, WebP, GIF, BMP or TIFF"),
      preview);
    const choose = (file) => {
      picture = file || null;
      if (previewUrl) URL.revokeObjectURL(previewUrl);
      previewUrl = null;
      fill(preview);
      if (!picture) return;
      if (picture.type.startsWith("image/")) {
        previewUrl = URL.createObjectURL(picture);
        const img = h("img", {src: previewUrl, alt: "The chosen picture"});
        img.addEventListener("error", () => img.remove()); // not a picture the browser can show
        preview.append(img);
      }
      preview.append(h("p", {class: "muted file-name"}, `${picture.name} · ${Math.ceil(picture.size / 1024)} KB`));
    };
    input.addEventListener("change", () => choose(input.files[0]));
    zone.addEventListener("dragover", (event) => { event.preventDefault(); zone.classList.add("over"); });
    zone.addEventListener("dragleave", () => zone.classList.remove("over"));
    zone.addEventListener("drop", (event) => {
      event.preventDefault();
      zone.classList.remove("over");
      const file = event.dataTransfer.files[0];
      if (file) choose(file);
    });

    const genre = genreSelect(options.genres, "let the picture choose");
    genre.id = "genre";
    const seconds = h("input", {type: "number", id: "seconds", min: options.minSeconds, max: options.maxSeconds, step: 1,
                                value: options.defaultSeconds, required: true});
    const mode = h("select", {id: "mode"}, options.modes.map((m) => h("option", {value: m}, m)));
    const seed = h("input", {type: "number", id: "seed", min: 0, step: 1, inputmode: "numeric"});
    const problem = h("div");
    const create = h("button", {type: "submit", class: "primary"}, "Create");
    const form = h("form", {class: "card gen-form", "aria-labelledby": "new-title"},
      h("h2", {id: "new-title"}, "New piece"),
      zone,
      h("div", {class: "grid choices"},
        field("Genre", genre),
        field("Length (seconds)", seconds, `${options.minSeconds}–${options.maxSeconds} seconds`)),
      h("details", {},
        h("summary", {}, "More options"),
        h("div", {class: "grid choices"},
          field("Mode", mode, "heuristic: rules; model: a learned melody model"),
          field("Seed", seed, "Optional: the same seed and picture give the same piece"))),
      problem,
      create);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      problem.replaceChildren();
      if (!picture) {
        problem.append(errorBox({message: "Choose a picture first."}));
        input.focus();
        return;
      }
      create.disabled = true;
      try {
        const body = createBody({genre: genre.value, seconds: seconds.value, mode: mode.value, seed: seed.value,
                                 contentType: picture.type});
        const created = await api("/generations", {method: "POST", body});
        await startJob(created, picture, problem);
      } catch (error) {
        problem.append(errorBox(error));
      } finally {
        create.disabled = false;
      }
    });
    stops.add(() => { if (previewUrl) URL.revokeObjectURL(previewUrl); });
    return form;
  }

  /** Follow the new job, then upload its picture with the job's form: the upload starts the workflow. */
  async function startJob(created, file, problem) {
    const shown = showJob(created.jobId, {status: created.status, stage: "upload", progress: 0});
    newestJobId = created.jobId;
    history.replaceState(null, "", `#/generate/${created.jobId}`);
    watch({jobId: created.jobId});
    try {
      await uploadWithForm(created.upload, file);
    } catch (error) {
      // The job never got its picture: remove it rather than leave it waiting.
      shown.stop();
      jobCard.hidden = true;
      current = null;
      history.replaceState(null, "", "#/generate");
      api(`/generations/${created.jobId}`, {method: "DELETE"}).catch(() => {});
      problem.append(errorBox(error));
      return;
    }
    toast("Picture uploaded; making your music…");
    try {
      const job = await api(`/generations/${created.jobId}`);
      if (!rows.has(job.jobId)) updateHistoryRow(job, {add: true}); // unless it finished meanwhile
      historyProblem.replaceChildren();
    } catch (error) {
      historyProblem.replaceChildren(errorBox(error));
    }
  }

  return () => {
    leaving = true;
    for (const stop of [...stops]) stop();
  };
}
