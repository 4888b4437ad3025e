// Where the API, live progress and uploads are, and how users sign in: /config.json, written by the local
// stack (local_stack/webapp.py) or, deployed, by tools/publish_web.py from the stack's outputs.
let loaded = null;

export async function loadConfig() {
  if (!loaded) {
    const response = await fetch("/config.json", {cache: "no-store"});
    if (!response.ok) throw new Error(`config.json: HTTP ${response.status}`);
    loaded = await response.json();
  }
  return loaded;
}

export function config() {
  if (!loaded) throw new Error("config not loaded");
  return loaded;
}
