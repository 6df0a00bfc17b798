// Builds static/dist from the pinned npm packages and our sources in static/src.
// Run by `npm run build` (the Makefile does it); static/dist is not kept in git.
//
// Every file a page loads gets a name with a hash of its content (app-3FJ2KQ7A.js), so that the
// server can let browsers keep it for a year (server/web/assets.py): a changed file is a new name.
// static/dist/manifest.json maps each logical name the templates use (`asset('app.js')`) to its
// hashed file, and lists every file the server may serve. Next to each compressible file the
// build writes its brotli (.br) and gzip (.gz) versions, which the server picks by Accept-Encoding.
//
// What a page loads, and why (templates/base.html):
// - bootstrap-italia.css, fonts.css (the fonts, from our origin) and tavoli.css on every page;
// - track-focus.js on every page: Bootstrap Italia's only behaviour our pages use (it marks focus
//   that comes from the mouse, for which its stylesheet draws no focus ring). Its 250 KB script
//   is not loaded: no template uses its components (dropdowns, modals, collapses…); a page that
//   needs one bundles that plugin alone, from bootstrap-italia/dist/plugins;
// - app.js (htmx, its websocket extension and our modules) only on the live pages of a table,
//   which ask for it in their `scripts` block;
// - sprites.svg, with only the icons whose name appears in templates/ or static/src.
import { build } from "esbuild";
import { createHash } from "node:crypto";
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, extname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const dist = join(root, "static", "dist");
const src = join(root, "static", "src");
const italia = join(root, "node_modules", "bootstrap-italia", "dist");

// The scripts: each entry is bundled on its own (no code is shared between them).
const SCRIPTS = {
  "app.js": join(src, "app.js"),
  // The collaborative editor (CodeMirror, Yjs, y-websocket): only on the pages that edit a
  // document (templates/documents/_editor.html), which ask for it in their `scripts` block.
  "editor.js": join(src, "editor.js"),
  "track-focus.js": join(italia, "plugins", "track-focus.js"),
};
// Our stylesheets; the files they point to (fonts) are copied with hashed names.
const STYLESHEETS = {
  "fonts.css": join(src, "fonts.css"),
  "tavoli.css": join(src, "tavoli.css"),
};
const COMPRESSIBLE = new Set([".js", ".css", ".svg", ".txt", ".json"]);

rmSync(dist, { recursive: true, force: true });
mkdirSync(dist, { recursive: true });

const assets = {}; // logical name -> hashed file, relative to dist
const files = {}; // every file served -> {immutable, encodings}

// Eight base32 characters of the SHA-256 of the content, as esbuild names its outputs.
function contentHash(bytes) {
  const digest = createHash("sha256").update(bytes).digest();
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = 0n;
  for (const byte of digest.subarray(0, 5)) bits = (bits << 8n) | BigInt(byte);
  let out = "";
  for (let shift = 35n; shift >= 0n; shift -= 5n) out += alphabet[Number((bits >> shift) & 31n)];
  return out;
}

// A file written under a name with its content's hash.
function emitHashed(logical, bytes) {
  const extension = extname(logical);
  const name = `${logical.slice(0, -extension.length)}-${contentHash(bytes)}${extension}`;
  mkdirSync(dirname(join(dist, name)), { recursive: true });
  writeFileSync(join(dist, name), bytes);
  assets[logical] = name;
  files[name] = { immutable: true };
}

// 1. Bootstrap Italia's stylesheet, as published (self-contained: its icon font is a data: URL).
emitHashed("bootstrap-italia.css", readFileSync(join(italia, "css", "bootstrap-italia.min.css")));

// 2. The icons: only the symbols whose id appears in our templates or sources.
const sprite = readFileSync(join(italia, "svg", "sprites.svg"), "utf8");
const symbols = [...sprite.matchAll(/<symbol id="([^"]+)"[\s\S]*?<\/symbol>/g)];
const mentioned = new Set();
for (const folder of [join(root, "templates"), src]) {
  for (const file of readdirSync(folder, { recursive: true })) {
    const path = join(folder, file);
    if (!statSync(path).isFile()) continue;
    for (const [name] of readFileSync(path, "utf8").matchAll(/\bit-[a-z0-9-]+/g)) mentioned.add(name);
  }
}
const kept = symbols.filter(([, id]) => mentioned.has(id)).map(([symbol]) => symbol);
emitHashed("sprites.svg", `<svg xmlns="http://www.w3.org/2000/svg">${kept.join("")}</svg>`);

