// The chair's agenda (templates/meetings/_agenda.html) on a meeting day.
//
// - Every answer to an agenda form and every push replaces the whole #agenda region (the answers
//   out of band, hx-swap="none", as the pushes are), in one step (see keepMenusOpen: the page used
//   to jump by the agenda's height). What the person had open or focused there survives it: an
//   item's open menu stays open, and the focus stays on the control they used, kept in view.
// - A menu closes with Escape, back on its summary.
// - The refusal in #agenda-notice (outside #agenda, so no push wipes it) closes with its button.
// - The drag handle reorders with the pointer, by posting the same move request as the arrows
//   (the item's "move up" form with the position it is dropped at). Keyboard users have the
//   arrows; the grip is hidden from assistive technology and shown only when this script runs.

const AGENDA = "agenda";

export function runAgenda(root) {
  document.body.classList.add("agenda-enhanced");
  keepMenusOpen(root);
  keepFoldsOpen(root);
  keepFocus(root);
  closeMenusWithEscape(root);
  closeNotices(root);
  dragToMove(root);
}

// --- the region is replaced in one step, its open menus kept --------------------------------

// htmx swaps outerHTML by inserting the new element before the old one and then removing the old:
// for a moment the page holds the agenda twice, and the browser's scroll anchoring (smooth, with
// Bootstrap Italia's scroll-behavior) moved the page by the agenda's height, leaving the focused
// control off screen. One replaceWith keeps the page where it is.
function keepMenusOpen(root) {
  root.addEventListener("htmx:oobBeforeSwap", (event) => {
    const { target, fragment } = event.detail;
    if (event.defaultPrevented || !target || target.id !== AGENDA || !fragment) return;
    const incoming = fragment.firstElementChild || fragment;
    if (!incoming || incoming.id !== AGENDA) return;
    for (const open of target.querySelectorAll("details[open][id]")) {
      const again = incoming.querySelector(`#${CSS.escape(open.id)}`);
      if (again) again.open = true;
    }
    event.detail.shouldSwap = false;
    target.replaceWith(incoming);
    window.htmx.process(incoming);
  });
}

// --- the meeting room's disclosures stay as the person left them ------------------------------

// The chair's folded controls (details.room-fold: the meeting's settings, the attendance, the room
// links, an item's speaking time) lie inside regions that every push replaces, rendered folded: the
// ones the person has opened are opened again in what arrives, before it is inserted (pushes and
// out-of-band answers), or right after a plain swap (the attendance form's answer).
const FOLD = "details.room-fold[id]";

function keepFoldsOpen(root) {
  const opened = new Set();
  root.addEventListener(
    "toggle",
    (event) => {
      const fold = event.target;
      if (!fold.matches || !fold.matches(FOLD)) return;
      if (fold.open) opened.add(fold.id);
      else opened.delete(fold.id);
    },
    true,
  );
  const reopen = (container) => {
    if (!container || !container.querySelectorAll) return;
    const folds = [...container.querySelectorAll(FOLD)];
    if (container.matches && container.matches(FOLD)) folds.push(container);
    for (const fold of folds) if (opened.has(fold.id)) fold.open = true;
  };
  root.addEventListener("htmx:oobBeforeSwap", (event) => reopen(event.detail.fragment));
  root.addEventListener("htmx:afterSwap", () => reopen(document));
}

// --- the focus stays on the control, in view --------------------------------------------------

function keepFocus(root) {
  // What was focused ({id, item}) when a change was about to arrive, remembered apart for the
  // person's own request and for a push: a push that lands while the answer is on its way must not
  // use up what the answer needs to put the focus back.
  const focused = { request: null, push: null };
  const remember = (slot) => () => {
    const active = document.activeElement;
    const agenda = document.getElementById(AGENDA);
    if (!active || !agenda || !agenda.contains(active)) return;
    const item = active.closest("[data-item]");
    focused[slot] = { id: active.id || null, item: item ? item.dataset.item : null };
  };
  const restore = (slot) => () => {
    const wanted = focused[slot];
    if (!wanted) return;
    focused[slot] = null;
    const agenda = document.getElementById(AGENDA);
    const active = document.activeElement;
    if (!agenda) return;
    let control = active && active !== document.body && agenda.contains(active) ? active : null;
    if (!control && active && active !== document.body) return; // the person has moved on
    if (!control) control = successor(agenda, wanted);
    if (!control) return;
    if (document.activeElement !== control) control.focus({ preventScroll: true });
    keepInView(control);
  };
  root.addEventListener("htmx:beforeRequest", remember("request"));
  root.addEventListener("htmx:wsBeforeMessage", remember("push"));
  root.addEventListener("htmx:afterRequest", restore("request"));
  root.addEventListener("htmx:wsAfterMessage", restore("push"));
}

