// `ijepa report`: its flag, then a run's charts and report.html drawn into <run>/report/, listing what was written.
import type { Command } from "commander";

export function registerReport(program: Command): void {
  program
    .command("report")
    .description("draw a run's loss, schedules, collapse metrics and probe scores into <run>/report/ (PNG + HTML)")
    .requiredOption("--run <uri>", "run folder or s3:// prefix")
    .action(async (o) => {
      const { openStore } = await import("../../trainer/storage/open_store.js");
      const { buildRunReport } = await import("../../trainer/report/build_run_report.js");
      const store = openStore(o.run);
      const { files, notes } = await buildRunReport(store);
      for (const note of notes) console.log(`note: ${note}`);
      for (const f of files) console.log(`wrote ${store.uriOf(f)}`);
    });
}
