// Builds static/dist from the pinned npm packages and our sources in static/src.
// Run by `npm run build` (the Makefile does it); static/dist is not kept in git.
import { build } from "esbuild";
import { cpSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const dist = join(root, "static", "dist");
const italia = join(root, "node_modules", "bootstrap-italia", "dist");

rmSync(dist, { recursive: true, force: true });
mkdirSync(dist, { recursive: true });

// Bootstrap Italia: its stylesheet, the script without the video player, icons and fonts.
cpSync(join(italia, "css", "bootstrap-italia.min.css"), join(dist, "css", "bootstrap-italia.min.css"));
cpSync(join(italia, "js", "bootstrap-italia.min.js"), join(dist, "js", "bootstrap-italia.min.js"));
cpSync(join(italia, "svg", "sprites.svg"), join(dist, "svg", "sprites.svg"));
for (const family of readdirSync(join(italia, "fonts"))) {
  for (const file of readdirSync(join(italia, "fonts", family))) {
    if (file.endsWith(".woff2") || file.endsWith(".woff") || file.endsWith(".txt")) {
      cpSync(join(italia, "fonts", family, file), join(dist, "fonts", family, file));
    }
  }
}

// Our stylesheets, and one script bundling htmx, its websocket extension and our own code.
cpSync(join(root, "static", "src", "fonts.css"), join(dist, "fonts.css"));
cpSync(join(root, "static", "src", "tavoli.css"), join(dist, "tavoli.css"));
await build({
  entryPoints: [join(root, "static", "src", "app.js")],
  bundle: true,
  minify: true,
  format: "iife",
  target: ["es2020"],
  outfile: join(dist, "app.js"),
  logLevel: "warning",
});
writeFileSync(join(dist, ".built"), new Date().toISOString() + "\n");
