// Tavoli's one script: htmx (configured by <meta name="htmx-config"> in base.html), its
// websocket extension, and our own small modules.
import htmx from "htmx.org";
import "htmx-ext-ws";
import { runAgenda } from "./agenda.js";
import { runClocks } from "./clock.js";
import { keepFocusInItems } from "./focus.js";
import { reportFailures } from "./failures.js";
import { followLiveConnection, keepWorkInProgress } from "./live.js";
import { showOwnControls, signPushedForms } from "./owner.js";
import { keepFocusInRegions, openRoomScreen } from "./room.js";

window.htmx = htmx;
// After a swap htmx "settles" the new elements: it copies the old element's class, style, width and
// height attributes onto its new copy, then puts the new ones back. Copying `style` is a
// setAttribute("style", …), which our CSP (style-src 'self') refuses with a console error, once per
// element on every swap and every pushed fragment, as soon as any script has styled a field
// through the CSSOM (which the policy allows: password managers and grammar checkers do it to put
// their icons on inputs). Our pages never transition inline styles, so htmx settles the rest only.
htmx.config.attributesToSettle = ["class", "width", "height"];
keepFocusInItems(document);
reportFailures(document);
followLiveConnection(document);
keepWorkInProgress(document);
showOwnControls(document);
signPushedForms(document);
runAgenda(document);
runClocks(document);
openRoomScreen(document);
keepFocusInRegions(document);