// The control to focus when the one that was focused is gone or disabled: the same one again; for
// an arrow at the end of the agenda, the other arrow; for a status button (the item's primary
// action changes with its status), the new primary action, or the menu.
function successor(agenda, wanted) {
  const item = wanted.item && agenda.querySelector(`[data-item="${CSS.escape(wanted.item)}"]`);
  const other = wanted.id && wanted.id.replace(/-(up|down)$/, (_m, way) => (way === "up" ? "-down" : "-up"));
  const candidates = [
    wanted.id && document.getElementById(wanted.id),
    other && other !== wanted.id && document.getElementById(other),
    item && item.querySelector(".agenda-primary button"),
    item && item.querySelector(".agenda-menu > summary"),
    ...(item ? item.querySelectorAll("button, a[href], summary") : []),
  ];
  return candidates.find((control) => control && usable(control)) || null;
}

function usable(control) {
  return !control.disabled && control.getClientRects().length > 0;
}

function keepInView(control) {
  const box = control.getBoundingClientRect();
  if (box.top < 0 || box.bottom > window.innerHeight) control.scrollIntoView({ block: "nearest" });
}

// --- menus -------------------------------------------------------------------------------------

function closeMenusWithEscape(root) {
  root.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    const menu = event.target.closest && event.target.closest("details.agenda-menu[open]");
    if (!menu) return;
    menu.open = false;
    menu.querySelector("summary").focus();
  });
}

// --- the notice of a refusal ------------------------------------------------------------------

function closeNotices(root) {
  root.addEventListener("click", (event) => {
    const button = event.target.closest && event.target.closest("[data-close-notice]");
    if (!button) return;
    const notice = button.closest("#agenda-notice");
    if (notice) notice.replaceChildren();
    const title = document.getElementById("agenda-title");
    if (title) {
      title.setAttribute("tabindex", "-1");
      title.focus({ preventScroll: true });
    }
  });
}

// --- drag and drop ----------------------------------------------------------------------------

function dragToMove(root) {
  let drag = null; // {id, pointerId, grip}
  const items = () => [...document.querySelectorAll("#agenda li.agenda-item")];
  const clear = () => {
    for (const item of items()) item.classList.remove("agenda-dragging", "agenda-drop-before", "agenda-drop-after");
  };
  // The position (1 = first) the dragged item takes when dropped at this height.
  const positionAt = (y) => {
    const others = items().filter((item) => item.dataset.item !== drag.id);
    let position = 1;
    for (const item of others) {
      const box = item.getBoundingClientRect();
      if (y > box.top + box.height / 2) position += 1;
    }
    return { position, others };
  };
  root.addEventListener("pointerdown", (event) => {
    const grip = event.target.closest && event.target.closest("#agenda .agenda-grip");
    if (!grip || event.button !== 0) return;
    const item = grip.closest("[data-item]");
    event.preventDefault();
    drag = { id: item.dataset.item, pointerId: event.pointerId, grip };
    grip.setPointerCapture(event.pointerId);
    item.classList.add("agenda-dragging");
  });
  root.addEventListener("pointermove", (event) => {
    if (!drag || event.pointerId !== drag.pointerId) return;
    clear();
    const dragged = document.getElementById(`item-${drag.id}`);
    if (!dragged) return;
    dragged.classList.add("agenda-dragging");
    const { position, others } = positionAt(event.clientY);
    if (position <= others.length) others[position - 1].classList.add("agenda-drop-before");
    else if (others.length) others[others.length - 1].classList.add("agenda-drop-after");
  });
  const end = (event, drop) => {
    if (!drag || event.pointerId !== drag.pointerId) return;
    const { position } = positionAt(event.clientY);
    const id = drag.id;
    drag = null;
    clear();
    const item = document.getElementById(`item-${id}`);
    const handle = item && item.querySelector(".agenda-handle");
    if (!drop || !handle || String(position) === handle.dataset.position) return;
    const form = handle.querySelector("form");
    form.querySelector("input[name=position]").value = String(position);
    form.requestSubmit();
  };
  root.addEventListener("pointerup", (event) => end(event, true));
  root.addEventListener("pointercancel", (event) => end(event, false));
}
