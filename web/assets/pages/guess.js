// Guess the Track (docs/library.md): play a snippet of a due track, reveal it, grade the recall 0–5 (POST /grade)
// and go on to the next due track; when nothing is due, say when the next one is. The scheduler (SM-2 or FSRS) is
// the user's choice (GET/PUT /training).
import {api} from "../lib/api.js";
import {errorBox, field, fill, formatDate, h, toast, useStyles} from "../lib/dom.js";

export const title = "Guess the Track";

const DUE_LIMIT = 20;

/** The 0–5 scale (SuperMemo's SM-2): below 3 is a lapse; for FSRS 0–2 are Again, 3 Hard, 4 Good, 5 Easy. */
export const GRADES = [
  [0, "complete blackout"],
  [1, "wrong; I knew it once revealed"],
  [2, "wrong; it seemed easy once revealed"],
  [3, "correct with effort"],
  [4, "correct after a hesitation"],
  [5, "perfect, at once"],
];

const SCHEDULERS = [["sm2", "SM-2"], ["fsrs", "FSRS"]];

/** "in 3 hours" from two instants (ms), on the API's clock. */
export function relativeTime(thenMs, nowMs) {
  const seconds = (thenMs - nowMs) / 1000;
  // [unit, its seconds, from how many seconds on it is used]: 23.9 hours reads as a day, 50 minutes as an hour
  const units = [["day", 86400, 79200], ["hour", 3600, 2700], ["minute", 60, 45]];
  const format = new Intl.RelativeTimeFormat("en", {numeric: "auto"});
  for (const [unit, size, from] of units) {
    if (Math.abs(seconds) >= from) return format.format(Math.round(seconds / size), unit);
  }
  return format.format(Math.round(seconds), "second");
}

export function describeAnswer(answer) {
  const name = answer.name || "Untitled";
  return [name, answer.artist, answer.album].filter(Boolean).join(" · ");
}

