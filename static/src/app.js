// Tavoli's one script: htmx (configured by <meta name="htmx-config"> in base.html), its
// websocket extension, and our own small modules.
import htmx from "htmx.org";
import "htmx-ext-ws";
import { keepFocusInItems } from "./focus.js";
import { reportFailures } from "./failures.js";
import { followLiveConnection, keepWorkInProgress } from "./live.js";
import { showOwnControls, signPushedForms } from "./owner.js";

window.htmx = htmx;
keepFocusInItems(document);
reportFailures(document);
followLiveConnection(document);
keepWorkInProgress(document);
showOwnControls(document);
signPushedForms(document);
