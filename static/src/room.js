// The room screen opened with a room link (…/sala#t=<secret>): the secret travels in the
// fragment, which the browser sends to no server and in no Referer. This takes it out of the
// address bar at once and posts it, once, to the screen's exchange address, which answers with a
// cookie scoped to the screen (server/web/room.py); the screen then loads with it.
export function openRoomScreen(doc) {
  if (!location.hash.startsWith("#t=")) return;
  const secret = decodeURIComponent(location.hash.slice(3));
  history.replaceState(null, "", location.pathname + location.search);
  const exchange = doc.body.dataset.roomExchange;
  const message = doc.getElementById("room-door-message");
  if (!exchange || !message) return; // a page opened with a role: the fragment is simply dropped
  message.textContent = message.dataset.opening;
  const headers = JSON.parse(doc.body.getAttribute("hx-headers") || "{}");
  fetch(exchange, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded", "X-CSRF-Token": headers["X-CSRF-Token"] || "" },
    body: new URLSearchParams({ secret }),
    credentials: "same-origin",
    redirect: "manual",
  })
    .then((response) => {
      if (response.status === 204) location.replace(location.pathname);
      else message.textContent = message.dataset.refused;
    })
    .catch(() => {
      message.textContent = message.dataset.refused;
    });
}

// A meeting-room control answers with its region replaced (out of band): the button that had the
// focus may be gone (a speaker given the floor leaves the waiting list), and the focus would fall
// to <body>. Put it on the region's first enabled control instead (the new "stop the speaker",
// the next "give the floor"), so that a keyboard user keeps their place.
export function keepFocusInRegions(root) {
  let region = null;
  root.addEventListener("htmx:beforeRequest", (event) => {
    const found = event.target.closest ? event.target.closest("[data-keeps-focus]") : null;
    region = found ? found.id : null;
  });
  const refocus = () => {
    if (!region || (document.activeElement && document.activeElement !== document.body)) return;
    const again = document.getElementById(region);
    const control = again && again.querySelector("button:not([disabled]):not([hidden] *)");
    if (control) control.focus({ preventScroll: false });
    region = null;
  };
  root.addEventListener("htmx:afterSettle", refocus);
  root.addEventListener("htmx:oobAfterSwap", () => setTimeout(refocus, 0));
}
