// Controls that belong to one person (the owner's status buttons of an action item) travel hidden
// in fragments shared by everyone with the same role, marked with data-owner="<user id>"; this
// shows them on that person's page, and again after every swap (a swapped-in region is new
// markup). The server checks every request anyway.
export function showOwnControls(root) {
  const reveal = () => {
    const me = document.body.dataset.userId;
    if (!me) return;
    document.querySelectorAll("[data-owner][hidden]").forEach((element) => {
      if (element.dataset.owner === me) element.hidden = false;
    });
  };
  reveal();
  for (const name of ["htmx:afterSwap", "htmx:oobAfterSwap", "htmx:afterSettle", "htmx:wsAfterMessage"]) {
    root.addEventListener(name, reveal);
  }
}
