// The search page of `colpali serve`: plain JavaScript against the JSON API
// (openapi.json). Text only ever reaches the page through textContent, and
// images are fetched with the API key and shown as blob URLs, because an
// <img> tag cannot send an Authorization header.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { key: sessionStorage.getItem("colpali-key") || "", question: "", blobs: [] };

function headers(extra = {}) {
  return state.key ? { ...extra, Authorization: "Bearer " + state.key } : extra;
}

// The API's JSON error message, or a status line.
async function failure(response) {
  try {
    const body = await response.json();
    if (body && body.error && body.error.message) return body.error.message;
  } catch (_) { /* not JSON */ }
  return response.status + " " + response.statusText;
}

async function api(path, options = {}) {
  const response = await fetch(path, { ...options, headers: headers(options.headers || {}) });
  if (!response.ok) throw new Error(await failure(response));
  return response.status === 204 ? null : response.json();
}

async function imageURL(path) {
  const response = await fetch(path, { headers: headers() });
  if (!response.ok) throw new Error(await failure(response));
  const url = URL.createObjectURL(await response.blob());
  state.blobs.push(url);
  return url;
}

function releaseImages() {
  for (const url of state.blobs) URL.revokeObjectURL(url);
  state.blobs = [];
}

function setStatus(element, text, isError = false) {
  element.textContent = text;
  element.classList.toggle("error", isError);
}

function fileName(uri) {
  try { return decodeURIComponent(new URL(uri).pathname.split("/").pop()) || uri; } catch (_) { return uri; }
}

