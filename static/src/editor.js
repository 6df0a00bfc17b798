// The collaborative editor: an island of its own (static/build.mjs bundles it alone), loaded only
// by the pages that show templates/documents/_editor.html.
//
// Each [data-doc-editor] element gets CodeMirror 6 (Markdown, wrapped lines, the toolbar) bound
// with y-codemirror.next to the document's shared text, ydoc.getText("markdown"), which
// y-websocket's provider keeps in sync with /ws/docs/<id>?ack=1. The server is the one who names
// people: it overwrites the `user` field ({name, colour}) of every awareness state, so this page
// never sends a name. The preview is not here: it is the server's rendering, pushed into the page.
import * as Y from "yjs";
import { WebsocketProvider } from "y-websocket";
import * as decoding from "lib0/decoding";
import * as encoding from "lib0/encoding";
import { Compartment, EditorState } from "@codemirror/state";
import { EditorView, highlightSpecialChars, keymap } from "@codemirror/view";
import { defaultKeymap } from "@codemirror/commands";
import { defaultHighlightStyle, LanguageSupport, syntaxHighlighting } from "@codemirror/language";
import { markdownKeymap, markdownLanguage } from "@codemirror/lang-markdown";
import { yCollab, yUndoManagerKeymap } from "y-codemirror.next";
import { finalMessageKey, isFinal, socketAddress } from "./editor/connection.js";
import { insertBlock, insertLink, toggleBold, toggleHeading, toggleList } from "./editor/format.js";
import { colourClass, personName, remoteSelections } from "./editor/remote.js";
import { SaveState } from "./editor/saved.js";

const TEXT = "markdown"; // the shared text's name (server/domain/documents.py: TEXT)
const MESSAGE_SYNC = 0;
const SYNC_STEP_1 = 0;
const SYNC_STEP_2 = 1;
const SYNC_UPDATE = 2;
const MESSAGE_SAVED = 100; // ours: varUint 100, varUint8Array(the server's state vector)
const SETTLE_MS = 800;

const mounted = new Map(); // root element -> its editor's destroy()

