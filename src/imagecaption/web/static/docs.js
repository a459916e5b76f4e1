// Starts Swagger UI on the API docs page; a file rather than an inline script, so the page keeps
// the strict Content-Security-Policy of the others.
//
// deepLinking stays off: it puts a link inside each operation's expand button, a control inside
// a control that keyboards and screen readers cannot use properly. validatorUrl is off: its badge
// is an image from swagger.io. persistAuthorization stays off: the key typed into Authorize lives
// in this tab's memory only, never in the browser's storage.
//
// A few of Swagger UI's icon-only buttons, and the fields it draws for the parameters, have no
// name for screen readers; they get one here whenever Swagger UI draws them.

const root = document.getElementById("swagger-ui");
window.SwaggerUIBundle({
  url: root.dataset.openapiUrl,
  domNode: root,
  deepLinking: false,
  validatorUrl: null,
  persistAuthorization: false,
  defaultModelsExpandDepth: 0,
});

const UNNAMED_BUTTONS = [
  [".close-modal", "Close"],
  [".copy-to-clipboard button", "Copy to clipboard"],
  [".opblock-control-arrow", "Show or hide the details"],
  [".authorization__btn", "Authorize this operation"],
];

function nameButtons() {
  for (const [selector, label] of UNNAMED_BUTTONS) {
    for (const button of root.querySelectorAll(selector)) {
      if (!button.getAttribute("aria-label") && !button.textContent.trim()) {
        button.setAttribute("aria-label", label);
      }
    }
  }
}

// A parameter's field is named after the parameter ("num_captions", "details").
function nameParameterFields() {
  for (const row of root.querySelectorAll("tr[data-param-name]")) {
    for (const field of row.querySelectorAll("select, input, textarea")) {
      if (!field.getAttribute("aria-label") && !field.labels?.length) {
        field.setAttribute("aria-label", row.dataset.paramName);
      }
    }
  }
}

new MutationObserver(() => {
  nameButtons();
  nameParameterFields();
}).observe(root, { childList: true, subtree: true });
