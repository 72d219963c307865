// Bundles each entry point into an ES module under its package's static/dist.
// A package adds its entries to ENTRIES; nothing built is committed.
import * as esbuild from "esbuild";

const ENTRIES = [
  { in: "console/static/src/console.js", outdir: "console/static/dist" },
  { in: "console/static/src/lead.js", outdir: "console/static/dist" },
  { in: "console/static/src/kb-panel.js", outdir: "console/static/dist" },
  { in: "console/static/src/shift.js", outdir: "console/static/dist" },
  // The chat widget is a classic script (one <script> tag on any site), so it is an IIFE.
  { in: "chat/static/src/widget.js", outdir: "chat/static/dist", format: "iife" },
  { in: "chat/static/src/panel.js", outdir: "chat/static/dist" },
  { in: "console/web/records/static/src/wrapup.js", outdir: "console/web/records/static/dist" },
  { in: "console/web/records/static/src/lead_alerts.js", outdir: "console/web/records/static/dist" },
  // The console's phone: the Twilio Voice SDK, bundled as a console panel.
  { in: "telephony/static/src/voice-panel.js", outdir: "telephony/static/dist" },
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
