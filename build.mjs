// Bundles each entry point into an ES module under its package's static/dist.
// A package adds its entries to ENTRIES; nothing built is committed.
import * as esbuild from "esbuild";

const ENTRIES = [
  { in: "console/static/src/console.js", outdir: "console/static/dist" },
  { in: "console/static/src/lead.js", outdir: "console/static/dist" },
];

await Promise.all(
  ENTRIES.map((entry) =>
    esbuild.build({
      entryPoints: [entry.in],
      bundle: true,
      format: entry.format ?? "esm",
      target: ["es2020"],
      minify: true,
      sourcemap: true,
      outdir: entry.outdir,
      logLevel: "warning",
    }),
  ),
);
console.log(`built ${ENTRIES.length} bundles`);
