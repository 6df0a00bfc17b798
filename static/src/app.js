// Tavoli's one script: htmx (configured by <meta name="htmx-config"> in base.html) and our code.
import htmx from "htmx.org";
import { keepFocusInItems } from "./focus.js";
import { reportFailures } from "./failures.js";

window.htmx = htmx;
keepFocusInItems(document);
reportFailures(document);
