import { focusInItem } from "./focus.js";

// The live connection of a table page (htmx-ext-ws does the connecting and the swapping).

// The badge says plainly whether the page is live. The server closes with 44xx codes when the
// session ended or access was lost: htmx does not retry those, and the page says why.
// A page may hold several connections ("my action items" follows each table): each says its own
// state in the badge inside its element.
export function followLiveConnection(root) {
  const say = (event, state, key) => {
    const badge = event.target.querySelector && event.target.querySelector(".live-status");
    if (!badge) return;
    badge.dataset.state = state;
    badge.textContent = document.body.dataset[key] || "";
  };
  root.addEventListener("htmx:wsConnecting", (event) => say(event, "connecting", "liveConnecting"));
  root.addEventListener("htmx:wsOpen", (event) => say(event, "open", "liveOpen"));
  root.addEventListener("htmx:wsClose", (event) => {
    const code = event.detail.event ? event.detail.event.code : 1006;
    if (code === 4401) say(event, "ended", "liveSessionEnded");
    else if (code === 4403 || code === 4404) say(event, "ended", "liveNoAccess");
    else if ([1006, 1011, 1012, 1013].includes(code)) say(event, "reconnecting", "liveReconnecting");
    else say(event, "ended", "liveStopped");
  });
}

// A pushed fragment must not wipe what someone is typing, nor take their focus away.
// - Focus: remember the focused element's id before a message and focus its new copy after.
// - Work in progress: a region with a form being edited is not replaced; a notice offers to
//   show the new version when the person is ready (nothing they typed is lost).
export function keepWorkInProgress(root) {
  let focusedId = null;
  root.addEventListener("input", (event) => {
    const form = event.target.closest && event.target.closest("form");
    if (form) form.dataset.dirty = "true";
  });
  root.addEventListener("htmx:wsBeforeMessage", () => {
    const active = document.activeElement;
    focusedId = active && active !== document.body && active.id ? active.id : null;
  });
  root.addEventListener("htmx:oobBeforeSwap", (event) => {
    const target = event.detail.target;
    if (!target || !target.querySelector || !target.querySelector("form[data-dirty]")) return;
    event.preventDefault();
    holdBack(target, event.detail.fragment);
  });
  root.addEventListener("htmx:wsAfterMessage", () => {
    if (!focusedId) return;
    const again = document.getElementById(focusedId);
    if (again && document.activeElement !== again) {
      // The push may come before the answer to one's own click (which then lands in the replaced
      // region): a control that is now disabled (an item moved to the top) hands the focus to
      // the first enabled control of its item, as focus.js does after an htmx swap.
      if (!again.disabled) again.focus({ preventScroll: true });
      else focusInItem(again.closest("[data-item]"));
    }
    focusedId = null;
  });
}

function holdBack(target, fragment) {
  const incoming = fragment && (fragment.firstElementChild || fragment);
  if (!incoming) return;
  target.dataset.newer = "true";
  let notice = target.querySelector(":scope > .newer-version");
  if (!notice) {
    notice = document.createElement("div");
    notice.className = "newer-version alert alert-info";
    notice.setAttribute("role", "status");
    const text = document.createElement("span");
    text.textContent = document.body.dataset.liveNewer || "";
    const button = document.createElement("button");
    button.type = "button";
    button.className = "btn btn-sm btn-outline-primary ms-2";
    button.textContent = document.body.dataset.liveShowNewer || "";
    notice.append(text, button);
    target.prepend(notice);
  }
  const copy = incoming.cloneNode(true);
  notice.querySelector("button").onclick = () => {
    // The disclosures the person had open (a form they were filling) stay open in the new version.
    for (const open of target.querySelectorAll("details[open][id]")) {
      const again = copy.querySelector(`#${CSS.escape(open.id)}`);
      if (again) again.open = true;
    }
    target.replaceWith(copy);
    window.htmx.process(copy);
  };
}
