// Tavoli's one script: htmx (configured by <meta name="htmx-config"> in base.html) and our code.
import htmx from "htmx.org";

window.htmx = htmx;
