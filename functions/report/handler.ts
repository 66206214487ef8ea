// Report: redraws the run's report (charts + report.html) from its metrics and probe history after each segment.
import { z } from "zod";
import { REPORT_HTML_KEY, buildRunReport } from "../../trainer/report/build_run_report.js";
import type { HandlerDeps } from "../handler_deps.js";
import { parseEvent } from "../parse_event.js";

export const reportEventSchema = z.object({ run: z.string().min(1) });

export interface ReportResult {
  reportUri: string;
  files: number;
  notes: number;
}

export function makeHandler(deps: HandlerDeps) {
  return async (event: unknown): Promise<ReportResult> => {
    const { run } = parseEvent(reportEventSchema, event, "report", '{"run": "s3://bucket/<runId>"}');
    const store = await deps.openStore(run);
    const { files, notes } = await buildRunReport(store, { now: deps.now() });
    return { reportUri: store.uriOf(REPORT_HTML_KEY), files: files.length, notes: notes.length };
  };
}
