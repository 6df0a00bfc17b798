// The editor's modules in node (node --test), run by tests/e2e/test_editor.py: the state line's
// rule against real Yjs documents, the toolbar's Markdown on a real CodeMirror state, and the
// socket address against the real y-websocket provider.
import assert from "node:assert/strict";
import { test } from "node:test";
import * as Y from "yjs";
import { WebsocketProvider } from "y-websocket";
import { EditorState } from "@codemirror/state";
import { SaveState, subtract } from "../../static/src/editor/saved.js";
import { insertLink, toggleBold, toggleHeading, toggleList } from "../../static/src/editor/format.js";
import { isFinal, socketAddress } from "../../static/src/editor/connection.js";
import { colourClass } from "../../static/src/editor/remote.js";

const SERVER = "server"; // the origin of what the server sent (the provider, in the page)

// A server document and a page's document that start from the server's text.
function pair(text = "") {
  const server = new Y.Doc();
  server.getText("markdown").insert(0, text);
  const page = new Y.Doc();
  Y.applyUpdate(page, Y.encodeStateAsUpdate(server), SERVER);
  const save = new SaveState(page);
  save.serverUpdate(Y.encodeStateAsUpdate(server)); // the server's sync step 2
  page.on("update", (_update, origin, _doc, transaction) => {
    if (origin !== SERVER) save.localTransaction(transaction);
  });
  return { server, page, save };
}

// The server stores the page's changes and answers a sync step 1 (its sync step 2).
function store(server, page) {
  Y.applyUpdate(server, Y.encodeStateAsUpdate(page, Y.encodeStateVector(server)));
  return Y.encodeStateAsUpdate(server, Y.encodeStateVector(page));
}

test("a document loaded from the server is saved", () => {
  const { save } = pair("Il testo.");
  assert.equal(save.saved, true);
});

test("typing is saved once the server's saved message covers it", () => {
  const { server, page, save } = pair("Il testo.");
  page.getText("markdown").insert(0, "Nuovo: ");
  assert.equal(save.saved, false);
  const before = Y.encodeStateVector(server); // an acknowledgement of older updates
  save.serverStateVector(before);
  assert.equal(save.saved, false);
  store(server, page);
  save.serverStateVector(Y.encodeStateVector(server));
  assert.equal(save.saved, true);
});

test("a deletion, which no state vector shows, is saved only once a delete set from the server covers it", () => {
  const { server, page, save } = pair("Il primo sabato di gennaio.");
  page.getText("markdown").delete(9, 7); // " sabato"
  assert.equal(save.saved, false, "the state vectors are equal, the deletion is not stored");
  save.serverStateVector(Y.encodeStateVector(server));
  assert.equal(save.saved, false);
  save.serverUpdate(store(server, page));
  assert.equal(save.saved, true);
  assert.equal(server.getText("markdown").toString(), "Il primo di gennaio.");
});

test("part of a deletion covered leaves the rest pending", () => {
  const { server, page, save } = pair("abcdefghij");
  const other = new Y.Doc();
  Y.applyUpdate(other, Y.encodeStateAsUpdate(server));
  other.getText("markdown").delete(0, 3); // someone else deletes "abc", the server stores it
  const relayed = Y.encodeStateAsUpdate(other, Y.encodeStateVector(server));
  Y.applyUpdate(server, relayed);
  page.getText("markdown").delete(0, 6); // here: "abcdef"
  Y.applyUpdate(page, relayed, SERVER);
  save.serverUpdate(relayed);
  assert.equal(save.saved, false, "def is not stored yet");
  save.serverUpdate(store(server, page));
  assert.equal(save.saved, true);
});

test("others' edits relayed by the server need no acknowledgement", () => {
  const { server, page, save } = pair("Testo.");
  const other = new Y.Doc();
  Y.applyUpdate(other, Y.encodeStateAsUpdate(server));
  other.getText("markdown").insert(6, " Altro.");
  const relayed = Y.encodeStateAsUpdate(other, Y.encodeStateVector(server));
  Y.applyUpdate(server, relayed);
  Y.applyUpdate(page, relayed, SERVER);
  save.serverUpdate(relayed);
  assert.equal(save.saved, true);
});

