// Reads the API's envelope back from whichever format was asked for (JSON, XML, YAML, CSV), so
// the page can show the caption or the error message while showing the raw body untouched.
// Returns {status, error, caption}. Values are only ever put on the page as text.

export function parseEnvelope(text, mediaType) {
  switch (mediaType) {
    case "application/xml": return fromXml(text);
    case "application/yaml": return fromYaml(text);
    case "text/csv": return fromCsv(text);
    default: return fromJson(text);
  }
}

function envelope(status, error, data) {
  return { status, error: error ?? null, caption: data ? data.caption ?? null : null };
}

function fromJson(text) {
  const parsed = JSON.parse(text);
  return envelope(parsed.status, parsed.error, parsed.data);
}

function fromXml(text) {
  const doc = new DOMParser().parseFromString(text, "application/xml");
  if (doc.querySelector("parsererror")) throw new Error("not XML");
  const field = (selector) => {
    const element = doc.querySelector(selector);
    if (!element || element.getAttribute("xsi:nil") === "true") return null;
    return element.textContent;
  };
  const caption = field("response > data > caption");
  return envelope(field("response > status"), field("response > error"),
    caption === null ? null : { caption });
}

// CSV: a "key,value" header, a "status" row, then one row per data field, or an "error" row.
function fromCsv(text) {
  const rows = csvRows(text).slice(1);
  const fields = Object.fromEntries(rows.filter((row) => row.length >= 2));
  if (fields.status === "error") return envelope("error", fields.error, null);
  return envelope("ok", null, { caption: fields.caption });
}

function csvRows(text) {
  const rows = [];
  let row = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i++; }
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") { row.push(field); field = ""; }
    else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      row.push(field); rows.push(row); row = []; field = "";
    } else field += c;
  }
  if (field || row.length) { row.push(field); rows.push(row); }
  return rows;
}

// YAML: only what PyYAML's safe_dump writes for the envelope: scalars that are plain,
// 'single-quoted' or "double-quoted", possibly folded over several indented lines.
function fromYaml(text) {
  const status = yamlScalar(text, "status", "");
  const error = yamlScalar(text, "error", "");
  const caption = yamlScalar(text, "caption", "  ");
  return envelope(status, error, caption === null ? null : { caption });
}

function yamlScalar(text, key, indent) {
  const lines = text.split(/\r?\n/);
  const start = lines.findIndex((line) => line.startsWith(`${indent}${key}:`));
  if (start < 0) return null;
  const parts = [lines[start].slice(indent.length + key.length + 1).trim()];
  for (const line of lines.slice(start + 1)) {
    if (line.trim() && line.length - line.trimStart().length <= indent.length) break;
    parts.push(line.trim());
  }
  while (parts.length > 1 && parts[parts.length - 1] === "") parts.pop();
  const quote = parts[0][0];
  if (quote !== "'" && quote !== '"') {
    const plain = fold(parts, false);
    return plain === "" || plain === "null" || plain === "~" ? null : plain;
  }
  const inner = fold(parts, quote === '"').slice(1, -1);
  return quote === "'" ? inner.replaceAll("''", "'") : unescapeDoubleQuoted(inner);
}

// Line folding: one line break becomes a space, each empty line a newline; in double quotes a
// backslash at the end of a line joins the next line without a space.
function fold(parts, doubleQuoted) {
  let result = parts[0];
  let newlines = 0;
  for (const part of parts.slice(1)) {
    if (part === "") { newlines++; continue; }
    if (newlines) result += "\n".repeat(newlines);
    else if (doubleQuoted && /(^|[^\\])(\\\\)*\\$/.test(result)) result = result.slice(0, -1);
    else result += " ";
    result += part;
    newlines = 0;
  }
  return result;
}

const ESCAPES = {
  "0": "\0", a: "\x07", b: "\b", t: "\t", "\t": "\t", n: "\n", v: "\v", f: "\f", r: "\r",
  e: "\x1b", " ": " ", '"': '"', "/": "/", "\\": "\\", N: "\x85", _: "\xa0",
  L: "\u2028", P: "\u2029",
};

function unescapeDoubleQuoted(text) {
  return text.replace(/\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|.)/g, (_, code) => {
    if (code.length > 1) return String.fromCodePoint(parseInt(code.slice(1), 16));
    return ESCAPES[code] ?? code;
  });
}
