// Copy buttons: <button data-copy="element-id"> copies that element's value or text.
// The clipboard API needs a secure context (HTTPS or localhost); elsewhere the text is selected
// so that the person can copy it with the keyboard.

function textOf(target) {
  return "value" in target ? target.value : target.textContent;
}

function select(target) {
  if (typeof target.select === "function") {
    target.select();
    return;
  }
  const range = document.createRange();
  range.selectNodeContents(target);
  const selection = window.getSelection();
  selection.removeAllRanges();
  selection.addRange(range);
}

async function copy(button) {
  const target = document.getElementById(button.dataset.copy);
  if (!target) return;
  const label = button.dataset.label || button.textContent;
  button.dataset.label = label;
  try {
    await navigator.clipboard.writeText(textOf(target));
    button.textContent = "Copied";
  } catch {
    select(target);
    button.textContent = "Selected: press Ctrl+C";
  }
  setTimeout(() => { button.textContent = label; }, 2000);
}

document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-copy]");
  if (button) copy(button);
});