async function search(event) {
  event.preventDefault();
  const question = $("question").value.trim();
  if (!question) return;
  state.question = question;
  const button = $("search-button");
  button.disabled = true;
  setStatus($("status"), "Searching…");
  releaseImages();
  $("results").replaceChildren();
  try {
    const body = { question, limit: 12 };
    const collection = $("collection").value.trim();
    if (collection) body.collection = collection;
    const answer = await api("/v1/search", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
    const ms = answer.timings_ms || {};
    setStatus($("status"), answer.hits.length === 0 ? "No pages match." :
      `${answer.hits.length} pages in ${Math.round(ms.total || 0)} ms` +
      (ms.embed !== undefined ? ` (question ${Math.round(ms.embed)} ms, search ${Math.round(ms.search)} ms)` : ""));
    for (const hit of answer.hits) $("results").append(result(hit));
  } catch (error) {
    setStatus($("status"), error.message, true);
  } finally {
    button.disabled = false;
  }
}

function result(hit) {
  const item = document.createElement("li");
  item.className = "hit";
  item.tabIndex = 0;
  item.dataset.pageId = hit.page_id;
  const picture = document.createElement("div");
  picture.className = "noimage";
  picture.textContent = "loading page…";
  const meta = document.createElement("div");
  meta.className = "meta";
  const rank = document.createElement("span");
  rank.className = "rank";
  rank.textContent = `#${hit.rank} · page ${hit.page_number}`;
  const score = document.createElement("span");
  score.className = "score";
  score.textContent = hit.score.toFixed(3);
  const doc = document.createElement("div");
  doc.className = "doc";
  doc.textContent = hit.title || fileName(hit.source_uri);
  doc.title = hit.source_uri;
  meta.append(rank, score, doc);
  item.append(picture, meta);
  imageURL(`/v1/pages/${hit.page_id}/image`).then((url) => {
    const img = document.createElement("img");
    img.alt = `Page ${hit.page_number} of ${doc.textContent}`;
    img.src = url;
    picture.replaceWith(img);
  }).catch((error) => { picture.textContent = error.message; });
  const open = () => openPage(hit, doc.textContent);
  item.addEventListener("click", open);
  item.addEventListener("keydown", (e) => { if (e.key === "Enter") open(); });
  return item;
}

async function openPage(hit, name) {
  $("viewer").hidden = false;
  $("viewer-title").textContent = `${name} — page ${hit.page_number} (score ${hit.score.toFixed(3)})`;
  $("tokens").replaceChildren();
  const q = encodeURIComponent(state.question);
  const show = async (token, chip) => {
    for (const other of $("tokens").children) other.setAttribute("aria-pressed", String(other === chip));
    const image = $("viewer-image");
    image.removeAttribute("src");
    image.alt = "Drawing the similarity map…";
    // The page shows its own legend and token chips: the map alone.
    const suffix = (token === null ? "" : `&token=${token}`) + "&legend=false";
    try {
      image.src = await imageURL(`/v1/pages/${hit.page_id}/map?question=${q}${suffix}`);
      image.alt = "Page with the question's similarity map";
    } catch (error) {
      image.alt = error.message;
    }
  };
  const whole = document.createElement("button");
  whole.type = "button";
  whole.className = "token";
  whole.textContent = "whole question";
  whole.addEventListener("click", () => show(null, whole));
  $("tokens").append(whole);
  show(null, whole);
  try {
    const info = await api(`/v1/pages/${hit.page_id}/map.json?question=${q}`);
    for (const token of info.tokens) {
      const chip = document.createElement("button");
      chip.type = "button";
      chip.className = "token";
      chip.textContent = token.text.trim() || "␣";
      chip.title = `best patch ${token.best.toFixed(3)}`;
      chip.setAttribute("aria-pressed", "false");
      chip.addEventListener("click", () => show(token.index, chip));
      $("tokens").append(chip);
    }
  } catch (error) {
    const note = document.createElement("span");
    note.className = "hint";
    note.textContent = error.message;
    $("tokens").append(note);
  }
}

function upload(event) {
  event.preventDefault();
  const file = $("upload-file").files[0];
  if (!file) return;
  const form = new FormData();
  form.append("file", file, file.name);
  const collection = $("collection").value.trim();
  if (collection) form.append("options", JSON.stringify({ collection }));
  const progress = $("upload-progress");
  progress.hidden = false;
  progress.value = 0;
  $("upload-button").disabled = true;
  setStatus($("upload-status"), "Uploading…");
  // XMLHttpRequest, not fetch: it reports upload progress.
  const request = new XMLHttpRequest();
  request.open("POST", "/v1/documents");
  if (state.key) request.setRequestHeader("Authorization", "Bearer " + state.key);
  request.upload.onprogress = (e) => { if (e.lengthComputable) progress.value = Math.round(100 * e.loaded / e.total); };
  request.onerror = () => finishUpload("The upload failed: the server could not be reached.", true);
  request.onload = () => {
    let body = null;
    try { body = JSON.parse(request.responseText); } catch (_) { /* not JSON */ }
    if (request.status !== 202) {
      finishUpload((body && body.error && body.error.message) || `${request.status} ${request.statusText}`, true);
      return;
    }
    progress.value = 100;
    finishUpload(`Queued as job ${body.job_id}…`);
    followJob(body.job_id);
  };
  request.send(form);
}

function finishUpload(text, isError = false) {
  $("upload-button").disabled = false;
  if (isError) $("upload-progress").hidden = true;
  setStatus($("upload-status"), text, isError);
}

async function followJob(id) {
  try {
    const job = await api(`/v1/jobs/${id}`);
    if (job.state === "done") {
      $("upload-progress").hidden = true;
      setStatus($("upload-status"), `Job ${id} done: document ${job.document_id} is searchable.`);
      refreshQueue();
      return;
    }
    if (job.state === "failed") {
      setStatus($("upload-status"), `Job ${id} failed: ${job.error || "no reason given"}`, true);
      refreshQueue();
      return;
    }
    setStatus($("upload-status"), `Job ${id} ${job.state}…`);
  } catch (error) {
    setStatus($("upload-status"), error.message, true);
    return;
  }
  setTimeout(() => followJob(id), 1000);
}

async function refreshQueue() {
  try {
    const counts = await api("/v1/queue");
    $("queue-status").textContent = `Queue: ${counts.queued} waiting, ${counts.running} running, ${counts.failed} failed`;
  } catch (error) {
    $("queue-status").textContent = "";
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("search-form").addEventListener("submit", search);
  $("upload-form").addEventListener("submit", upload);
  $("viewer-close").addEventListener("click", () => { $("viewer").hidden = true; });
  $("key-button").addEventListener("click", () => { $("key-panel").hidden = !$("key-panel").hidden; });
  $("api-key").value = state.key;
  $("key-save").addEventListener("click", () => {
    state.key = $("api-key").value.trim();
    sessionStorage.setItem("colpali-key", state.key);
    $("key-panel").hidden = true;
    refreshQueue();
  });
  refreshQueue();
  setInterval(refreshQueue, 3000);
});
