// What the playground checks before sending anything, so that it can say at once what the
// server would refuse: sizes as the server writes them, and whether a text is a web address.

// The server's own rule (imagecaption.images.limits.format_size): KB and MB of 1,024, one
// decimal, ties rounded to even as Python does (exact here: the divisors are powers of two).
export function formatSize(size) {
  for (const [unit, factor] of [["MB", 1024 * 1024], ["KB", 1024]]) {
    if (size >= factor) {
      const tenths = (size * 10) / factor;
      let rounded = Math.floor(tenths);
      const rest = tenths - rounded;
      if (rest > 0.5 || (rest === 0.5 && rounded % 2 === 1)) rounded += 1;
      return `${(rounded / 10).toFixed(1).replace(/\.0$/, "")} ${unit}`;
    }
  }
  return `${size} bytes`;
}

// Only http(s) addresses with a host name; the server checks the rest (private addresses,
// redirects) when it fetches.
export function isWebUrl(text) {
  try {
    const url = new URL(text);
    return (url.protocol === "http:" || url.protocol === "https:") && url.hostname !== "";
  } catch {
    return false;
  }
}