// 3. Scripts and our stylesheets, bundled by esbuild with hashed names.
// fonts.css names the fonts as they are laid out in Bootstrap Italia: fonts/<family>/<file>.
const italiaFonts = {
  name: "bootstrap-italia-fonts",
  setup(builder) {
    builder.onResolve({ filter: /^fonts\// }, (args) => ({ path: join(italia, args.path) }));
  },
};
// CodeMirror's own styles (its layout, the highlighting) come from style-mod, which puts them in a
// <style> element when the editor is in a document: our CSP (style-src 'self') refuses that. In a
// shadow root style-mod uses a constructed stylesheet (document.adoptedStyleSheets), which the
// CSP allows: this makes it do so in a document too. Adopted sheets come after the page's own,
// so tavoli.css outranks CodeMirror's rules by specificity (its editor rules start .doc-editor).
const STYLE_MOD_TEST = "if (!root.head && root.adoptedStyleSheets && win.CSSStyleSheet)";
const constructedStyles = {
  name: "style-mod-constructed-sheets",
  setup(builder) {
    builder.onLoad({ filter: /[\\/]style-mod[\\/]src[\\/]style-mod\.js$/ }, (args) => {
      const source = readFileSync(args.path, "utf8");
      if (!source.includes(STYLE_MOD_TEST)) {
        throw new Error(`${args.path} changed: check how it mounts its styles (see static/build.mjs)`);
      }
      return { contents: source.replace(STYLE_MOD_TEST, "if (root.adoptedStyleSheets && win.CSSStyleSheet)"), loader: "js" };
    });
  },
};
const common = {
  bundle: true,
  minify: true,
  outdir: dist,
  entryNames: "[name]-[hash]",
  assetNames: "fonts/[name]-[hash]",
  loader: { ".woff2": "file", ".woff": "file" },
  metafile: true,
  logLevel: "warning",
};
for (const [entries, options] of [
  [SCRIPTS, { format: "iife", target: ["es2020"], plugins: [constructedStyles] }],
  [STYLESHEETS, { plugins: [italiaFonts] }],
]) {
  const logicalOf = Object.fromEntries(Object.entries(entries).map(([logical, path]) => [relative(root, path), logical]));
  const result = await build({
    ...common,
    ...options,
    entryPoints: Object.fromEntries(Object.entries(entries).map(([logical, path]) => [basename(logical, extname(logical)), path])),
  });
  for (const [output, meta] of Object.entries(result.metafile.outputs)) {
    const name = relative(dist, join(root, output));
    files[name] = { immutable: true };
    if (meta.entryPoint) assets[logicalOf[meta.entryPoint]] = name;
  }
}

// 4. The fonts' licences, under fixed names (served with a short cache).
for (const family of readdirSync(join(italia, "fonts"))) {
  for (const file of readdirSync(join(italia, "fonts", family))) {
    if (file.endsWith(".txt")) {
      const name = `licenses/${family}-${file}`;
      cpSync(join(italia, "fonts", family, file), join(dist, name));
      files[name] = { immutable: false };
    }
  }
}

// 5. Compressed versions, kept where they are smaller.
for (const [name, entry] of Object.entries(files)) {
  entry.encodings = [];
  if (!COMPRESSIBLE.has(extname(name))) continue;
  const bytes = readFileSync(join(dist, name));
  const brotli = brotliCompressSync(bytes, {
    params: {
      [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
      [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length,
      [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT,
    },
  });
  const gzip = gzipSync(bytes, { level: constants.Z_BEST_COMPRESSION });
  if (brotli.length < bytes.length) {
    writeFileSync(join(dist, `${name}.br`), brotli);
    entry.encodings.push("br");
  }
  if (gzip.length < bytes.length) {
    writeFileSync(join(dist, `${name}.gz`), gzip);
    entry.encodings.push("gzip");
  }
}

const sorted = (object) => Object.fromEntries(Object.entries(object).sort(([a], [b]) => a.localeCompare(b)));
writeFileSync(join(dist, "manifest.json"), JSON.stringify({ assets: sorted(assets), files: sorted(files) }, null, 2) + "\n");
writeFileSync(join(dist, ".built"), new Date().toISOString() + "\n");