export function render(main) {
  useStyles("guess");
  let queue = [];
  let serverNow = Date.now();
  const heading = h("h2", {id: "quiz-heading", tabindex: -1}, "Which track is this?");
  const content = h("div");
  const quiz = h("section", {class: "card quiz", "aria-labelledby": "quiz-heading"}, heading, content);
  const showQuiz = (text, ...children) => { heading.textContent = text; fill(content, ...children); };
  const scheduler = h("select", {name: "scheduler"},
    SCHEDULERS.map(([value, label]) => h("option", {value}, label)));
  const retention = h("input", {type: "number", name: "desiredRetention", min: 0.7, max: 0.99, step: 0.01,
                                value: "0.9"});
  const settingsProblem = h("div");
  const settings = h("form", {class: "card settings", "aria-labelledby": "settings-heading"},
    h("h2", {id: "settings-heading"}, "Scheduler"),
    h("div", {class: "row"},
      field("Scheduler", scheduler, "SM-2: fixed steps and an easiness; FSRS: a memory model"),
      field("Desired retention", retention, "FSRS only: the chance of recall it aims for, 0.70–0.99")),
    settingsProblem,
    h("button", {type: "submit"}, "Save scheduler"));
  settings.addEventListener("submit", saveTraining);
  scheduler.addEventListener("change", () => { retention.disabled = scheduler.value !== "fsrs"; });

  main.append(h("h1", {}, title), quiz, settings);

  async function loadTraining() {
    try {
      const chosen = await api("/training");
      scheduler.value = chosen.scheduler;
      retention.value = String(chosen.desiredRetention);
      retention.disabled = chosen.scheduler !== "fsrs";
    } catch (error) {
      settingsProblem.append(errorBox(error));
    }
  }

  async function saveTraining(event) {
    event.preventDefault();
    fill(settingsProblem);
    const body = {scheduler: scheduler.value};
    if (scheduler.value === "fsrs") body.desiredRetention = Number(retention.value);
    try {
      const chosen = await api("/training", {method: "PUT", body});
      const name = SCHEDULERS.find(([value]) => value === chosen.scheduler)[1];
      toast(`Scheduler: ${name}; ${chosen.rescheduled} track${chosen.rescheduled === 1 ? "" : "s"} rescheduled.`);
      await loadDue();
    } catch (error) {
      settingsProblem.append(errorBox(error));
    }
  }

  async function loadDue() {
    showQuiz("Which track is this?", h("p", {class: "muted"}, "Loading…"));
    try {
      const answer = await api("/due", {query: {limit: DUE_LIMIT}});
      serverNow = Date.parse(answer.now) || Date.now();
      queue = answer.items;
      if (queue.length) showCard();
      else showNothingDue(answer.nextDueAt);
    } catch (error) {
      showQuiz("Which track is this?", errorBox(error), retryButton());
    }
  }

  function retryButton() {
    return h("button", {type: "button", onclick: loadDue}, "Check again");
  }

  function showCard() {
    const item = queue[0];
    const {url, startSeconds, durationSeconds} = item.snippet;
    const end = startSeconds + durationSeconds;
    const audio = h("audio", {controls: true, preload: "auto", "aria-label": "Snippet", src: `${url}#t=${startSeconds},${end}`});
    audio.addEventListener("timeupdate", () => { if (audio.currentTime >= end && !audio.paused) audio.pause(); });
    const playSnippet = () => {
      audio.currentTime = startSeconds;
      audio.play().catch(() => toast("Press play on the player to listen."));
    };
    const reveal = h("button", {type: "button", class: "primary"}, "Reveal");
    const answer = h("p", {class: "answer", hidden: true});
    const problem = h("div");
    const grades = h("fieldset", {class: "grades", hidden: true},
      h("legend", {}, "How well did you know it?"),
      GRADES.map(([grade, meaning]) => h("button", {
        type: "button", "aria-label": `Grade ${grade}: ${meaning}`, dataset: {grade},
        onclick: () => submitGrade(item, grade, grades, problem),
      }, h("strong", {}, String(grade)), " ", meaning)));
    reveal.addEventListener("click", () => {
      answer.hidden = false;
      fill(answer, "It was ", h("strong", {}, describeAnswer(item.answer)));
      grades.hidden = false;
      reveal.hidden = true;
      grades.querySelector("button").focus();
    });
    const waiting = queue.length === 1 ? "1 track due now" : `${queue.length} tracks due now`;
    showQuiz("Which track is this?",
      h("p", {class: "muted"}, `${waiting}${queue.length >= DUE_LIMIT ? " (or more)" : ""}. `,
        `Due since ${formatDate(item.dueAt)}; guessed ${item.reviewCount} time${item.reviewCount === 1 ? "" : "s"} before.`),
      audio,
      h("div", {class: "row"}, h("button", {type: "button", onclick: playSnippet}, "Play snippet"), reveal),
      answer, grades, problem);
  }

  async function submitGrade(item, grade, grades, problem) {
    fill(problem);
    for (const button of grades.querySelectorAll("button")) button.disabled = true;
    try {
      const result = await api("/grade", {method: "POST", body: {trackId: item.trackId, grade}});
      toast(`Graded ${grade}: “${item.answer.name || "Untitled"}” comes back ${formatDate(result.dueAt)}.`);
      queue.shift();
      if (queue.length) showCard();
      else await loadDue();
      heading.focus();
    } catch (error) {
      problem.append(errorBox(error));
      for (const button of grades.querySelectorAll("button")) button.disabled = false;
    }
  }

  /** `next`: GET /due's nextDueAt, when the next track falls due (null when no track is scheduled). */
  function showNothingDue(next) {
    const nothing = "Nothing to guess right now";
    if (!next) {
      showQuiz(nothing, h("p", {}, "No ready tracks yet. ", h("a", {href: "#/library"}, "Upload some in the Library"),
        " and they are due at once."), retryButton());
      return;
    }
    showQuiz(nothing,
      h("p", {class: "next-due"}, `The next track is due ${relativeTime(Date.parse(next), serverNow)}, `,
        h("time", {datetime: next}, formatDate(next)), "."),
      retryButton());
  }

  loadTraining();
  loadDue();
}
