// Where the editor connects, and which closes end its connection for good.

// Close codes after which connecting again cannot help: the message was too large (1009) or
// malformed (1003, 1007), or the server refused this person or this document (44xx: session,
// role, document unknown or frozen). Every other close (1006 network, 1012 restart, 1013 try
// later…) reconnects, with y-websocket's backoff.
export function isFinal(code) {
  return code === 1003 || code === 1007 || code === 1009 || (code >= 4400 && code < 4500);
}

// Which message of the mount's data attributes tells the person about a final close.
export function finalMessageKey(code) {
  if (code === 1009) return "msgTooLarge";
  if (code === 4401) return "msgSessionEnded";
  if (code === 4403 || code === 4404) return "msgNoAccess";
  if (code === 4409) return "msgFrozen";
  if (code === 4429) return "msgTooMany";
  return "msgStopped";
}

// The provider's server URL, room name and parameters, so that the socket's URL is exactly the
// mount's data-socket-url (url_for('document_socket', …), a path) with ?ack=1, on this page's
// host: y-websocket connects to `${serverUrl}/${roomname}?${params}`.
export function socketAddress(path, base) {
  const url = new URL(path, base);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  url.search = "";
  url.hash = "";
  const href = url.href;
  const cut = href.lastIndexOf("/");
  return { serverUrl: href.slice(0, cut), room: href.slice(cut + 1), params: { ack: "1" } };
}
