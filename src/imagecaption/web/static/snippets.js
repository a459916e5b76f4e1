// The playground's request as curl, Python and JavaScript, for the public API endpoint, with the
// key masked. Every user-supplied piece (URL, file name) is quoted for its language, and the
// snippets are put on the page as text.

export const MASK = "****";

// "ick-AbCd1234-<secret>" shows as "ick-AbCd1234-****": the public id stays, the secret goes.
export function maskKey(key) {
  if (!key) return "YOUR_API_KEY";
  const match = /^([A-Za-z]+-[A-Za-z0-9]+)-/.exec(key);
  return match ? `${match[1]}-${MASK}` : MASK;
}

function shellQuote(text) {
  return `'${text.replaceAll("'", "'\\''")}'`;
}

// A JSON string literal is also a valid Python and JavaScript string literal.
const literal = (text) => JSON.stringify(text);

export function buildSnippets({ endpoint, key, accept, source }) {
  const wantsJson = accept === "application/json";
  const byUrl = source.kind === "url";
  const fileName = source.name || "photo.jpg";
  const imageUrl = source.url || "https://example.org/cat.jpg";

  const curl = [`curl -X POST ${shellQuote(endpoint)}`, `  -H ${shellQuote(`X-API-Key: ${key}`)}`];
  if (!wantsJson) curl.push(`  -H ${shellQuote(`Accept: ${accept}`)}`);
  if (byUrl) {
    curl.push("  -H 'Content-Type: application/json'");
    curl.push(`  -d ${shellQuote(JSON.stringify({ image: imageUrl }))}`);
  } else {
    curl.push(`  -F ${shellQuote(`image=@${fileName}`)}`);
  }

  const pyHeaders = [`"X-API-Key": ${literal(key)}`];
  if (!wantsJson) pyHeaders.push(`"Accept": ${literal(accept)}`);
  const python = [
    "import requests",
    "",
    ...(byUrl ? [] : [`with open(${literal(fileName)}, "rb") as image:`]),
  ];
  const pad = byUrl ? "" : "    ";
  python.push(
    `${pad}response = requests.post(`,
    `${pad}    ${literal(endpoint)},`,
    `${pad}    headers={${pyHeaders.join(", ")}},`,
    byUrl
      ? `${pad}    json={"image": ${literal(imageUrl)}},`
      : `${pad}    files={"image": image},`,
    `${pad})`,
    "print(response.status_code, response.text)",
  );

  const jsHeaders = [`"X-API-Key": ${literal(key)}`];
  if (!wantsJson) jsHeaders.push(`Accept: ${literal(accept)}`);
  const javascript = [];
  if (byUrl) {
    jsHeaders.push(`"Content-Type": "application/json"`);
  } else {
    javascript.push(
      `// file: a File from <input type="file">, e.g. ${literal(fileName)}`,
      "const body = new FormData();",
      'body.append("image", file);',
    );
  }
  javascript.push(
    `const response = await fetch(${literal(endpoint)}, {`,
    '  method: "POST",',
    `  headers: { ${jsHeaders.join(", ")} },`,
    byUrl ? `  body: JSON.stringify({ image: ${literal(imageUrl)} }),` : "  body,",
    "});",
    "console.log(response.status, await response.text());",
  );

  return {
    curl: curl.join(" \\\n"),
    python: python.join("\n"),
    javascript: javascript.join("\n"),
  };
}
