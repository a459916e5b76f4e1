// The playground: pick an image (file, drop or URL), send it, show what the API answered.
//
// Signed in, it posts to /ui/api/caption with the session cookie and the page's CSRF token;
// otherwise to /v1/imagecaption with the key typed on the page, which lives only in this
// script's memory and the input field (never in storage). Everything that came from the server
// or the user is shown with textContent, never parsed as HTML.
//
// What the page can tell before sending (no key, a file over the size limit, something that is
// not an http(s) URL) it says at once, without a call; everything else is the API's own answer.

import { formatSize, isWebUrl } from "./checks.js";
import { parseEnvelope } from "./formats.js";
import { buildSnippets, maskKey } from "./snippets.js";

const $ = (id) => document.getElementById(id);
const form = $("caption-form");
const signedIn = form.dataset.signedIn === "true";
const csrfToken = document.querySelector('meta[name="csrf-token"]').content;
const fileInput = $("image-file");
const urlInput = $("image-url");
const keyInput = $("one-off-key");
const formatSelect = $("format");
const numCaptions = $("num-captions");
const maxLength = $("max-length");
const details = $("details");
const readText = $("read-text");
const language = $("lang");
const dropzone = form.querySelector("[data-dropzone]");
const fileHint = $("file-hint");
const fileHintText = fileHint.textContent;
const maxBytes = Number(form.dataset.maxBytes);
const tooLargeMessage = form.dataset.tooLarge;
const reducedMotion = window.matchMedia("(prefers-reduced-motion: reduce)");

let chosenFile = null;
let previewUrl = null;

function source() {
  return form.querySelector('input[name="source"]:checked').value;
}

function showSource() {
  const byUrl = source() === "url";
  $("file-source").hidden = byUrl;
  $("url-source").hidden = !byUrl;
  refreshSnippets();
}

function choose(file) {
  chosenFile = file || null;
  form.querySelector('input[name="source"][value="file"]').checked = true;
  if (!chosenFile) {
    fileHint.textContent = fileHintText;
  } else {
    const over = chosenFile.size > maxBytes ? `: too large, ${tooLargeMessage}` : "";
    fileHint.textContent = `Selected: ${chosenFile.name} (${formatSize(chosenFile.size)})${over}`;
  }
  showSource();
}

// A dropped file goes into the file control too, so that the control and the hint agree.
function chooseDropped(files) {
  try {
    fileInput.files = files;
  } catch {
    // Browsers that cannot set a file list still send the dropped file; only the control lags.
  }
  choose(files[0]);
}

// The options that differ from their defaults, as the query string the API reads them from;
// whatever was typed goes as it is, and the API says what it makes of it.
function optionQuery() {
  const query = new URLSearchParams();
  const captions = numCaptions.value.trim();
  if (captions && captions !== numCaptions.defaultValue) query.set("num_captions", captions);
  if (maxLength.value.trim()) query.set("max_length", maxLength.value.trim());
  if (details.checked) query.set("details", "true");
  if (String(readText.checked) !== readText.dataset.default) query.set("read_text", String(readText.checked));
  if (language.value) query.set("lang", language.value);
  const text = query.toString();
  return text ? `?${text}` : "";
}

function refreshSnippets() {
  const key = signedIn ? form.dataset.keyHint : maskKey(keyInput ? keyInput.value.trim() : "");
  const snippets = buildSnippets({
    endpoint: `${window.location.origin}/v1/imagecaption${optionQuery()}`,
    key,
    accept: formatSelect.value,
    source: source() === "url"
      ? { kind: "url", url: urlInput.value.trim() }
      : { kind: "file", name: chosenFile ? chosenFile.name : "" },
  });
  for (const [language, text] of Object.entries(snippets)) {
    $(`snippet-${language}`).textContent = text;
  }
}

function request() {
  const accept = formatSelect.value;
  const headers = { Accept: accept };
  let endpoint = "/v1/imagecaption";
  if (signedIn) {
    endpoint = "/ui/api/caption";
    headers["X-CSRF-Token"] = csrfToken;
  } else if (keyInput.value.trim()) {
    headers["X-API-Key"] = keyInput.value.trim();
  }
  let body;
  if (source() === "url") {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify({ image: urlInput.value.trim() });
  } else {
    body = new FormData();
    if (chosenFile) body.append("image", chosenFile);
  }
  return {
    endpoint: endpoint + optionQuery(),
    accept,
    init: { method: "POST", headers, body, credentials: "same-origin" },
  };
}

// Refusals the page can make on its own, before anything is sent; null when the call may go.
function refusal() {
  if (!signedIn && !keyInput.value.trim()) {
    return { message: "API key is required. Type yours above, or sign in.", field: keyInput };
  }
  if (source() === "url") {
    if (!isWebUrl(urlInput.value.trim())) {
      return {
        message: "That is not a valid image URL: it must be a web address starting with http:// or https://.",
        field: urlInput,
      };
    }
  } else if (!chosenFile) {
    return { message: "Choose an image first, or drop one on the page.", field: fileInput };
  } else if (chosenFile.size > maxBytes) {
    return { message: tooLargeMessage, field: fileInput };
  }
  return null;
}

function setBusy(busy) {
  $("caption-button").disabled = busy;
  $("busy").hidden = !busy;
  $("result").setAttribute("aria-busy", String(busy));
}

