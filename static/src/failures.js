// When an htmx request fails (refused, server error, network down), say so in the page and to
// screen readers; nothing is swapped, so the page still shows what the server last confirmed.
// The messages come from the server, in the page's language (data attributes on <body>).
export function reportFailures(root) {
  const show = (text) => {
    const box = document.getElementById("request-failed");
    if (!box || !text) return;
    box.textContent = text;
    box.hidden = false;
  };
  root.addEventListener("htmx:responseError", (event) => {
    const status = event.detail.xhr ? event.detail.xhr.status : 0;
    const key = status === 403 ? "msgForbidden" : status === 404 ? "msgNotFound" : "msgFailed";
    show(document.body.dataset[key]);
  });
  root.addEventListener("htmx:sendError", () => show(document.body.dataset.msgOffline));
  root.addEventListener("htmx:beforeRequest", () => {
    const box = document.getElementById("request-failed");
    if (box) box.hidden = true;
  });
}