function mount(root) {
  const data = root.dataset;
  const readonly = data.readonly === "true";
  const doc = new Y.Doc();
  const ytext = doc.getText(TEXT);
  const { serverUrl, room, params } = socketAddress(data.socketUrl, window.location.href);
  const provider = new WebsocketProvider(serverUrl, room, doc, {
    connect: false, // our message handlers first: an unknown message type is a console error
    params,
    disableBc: true, // other tabs get the text through the server, which checks who may edit
    shouldReconnect: (event) => !isFinal(event.code),
  });
  const save = new SaveState(doc);
  const statusLine = root.querySelector("[data-editor-state]");
  let connectedOnce = false;
  let triedOnce = false;
  let ended = null; // the message key of a final close
  let synced = false;

  // -- the server's messages --------------------------------------------------------------
  provider.messageHandlers[MESSAGE_SAVED] = (_encoder, decoder) => {
    save.serverStateVector(decoding.readVarUint8Array(decoder));
    refresh();
  };
  const sync = provider.messageHandlers[MESSAGE_SYNC];
  provider.messageHandlers[MESSAGE_SYNC] = (encoder, decoder, ...rest) => {
    const peek = decoding.clone(decoder);
    const step = decoding.readVarUint(peek);
    sync(encoder, decoder, ...rest);
    if (step === SYNC_STEP_2 || step === SYNC_UPDATE) {
      save.serverUpdate(decoding.readVarUint8Array(peek));
      if (step === SYNC_STEP_2) answered();
    } else if (step === SYNC_STEP_1) {
      // Our answer (sync step 2, with what we typed offline) is sent when this returns: ask
      // after it whether the server stored our deletions.
      queueMicrotask(askWhatIsStored);
    }
    refresh();
  };

  // Deletions do not show in a state vector: after one, a sync step 1 asks the server for its
  // delete set (its sync step 2 answers, after it stored what this socket sent before). One
  // question at a time; another after the answer if the deletions are still not covered.
  let asking = false;
  let askAgain = false;
  let retry = 0;
  function askWhatIsStored() {
    if (!save.deletionsPending) return;
    const ws = provider.ws;
    if (!provider.wsconnected || !ws || ws.readyState !== WebSocket.OPEN) return; // asked on reconnecting
    if (asking) {
      askAgain = true;
      return;
    }
    asking = true;
    askAgain = false;
    const encoder = encoding.createEncoder();
    encoding.writeVarUint(encoder, MESSAGE_SYNC);
    encoding.writeVarUint(encoder, SYNC_STEP_1);
    encoding.writeVarUint8Array(encoder, Y.encodeStateVector(doc));
    ws.send(encoding.toUint8Array(encoder));
  }
  let retryDelay = 1000;
  function answered() {
    asking = false;
    window.clearTimeout(retry);
    if (askAgain) {
      askWhatIsStored();
    } else if (save.deletionsPending) {
      // Not stored yet (or dropped: the server keeps a read-only participant's edits from
      // everyone): ask again later, less and less often.
      retry = window.setTimeout(askWhatIsStored, retryDelay);
      retryDelay = Math.min(retryDelay * 2, 30000);
    } else {
      retryDelay = 1000;
    }
  }

  // -- local changes -------------------------------------------------------------------------
  // Registered after the provider's own listener, which has sent the update by then.
  doc.on("update", (_update, origin, _doc, transaction) => {
    if (origin !== provider) {
      save.localTransaction(transaction);
      if (save.deletionsPending) askWhatIsStored();
    }
    refresh();
  });

  // -- the connection ------------------------------------------------------------------------
  provider.on("status", ({ status }) => {
    if (status === "connected") {
      connectedOnce = true;
      // Others take an awareness state only at a clock above the one they know: above 0 for a
      // new client (this page sets nothing until its caret moves), and above the server's
      // removal of the state when a socket closed (clock + 1). Two steps up, then y-websocket
      // sends the state as the connection opens: this page is listed as present at once.
      const state = provider.awareness.getLocalState() || {};
      provider.awareness.setLocalState({ ...state });
      provider.awareness.setLocalState({ ...state });
    }
    if (status === "disconnected") {
      asking = false;
      askAgain = false;
    }
    refresh();
  });
  provider.on("connection-close", () => {
    triedOnce = true;
    refresh();
  });
  provider.on("sync", (isSynced) => {
    if (isSynced && !synced) {
      synced = true;
      setEditable(!readonly);
    }
    refresh();
  });
  provider.on("closed", ({ code }) => {
    ended = finalMessageKey(code);
    setEditable(false);
    refresh();
  });

  // -- the state line ------------------------------------------------------------------------
  let scheduled = false;
  function refresh() {
    if (scheduled) return;
    scheduled = true;
    queueMicrotask(() => {
      scheduled = false;
      render();
    });
  }
  // While someone types, every key makes the text unsaved and the server's answer saved again a
  // moment later: a status line that said so each time would make screen readers talk over the
  // typing. "Saved" after "unsaved" is shown once it has lasted SETTLE_MS (it is true all along:
  // the line only waits to say it); every other change is shown at once.
  let settling = null; // the timer while "saved" waits to be shown, "done" when it may be
  function render() {
    let state;
    let key;
    if (ended) [state, key] = ["ended", ended];
    else if (!provider.wsconnected) [state, key] = connectedOnce || triedOnce ? ["offline", "msgOffline"] : ["connecting", "msgConnecting"];
    else if (!synced) [state, key] = ["connecting", "msgConnecting"];
    else if (save.saved) [state, key] = ["saved", "msgSaved"];
    else [state, key] = ["unsaved", "msgUnsaved"];
    if (state === "saved" && root.dataset.state === "unsaved") {
      if (settling === null) {
        settling = window.setTimeout(() => {
          settling = "done";
          render();
        }, SETTLE_MS);
      }
      if (settling !== "done") return;
    } else if (settling !== null && settling !== "done") {
      window.clearTimeout(settling);
    }
    settling = null;
    if (root.dataset.state === state) return;
    root.dataset.state = state;
    if (statusLine) {
      statusLine.dataset.state = state;
      statusLine.textContent = data[key] || "";
    }
  }
  const warnBeforeLeaving = (event) => {
    if (save.saved) return;
    event.preventDefault();
    event.returnValue = ""; // older browsers ask for it
  };
  window.addEventListener("beforeunload", warnBeforeLeaving);

  // -- who is in the document ----------------------------------------------------------------
  const people = root.querySelector("[data-editor-people]");
  const showPeople = () => {
    if (!people) return;
    const seen = new Map(); // name -> its colour class: a person with two tabs is listed once
    provider.awareness.getStates().forEach((state, clientId) => {
      const name = personName(state.user);
      if (clientId === doc.clientID || !name || seen.has(name)) return;
      seen.set(name, colourClass(state.user));
    });
    people.querySelectorAll("li[data-remote]").forEach((item) => item.remove());
    for (const [name, colour] of [...seen].sort(([a], [b]) => a.localeCompare(b))) {
      const item = document.createElement("li");
      item.dataset.remote = "";
      const mark = document.createElement("span");
      mark.className = `editor-person-mark ${colour}`;
      mark.setAttribute("aria-hidden", "true");
      item.append(mark, name);
      people.append(item);
    }
  };
  provider.awareness.on("change", showPeople);

  // -- the editor ----------------------------------------------------------------------------
  const editable = new Compartment();
  const undoManager = new Y.UndoManager(ytext);
  const linkText = data.msgLinkText || "link";
  const formatting = {
    heading: toggleHeading,
    bold: toggleBold,
    list: toggleList,
    link: insertLink(linkText),
    // A protocol's commitment clause (server/domain/protocol_text.py: COMMITMENT_TEMPLATE), given
    // by the page in data-commitment-template: only the protocols' editor has its button.
    commitment: insertBlock(data.commitmentTemplate || ""),
  };
  const view = new EditorView({
    parent: root.querySelector("[data-editor-mount]"),
    state: EditorState.create({
      extensions: [
        highlightSpecialChars(),
        syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
        // Markdown's language alone: markdown() would add HTML, CSS and JavaScript (300 KB) for
        // the HTML blocks and code a proposal does not need highlighted.
        new LanguageSupport(markdownLanguage),
        EditorView.lineWrapping,
        keymap.of([
          ...yUndoManagerKeymap,
          { key: "Mod-b", run: formatting.bold },
          { key: "Mod-k", run: formatting.link },
          ...markdownKeymap, // Enter continues a list, Backspace takes its mark away
          ...defaultKeymap,
        ]),
        EditorView.contentAttributes.of({ "aria-labelledby": data.labelId }),
        editable.of(editableExtensions(false)),
        // Undo takes back this page's own changes only; no awareness here: remoteSelections
        // draws others' carets instead of y-codemirror.next's inline-styled ones.
        yCollab(ytext, null, { undoManager }),
        remoteSelections(ytext, provider.awareness),
      ],
    }),
  });
  function setEditable(on) {
    view.dispatch({ effects: editable.reconfigure(editableExtensions(on)) });
    scrollerFocusable(!on);
  }
  // A read-only text taller than its box scrolls in .cm-scroller, which nothing else lets a
  // keyboard reach (the content is not focusable then): the scroller takes a Tab stop and a name.
  function scrollerFocusable(on) {
    const scroller = view.scrollDOM;
    if (on) {
      scroller.tabIndex = 0;
      scroller.setAttribute("role", "group");
      scroller.setAttribute("aria-labelledby", data.labelId);
    } else {
      scroller.removeAttribute("tabindex");
      scroller.removeAttribute("role");
      scroller.removeAttribute("aria-labelledby");
    }
  }
  scrollerFocusable(true);

  const toolbar = root.querySelector("[data-editor-toolbar]");
  if (toolbar) {
    if (readonly) toolbar.hidden = true;
    else wireToolbar(toolbar, view, formatting);
  }

  // The page's form for browsers without JavaScript (the textarea) gives way to the editor.
  document.querySelectorAll(`[data-editor-fallback="${CSS.escape(data.documentId || "")}"]`).forEach((element) => {
    element.hidden = true;
  });
  root.hidden = false;
  render();
  provider.connect();

  return () => {
    window.removeEventListener("beforeunload", warnBeforeLeaving);
    window.clearTimeout(retry);
    if (typeof settling === "number") window.clearTimeout(settling);
    provider.awareness.off("change", showPeople);
    provider.destroy();
    view.destroy();
    undoManager.destroy();
    doc.destroy();
  };
}

