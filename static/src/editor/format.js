// The toolbar's commands: the Markdown a non-programmer needs, applied to the selection.
// Each is a CodeMirror command (view) => boolean, also bound to keys in editor.js.
import { EditorSelection } from "@codemirror/state";

// The lines the main selection touches (a selection ending at a line's start leaves that line out).
function selectedLines(state) {
  const { from, to } = state.selection.main;
  const first = state.doc.lineAt(from);
  let last = state.doc.lineAt(to);
  if (to > from && to === last.from && last.number > first.number) last = state.doc.line(last.number - 1);
  const lines = [];
  for (let number = first.number; number <= last.number; number++) lines.push(state.doc.line(number));
  return lines;
}

// Toggle a prefix on every selected line: removed from all when all have it, added to the others
// otherwise. `pattern` recognises a line's existing prefix (which is replaced, e.g. "### " by "## ").
function toggleLinePrefix(prefix, pattern) {
  return (view) => {
    const { state } = view;
    const lines = selectedLines(state).filter((line) => line.length > 0 || state.selection.main.empty);
    if (lines.length === 0) return false;
    const all = lines.every((line) => line.text.startsWith(prefix));
    const changes = lines.map((line) => {
      const existing = pattern.exec(line.text);
      if (all) return { from: line.from, to: line.from + prefix.length };
      return { from: line.from, to: line.from + (existing ? existing[0].length : 0), insert: prefix };
    });
    view.dispatch(state.update({ changes, scrollIntoView: true, userEvent: "input.format" }));
    return true;
  };
}

export const toggleHeading = toggleLinePrefix("## ", /^#{1,6} /);
export const toggleList = toggleLinePrefix("- ", /^(?:[-*+]|\d+[.)]) /);

// Bold: ** around the selection, or its removal when the selection already has them.
export function toggleBold(view) {
  const { state } = view;
  const marker = "**";
  const update = state.changeByRange((range) => {
    const before = state.sliceDoc(range.from - marker.length, range.from);
    const after = state.sliceDoc(range.to, range.to + marker.length);
    if (before === marker && after === marker) {
      return {
        changes: [
          { from: range.from - marker.length, to: range.from },
          { from: range.to, to: range.to + marker.length },
        ],
        range: EditorSelection.range(range.from - marker.length, range.to - marker.length),
      };
    }
    return {
      changes: [
        { from: range.from, insert: marker },
        { from: range.to, insert: marker },
      ],
      range: EditorSelection.range(range.from + marker.length, range.to + marker.length),
    };
  });
  view.dispatch(state.update(update, { scrollIntoView: true, userEvent: "input.format" }));
  return true;
}

// A link: the selection becomes its text ([text](https://)), and the address is selected to type.
// Without a selection, `placeholder` (the page's language) stands for the text.
export function insertLink(placeholder) {
  return (view) => {
    const { state } = view;
    const address = "https://";
    const update = state.changeByRange((range) => {
      const text = range.empty ? placeholder : state.sliceDoc(range.from, range.to);
      const insert = `[${text}](${address})`;
      const start = range.from + text.length + 3;
      return {
        changes: { from: range.from, to: range.to, insert },
        range: EditorSelection.range(start, start + address.length),
      };
    });
    view.dispatch(state.update(update, { scrollIntoView: true, userEvent: "input.format" }));
    return true;
  };
}

// A block of Markdown (a protocol's commitment clause) on lines of its own after the line the
// cursor is on, a blank line around it; its first line's middle part (the party's name, between
// the first two dashes) is selected, to type over.
export function insertBlock(block) {
  return (view) => {
    if (!block) return false;
    const { state } = view;
    const line = state.doc.lineAt(state.selection.main.head);
    const before = line.length === 0 ? (line.from === 0 ? "" : "\n") : "\n\n";
    const insert = `${before}${block.replace(/\n*$/, "\n")}`;
    const at = line.length === 0 ? line.from : line.to;
    const first = block.split("\n")[0];
    const dash = first.indexOf(" — ");
    const next = dash >= 0 ? first.indexOf(" — ", dash + 3) : -1;
    const start = at + before.length + (dash >= 0 ? dash + 3 : 0);
    const end = next >= 0 ? at + before.length + next : start;
    view.dispatch(
      state.update({
        changes: { from: at, insert },
        selection: EditorSelection.range(start, end),
        scrollIntoView: true,
        userEvent: "input.format",
      }),
    );
    return true;
  };
}