test("edits made offline are unsaved until the server stored them", () => {
  const { server, page, save } = pair("Uno.");
  page.getText("markdown").insert(4, " Due.");
  page.getText("markdown").delete(0, 1);
  assert.equal(save.saved, false);
  const answer = store(server, page); // reconnected: the page's sync step 2, then the question
  save.serverStateVector(Y.encodeStateVector(server));
  save.serverUpdate(answer);
  assert.equal(save.saved, true);
  assert.equal(server.getText("markdown").toString(), page.getText("markdown").toString());
});

test("subtract keeps what is not covered", () => {
  const range = { client: 1, clock: 10, len: 10 };
  assert.deepEqual(subtract(range, [{ clock: 0, len: 5 }]), [range]);
  assert.deepEqual(subtract(range, [{ clock: 10, len: 10 }]), []);
  assert.deepEqual(subtract(range, [{ clock: 12, len: 3 }]), [
    { client: 1, clock: 10, len: 2 },
    { client: 1, clock: 15, len: 5 },
  ]);
  assert.deepEqual(subtract(range, [{ clock: 5, len: 7 }, { clock: 18, len: 10 }]), [{ client: 1, clock: 12, len: 6 }]);
});

// A view as the commands use it: a state, and dispatch.
function view(doc, anchor, head = anchor) {
  const result = { state: EditorState.create({ doc, selection: { anchor, head } }) };
  result.dispatch = (transaction) => {
    result.state = transaction.state;
  };
  return result;
}

test("the toolbar's Markdown", () => {
  let v = view("Orari\nnegozi", 0, 8);
  toggleHeading(v);
  assert.equal(v.state.doc.toString(), "## Orari\n## negozi");
  toggleHeading(v);
  assert.equal(v.state.doc.toString(), "Orari\nnegozi");
  v = view("### Orari", 2);
  toggleHeading(v);
  assert.equal(v.state.doc.toString(), "## Orari");

  v = view("uno\ndue\n", 0, 7);
  toggleList(v);
  assert.equal(v.state.doc.toString(), "- uno\n- due\n");
  toggleList(v);
  assert.equal(v.state.doc.toString(), "uno\ndue\n");

  v = view("il sabato", 3, 9);
  toggleBold(v);
  assert.equal(v.state.doc.toString(), "il **sabato**");
  assert.equal(v.state.sliceDoc(v.state.selection.main.from, v.state.selection.main.to), "sabato");
  toggleBold(v);
  assert.equal(v.state.doc.toString(), "il sabato");

  v = view("vedi il sito", 8, 12);
  insertLink("testo")(v);
  assert.equal(v.state.doc.toString(), "vedi il [sito](https://)");
  const { from, to } = v.state.selection.main;
  assert.equal(v.state.sliceDoc(from, to), "https://");
  v = view("", 0);
  insertLink("testo del collegamento")(v);
  assert.equal(v.state.doc.toString(), "[testo del collegamento](https://)");
});

test("the socket's address is the page's path with ?ack=1, as y-websocket builds it", () => {
  for (const [page, expected] of [
    ["http://127.0.0.1:8000/tavoli/t/proposte/3", "ws://127.0.0.1:8000/ws/docs/17?ack=1"],
    ["https://tavoli.example.org/tavoli/t/proposte/3?x=1", "wss://tavoli.example.org/ws/docs/17?ack=1"],
  ]) {
    const { serverUrl, room, params } = socketAddress("/ws/docs/17", page);
    const provider = new WebsocketProvider(serverUrl, room, new Y.Doc(), {
      connect: false,
      params,
      disableBc: true,
      WebSocketPolyfill: class {},
    });
    assert.equal(provider.url, expected);
    provider.destroy();
    provider.awareness.destroy(); // its timer, which the provider leaves running
  }
});

test("which closes are final", () => {
  for (const code of [1003, 1007, 1009, 4401, 4403, 4404, 4409]) assert.equal(isFinal(code), true, code);
  for (const code of [1000, 1001, 1006, 1011, 1012, 1013, 4500]) assert.equal(isFinal(code), false, code);
});

test("the palette class comes from the server's colour, within 0-7", () => {
  assert.equal(colourClass({ name: "A", colour: 5 }), "remote-5");
  assert.equal(colourClass({ name: "A", colour: 8 }), "remote-0");
  assert.equal(colourClass({ name: "A", colour: "3" }), "remote-0");
  assert.equal(colourClass(undefined), "remote-0");
});