function editableExtensions(on) {
  return [
    EditorView.editable.of(on),
    EditorState.readOnly.of(!on),
    // An editable text is focusable (contenteditable); the tabindex says so to checkers (axe) that
    // count only tabindex and native controls, for the scroller around it.
    EditorView.contentAttributes.of(on ? { "aria-readonly": "false", tabindex: "0" } : { "aria-readonly": "true" }),
  ];
}

// A toolbar as WAI-ARIA describes it: one Tab stop, arrow keys (and Home, End) between its
// buttons. A button does not take the focus from the text: the command applies to the
// selection, and the focus goes back to the text.
function wireToolbar(toolbar, view, formatting) {
  const buttons = [...toolbar.querySelectorAll("button[data-command]")];
  buttons.forEach((button, index) => {
    button.tabIndex = index === 0 ? 0 : -1;
    button.addEventListener("mousedown", (event) => event.preventDefault());
    button.addEventListener("click", () => {
      const command = formatting[button.dataset.command];
      if (!command || !view.state.facet(EditorView.editable)) return;
      command(view);
      view.focus();
    });
  });
  toolbar.addEventListener("keydown", (event) => {
    const index = buttons.indexOf(document.activeElement);
    if (index < 0) return;
    const next = {
      ArrowRight: (index + 1) % buttons.length,
      ArrowLeft: (index - 1 + buttons.length) % buttons.length,
      Home: 0,
      End: buttons.length - 1,
    }[event.key];
    if (next === undefined) return;
    event.preventDefault();
    buttons[index].tabIndex = -1;
    buttons[next].tabIndex = 0;
    buttons[next].focus();
  });
}

// Mount every editor of the page, and those a swap brings later; an editor whose element left
// the page closes its socket.
function mountAll() {
  document.querySelectorAll("[data-doc-editor]").forEach((root) => {
    if (!mounted.has(root)) mounted.set(root, mount(root));
  });
  for (const [root, destroy] of mounted) {
    if (!root.isConnected) {
      mounted.delete(root);
      destroy();
    }
  }
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", mountAll);
else mountAll();
// CodeMirror changes its own DOM at every key: those changes are not looked at.
new MutationObserver((records) => {
  if (records.every((record) => record.target.closest && record.target.closest("[data-editor-mount]"))) return;
  mountAll();
}).observe(document.documentElement, { childList: true, subtree: true });
