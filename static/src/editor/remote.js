// Others' carets and selections, drawn with classes only.
//
// y-codemirror.next's own plugin (src/y-remote-selections.js) colours them with inline `style`
// attributes, which our Content Security Policy (style-src 'self') refuses. This one is the same
// plugin with the colour as a class, `remote-0` … `remote-7` (tavoli.css), from the organisation
// colour the server put in each awareness state's `user` ({name, colour}); the name shown is the
// server's too. It also publishes this page's own caret, as the original does.
import * as Y from "yjs";
import { Annotation, RangeSet } from "@codemirror/state";
import { Decoration, EditorView, ViewPlugin, WidgetType } from "@codemirror/view";

export const PALETTE_SIZE = 8;

/** The palette class of an awareness state's user ("remote-0" when the server gave none). */
export function colourClass(user) {
  const colour = user ? user.colour : undefined;
  return `remote-${Number.isInteger(colour) && colour >= 0 && colour < PALETTE_SIZE ? colour : 0}`;
}

/** The name the server gave an awareness state, or "" (a state it has not relayed yet). */
export function personName(user) {
  return user && typeof user.name === "string" ? user.name : "";
}

const refresh = Annotation.define();

class RemoteCaret extends WidgetType {
  constructor(colour, name) {
    super();
    this.colour = colour;
    this.name = name;
  }

  toDOM() {
    const caret = document.createElement("span");
    caret.className = `cm-ySelectionCaret ${this.colour}`;
    caret.setAttribute("aria-hidden", "true");
    const dot = document.createElement("span");
    dot.className = "cm-ySelectionCaretDot";
    const info = document.createElement("span");
    info.className = "cm-ySelectionInfo";
    info.textContent = this.name;
    caret.append("\u2060", dot, "\u2060", info, "\u2060");
    return caret;
  }

  eq(other) {
    return other.colour === this.colour && other.name === this.name;
  }

  get estimatedHeight() {
    return -1;
  }

  ignoreEvent() {
    return true;
  }
}

/**
 * @param {Y.Text} ytext
 * @param {import("y-protocols/awareness").Awareness} awareness
 */
export function remoteSelections(ytext, awareness) {
  const doc = /** @type {Y.Doc} */ (ytext.doc);
  const plugin = ViewPlugin.fromClass(
    class {
      constructor(view) {
        this.decorations = RangeSet.of([]);
        this.listener = ({ added, updated, removed }) => {
          const clients = added.concat(updated).concat(removed);
          if (clients.some((id) => id !== doc.clientID)) view.dispatch({ annotations: [refresh.of(true)] });
        };
        awareness.on("change", this.listener);
      }

      destroy() {
        awareness.off("change", this.listener);
      }

      update(update) {
        this.publishOwnCaret(update);
        this.decorations = Decoration.set(this.remoteDecorations(update.view.state), true);
      }

      publishOwnCaret(update) {
        const local = awareness.getLocalState();
        if (local == null) return;
        const hasFocus = update.view.hasFocus && update.view.dom.ownerDocument.hasFocus();
        const selection = hasFocus ? update.state.selection.main : null;
        if (selection != null) {
          const anchor = Y.createRelativePositionFromTypeIndex(ytext, selection.anchor);
          const head = Y.createRelativePositionFromTypeIndex(ytext, selection.head);
          const current = local.cursor;
          if (
            current == null ||
            !Y.compareRelativePositions(Y.createRelativePositionFromJSON(current.anchor), anchor) ||
            !Y.compareRelativePositions(Y.createRelativePositionFromJSON(current.head), head)
          ) {
            awareness.setLocalStateField("cursor", { anchor, head });
          }
        } else if (local.cursor != null && hasFocus) {
          awareness.setLocalStateField("cursor", null);
        }
      }

      remoteDecorations(state) {
        const decorations = [];
        awareness.getStates().forEach((remote, clientId) => {
          if (clientId === doc.clientID) return;
          const cursor = remote.cursor;
          if (cursor == null || cursor.anchor == null || cursor.head == null) return;
          const anchor = Y.createAbsolutePositionFromRelativePosition(cursor.anchor, doc);
          const head = Y.createAbsolutePositionFromRelativePosition(cursor.head, doc);
          if (anchor == null || head == null || anchor.type !== ytext || head.type !== ytext) return;
          const length = state.doc.length;
          const anchorAt = Math.min(anchor.index, length);
          const headAt = Math.min(head.index, length);
          const colour = colourClass(remote.user);
          const selected = Decoration.mark({ class: `cm-ySelection ${colour}` });
          const start = Math.min(anchorAt, headAt);
          const end = Math.max(anchorAt, headAt);
          const startLine = state.doc.lineAt(start);
          const endLine = state.doc.lineAt(end);
          if (start < end) {
            if (startLine.number === endLine.number) {
              decorations.push(selected.range(start, end));
            } else {
              if (start < startLine.to) decorations.push(selected.range(start, startLine.to));
              for (let number = startLine.number + 1; number < endLine.number; number++) {
                const line = state.doc.line(number);
                decorations.push(Decoration.line({ class: `cm-yLineSelection ${colour}` }).range(line.from));
              }
              if (endLine.from < end) decorations.push(selected.range(endLine.from, end));
            }
          }
          decorations.push(
            Decoration.widget({
              // the local caret stays outside a remote selection
              side: headAt - anchorAt > 0 ? -1 : 1,
              block: false,
              widget: new RemoteCaret(colour, personName(remote.user)),
            }).range(headAt),
          );
        });
        return decorations;
      }
    },
    { decorations: (value) => value.decorations },
  );
  return [plugin, EditorView.editorAttributes.of({ class: "cm-remote-selections" })];
}
