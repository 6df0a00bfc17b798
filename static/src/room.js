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