function showPreview() {
  if (previewUrl) URL.revokeObjectURL(previewUrl);
  previewUrl = null;
  const show = source() === "file" && chosenFile !== null;
  if (show) {
    previewUrl = URL.createObjectURL(chosenFile);
    $("preview").src = previewUrl;
  }
  $("preview-box").hidden = !show;
  // Without a preview the answer takes the whole width instead of a narrow first column.
  $("result-grid").classList.toggle("with-preview", show);
}

function showAnswer(response, text, accept, elapsedMs) {
  $("status").textContent = `${response.status} ${response.statusText}`.trim();
  $("elapsed").textContent = `${Math.round(elapsedMs)} ms`;
  const credits = response.headers.get("x-api-remaining-tokens") ?? "–";
  // Grouped like the dashboard's figures (9,999,990); anything else is shown as it came.
  $("credits").textContent = /^\d+$/.test(credits) ? Number(credits).toLocaleString("en-US") : credits;
  $("request-id").textContent = response.headers.get("x-request-id") ?? "–";
  $("language").textContent = response.headers.get("content-language") ?? "–";
  $("raw").textContent = text;
  let answer;
  try {
    answer = parseEnvelope(text, accept);
  } catch {
    answer = { status: "error", error: `HTTP ${response.status}: the answer could not be read.`, caption: null };
  }
  showOutcome(answer.status === "ok" ? answer.caption : null, answer.status === "ok" ? null : answer.error);
}

function showOutcome(caption, error) {
  $("caption").textContent = caption ?? "";
  $("caption").hidden = caption === null;
  $("error").textContent = error ?? "";
  $("error").hidden = error === null;
}

// The answer gets the focus, so that a screen reader reads it and the next Tab continues from
// there rather than from the top of the page, and is scrolled into view (on a phone it is far
// below the button).
function presentResult() {
  const result = $("result");
  const outcome = $("caption").hidden ? $("error") : $("caption");
  result.scrollIntoView({ block: "start", behavior: reducedMotion.matches ? "auto" : "smooth" });
  outcome.focus({ preventScroll: true });
}

function showRefusal({ message }) {
  $("result").hidden = false;
  showPreview();
  for (const id of ["elapsed", "credits", "request-id", "language"]) $(id).textContent = "–";
  $("status").textContent = "Not sent";
  $("raw").textContent = "(nothing was sent)";
  showOutcome(null, message);
  presentResult();
}

// The API answers a revoked key like an unknown one; the page asks this server which it was.
async function explainRefusedKey(key) {
  try {
    const response = await fetch("/ui/api/key-state", {
      method: "POST",
      headers: { "X-API-Key": key },
      credentials: "same-origin",
    });
    const state = await response.json();
    return state.message;
  } catch {
    return null;
  }
}

async function submit(event) {
  event.preventDefault();
  const refused = refusal();
  if (refused) {
    showRefusal(refused);
    return;
  }
  const { endpoint, accept, init } = request();
  setBusy(true);
  $("result").hidden = false;
  showPreview();
  const started = performance.now();
  try {
    const response = await fetch(endpoint, init);
    const text = await response.text();
    showAnswer(response, text, accept, performance.now() - started);
    if (response.status === 401 && !signedIn) {
      const why = await explainRefusedKey(keyInput.value.trim());
      if (why) showOutcome(null, why);
    }
  } catch (error) {
    for (const id of ["status", "elapsed", "credits", "request-id", "language", "raw"]) $(id).textContent = "";
    showOutcome(null, `The request did not complete: ${error.message}`);
  } finally {
    setBusy(false);
    presentResult();
  }
}

// Tabs for the code snippets: arrow keys move between them, as WAI-ARIA describes.
function setupTabs() {
  const tabs = [...document.querySelectorAll('[role="tab"]')];
  const select = (tab) => {
    for (const other of tabs) {
      const selected = other === tab;
      other.setAttribute("aria-selected", String(selected));
      other.tabIndex = selected ? 0 : -1;
      $(other.getAttribute("aria-controls")).hidden = !selected;
    }
  };
  tabs.forEach((tab, index) => {
    tab.addEventListener("click", () => select(tab));
    tab.addEventListener("keydown", (event) => {
      const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
      if (!step) return;
      const next = tabs[(index + step + tabs.length) % tabs.length];
      select(next);
      next.focus();
    });
  });
}

function setupDropzone() {
  for (const type of ["dragenter", "dragover"]) {
    dropzone.addEventListener(type, (event) => {
      event.preventDefault();
      dropzone.classList.add("dragging");
    });
  }
  for (const type of ["dragleave", "drop"]) {
    dropzone.addEventListener(type, () => dropzone.classList.remove("dragging"));
  }
  dropzone.addEventListener("drop", (event) => {
    event.preventDefault();
    if (event.dataTransfer.files.length) chooseDropped(event.dataTransfer.files);
  });
}

form.addEventListener("submit", submit);
fileInput.addEventListener("change", () => choose(fileInput.files[0]));
for (const radio of form.querySelectorAll('input[name="source"]')) {
  radio.addEventListener("change", showSource);
}
for (const input of [urlInput, keyInput, formatSelect, numCaptions, maxLength, details, readText, language]) {
  if (input) input.addEventListener("input", refreshSnippets);
}
setupTabs();
setupDropzone();
showSource();
