// Signing in. Locally: a user name gets a token from the local stack (POST /_local/token). Deployed: the
// Cognito hosted UI, authorization code flow with PKCE (RFC 7636), no client secret in the browser.
import {config} from "./config.js";

const TOKEN_KEY = "soundcanvas.idToken";
const PKCE_KEY = "soundcanvas.pkce";

function base64url(bytes) {
  return btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function claims(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(part.padEnd(part.length + ((4 - (part.length % 4)) % 4), "=")));
  } catch {
    return null;
  }
}

/** The signed-in user's ID token, or null when nobody is signed in or the token has expired. */
export function idToken() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const payload = token && claims(token);
  if (!payload || payload.exp * 1000 < Date.now() + 10_000) {
    sessionStorage.removeItem(TOKEN_KEY);
    return null;
  }
  return token;
}

export function currentUser() {
  const token = idToken();
  const payload = token && claims(token);
  return payload ? {id: payload.sub, name: payload.email || payload["cognito:username"] || payload.sub,
                    groups: payload["cognito:groups"] || []} : null;
}

export async function signInLocal(user) {
  const response = await fetch("/_local/token", {
    method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify({user}),
  });
  const body = await response.json();
  if (!response.ok) throw new Error(body.message || `HTTP ${response.status}`);
  sessionStorage.setItem(TOKEN_KEY, body.token);
}

function redirectUri() {
  return config().redirectUri || `${location.origin}/`;
}

export async function signInHosted() {
  const verifier = base64url(crypto.getRandomValues(new Uint8Array(48)));
  const state = base64url(crypto.getRandomValues(new Uint8Array(16)));
  const challenge = base64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  sessionStorage.setItem(PKCE_KEY, JSON.stringify({verifier, state}));
  const query = new URLSearchParams({
    response_type: "code", client_id: config().clientId, redirect_uri: redirectUri(), scope: "openid email",
    state, code_challenge_method: "S256", code_challenge: challenge,
  });
  location.assign(`${config().authUrl}/oauth2/authorize?${query}`);
}

/** After the hosted UI sends the browser back with ?code=&state=: trade the code for tokens. */
export async function completeHostedSignIn() {
  const params = new URLSearchParams(location.search);
  if (!params.has("code")) return false;
  const saved = JSON.parse(sessionStorage.getItem(PKCE_KEY) || "null");
  sessionStorage.removeItem(PKCE_KEY);
  history.replaceState(null, "", location.pathname + location.hash);
  if (!saved || saved.state !== params.get("state")) throw new Error("sign-in was not started here; try again");
  const response = await fetch(`${config().authUrl}/oauth2/token`, {
    method: "POST",
    headers: {"Content-Type": "application/x-www-form-urlencoded"},
    body: new URLSearchParams({
      grant_type: "authorization_code", client_id: config().clientId, code: params.get("code"),
      redirect_uri: redirectUri(), code_verifier: saved.verifier,
    }),
  });
  const body = await response.json();
  if (!response.ok || !body.id_token) throw new Error(body.error_description || body.error || "sign-in failed");
  sessionStorage.setItem(TOKEN_KEY, body.id_token);
  return true;
}

export function signOut() {
  sessionStorage.removeItem(TOKEN_KEY);
  if (config().auth === "cognito") {
    const query = new URLSearchParams({client_id: config().clientId, logout_uri: redirectUri()});
    location.assign(`${config().authUrl}/logout?${query}`);
  }
}
