// The shell: configuration, sign-in, the navigation and a hash router (#/generate, #/library, ...). Each page is
// a module in pages/ exporting {title, render(main, params)}; render may return a function that cleans up.
import {setUnauthorizedHandler} from "./lib/api.js";
import {completeHostedSignIn, currentUser, signOut} from "./lib/auth.js";
import {loadConfig} from "./lib/config.js";
import {errorBox, fill, h} from "./lib/dom.js";
import {closeLive} from "./lib/live.js";

const PAGES = {
  signin: () => import("./pages/signin.js"),
  generate: () => import("./pages/generate.js"),
  library: () => import("./pages/library.js"),
  guess: () => import("./pages/guess.js"),
  listen: () => import("./pages/listen.js"),
  blend: () => import("./pages/blend.js"),
  maps: () => import("./pages/maps.js"),
};
const HOME = "generate";
let cleanup = null;

function parseHash() {
  const [name = "", ...rest] = location.hash.replace(/^#\/?/, "").split("/");
  return {name, params: rest.map(decodeURIComponent)};
}

function showAccount(user) {
  document.getElementById("nav").hidden = !user;
  document.getElementById("account").hidden = !user;
  document.getElementById("who").textContent = user ? user.name : "";
}

async function route() {
  const main = document.getElementById("main");
  if (cleanup) { cleanup(); cleanup = null; }
  const user = currentUser();
  let {name, params} = parseHash();
  if (!user && name !== "signin") { location.replace("#/signin"); return; }
  if (user && (name === "signin" || !PAGES[name])) { location.replace(`#/${HOME}`); return; }
  showAccount(user);
  for (const link of document.querySelectorAll("#nav a")) {
    if (link.getAttribute("href") === `#/${name}`) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  try {
    const page = await PAGES[name]();
    document.title = `${page.title} · SoundCanvas`;
    fill(main);
    cleanup = (await page.render(main, params)) || null;
    main.focus({preventScroll: true});
  } catch (error) {
    fill(main, h("h1", {}, "Something went wrong"), errorBox(error));
    console.warn(error);
  }
}

async function start() {
  try {
    await loadConfig();
    await completeHostedSignIn();
  } catch (error) {
    fill(document.getElementById("main"), h("h1", {}, "SoundCanvas is unavailable"), errorBox(error));
    return;
  }
  setUnauthorizedHandler(() => { signOut(); location.hash = "#/signin"; });
  document.getElementById("signout").addEventListener("click", () => {
    closeLive();
    signOut();
    location.hash = "#/signin";
    route();
  });
  window.addEventListener("hashchange", route);
  route();
}

start();
