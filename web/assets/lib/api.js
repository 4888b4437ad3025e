// The REST API and the upload forms it hands out. Every error becomes an ApiError whose message is the API's
// own (which names the field), so pages show it as it is.
import {idToken} from "./auth.js";
import {config} from "./config.js";

export class ApiError extends Error {
  constructor(status, body) {
    const detail = body && Array.isArray(body.errors) && body.errors[0];
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.field = detail ? detail.field : null;
    this.body = body;
  }
}

export let onUnauthorized = () => {};
export function setUnauthorizedHandler(handler) { onUnauthorized = handler; }

/** api("/tracks", {method: "POST", body: {...}}) → the JSON answer. */
export async function api(path, {method = "GET", body, query} = {}) {
  const url = new URL(config().apiUrl + path);
  for (const [key, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(key, value);
  }
  const headers = {Authorization: `Bearer ${idToken() || ""}`};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(url, {method, headers, body: body === undefined ? undefined : JSON.stringify(body)});
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = {message: text}; }
  if (response.status === 401) onUnauthorized();
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

/** POST a file with a presigned upload form ({url, fields}) straight to S3. */
export async function uploadWithForm(form, file) {
  const data = new FormData();
  for (const [key, value] of Object.entries(form.fields)) data.append(key, value);
  data.append("file", file);
  const response = await fetch(form.url, {method: "POST", body: data});
  if (!response.ok) {
    const text = await response.text();
    const message = /<Message>([^<]*)<\/Message>/.exec(text);
    throw new ApiError(response.status, {message: `upload refused: ${message ? message[1] : response.status}`});
  }
}

/** A GraphQL request (POST /graphql); errors arrive as ApiError with the first error's message. */
export async function graphql(query, variables = {}) {
  const answer = await api("/graphql", {method: "POST", body: {query, variables}});
  if (answer.errors && answer.errors.length) throw new ApiError(400, answer.errors[0]);
  return answer.data;
}
