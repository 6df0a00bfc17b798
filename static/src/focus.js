// htmx puts the focus back on the element with the same id after a swap. When that element is
// gone or disabled (an item moved to the top has no enabled "move up" button), the focus would
// fall to <body> and a keyboard user would lose their place: put it on the item's first enabled
// control instead.
export function keepFocusInItems(root) {
  let lastItem = null;
  root.addEventListener("htmx:beforeRequest", (event) => {
    const item = event.target.closest ? event.target.closest("[data-item]") : null;
    lastItem = item ? item.dataset.item : null;
  });
  root.addEventListener("htmx:afterSwap", () => {
    if (!lastItem || (document.activeElement && document.activeElement !== document.body)) return;
    focusInItem(document.querySelector(`[data-item="${CSS.escape(lastItem)}"]`));
    lastItem = null;
  });
}

// Put the focus on an item's first enabled control; false when there is none.
export function focusInItem(item) {
  const control = item && item.querySelector("button:not([disabled]), a[href]");
  if (!control) return false;
  control.focus({ preventScroll: true });
  return true;
}
