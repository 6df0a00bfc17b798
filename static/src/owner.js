// Controls that belong to one person or one organisation travel hidden in fragments shared by
// everyone with the same role (docs/architecture.md), marked with whom they serve:
// - data-owner="<user id>": the owner of an action item, the author of a comment;
// - data-organisations="<ids>": members sitting for one of these organisations (co-authors);
// - data-organisations-except="<ids>": members sitting for any other organisation (who has not
//   endorsed yet);
// - data-until="<ISO time>": no longer shown after that moment (a comment's edit window).
// This shows them on the right page, and again after every swap (a swapped-in region is new
// markup). The server checks every request anyway.
function serves(element, me, organisation) {
  const { owner, organisations, organisationsExcept, until } = element.dataset;
  if (until && Date.parse(until) <= Date.now()) return false;
  if (owner !== undefined) return owner === me;
  if (!organisation) return false;
  if (organisations !== undefined) return organisations.split(" ").includes(organisation);
  return !organisationsExcept.split(" ").includes(organisation);
}

export function showOwnControls(root) {
  const reveal = () => {
    const me = document.body.dataset.userId;
    if (!me) return;
    const organisation = document.body.dataset.organisationId || "";
    const marked = "[data-owner][hidden], [data-organisations][hidden], [data-organisations-except][hidden]";
    document.querySelectorAll(marked).forEach((element) => {
      if (serves(element, me, organisation)) element.hidden = false;
    });
  };
  reveal();
  for (const name of ["htmx:afterSwap", "htmx:oobAfterSwap", "htmx:afterSettle", "htmx:wsAfterMessage"]) {
    root.addEventListener(name, reveal);
  }
}

// A pushed fragment carries no CSRF token (it is shared by many people): a plain form inside it
// takes this page's token, which htmx sends as a header, when it is submitted.
export function signPushedForms(root) {
  root.addEventListener(
    "submit",
    (event) => {
      const form = event.target;
      if (!(form instanceof HTMLFormElement) || form.method.toLowerCase() !== "post") return;
      if (form.querySelector("input[name=csrf_token]")) return;
      const headers = JSON.parse(document.body.getAttribute("hx-headers") || "{}");
      if (!headers["X-CSRF-Token"]) return;
      const token = document.createElement("input");
      token.type = "hidden";
      token.name = "csrf_token";
      token.value = headers["X-CSRF-Token"];
      form.append(token);
    },
    true,
  );
}
