// Test helpers that read a Vega-Lite chart spec the way a reader reads the chart: its series, lines and axis titles.

type Json = Record<string, unknown>;

function walk(node: unknown, visit: (n: Json) => void): void {
  if (Array.isArray(node)) {
    for (const n of node) walk(n, visit);
  } else if (node && typeof node === "object") {
    visit(node as Json);
    for (const value of Object.values(node)) walk(value, visit);
  }
}

/** Every inline data row of the spec, with the mark type of the layer that draws it. */
export function rowsOf(spec: unknown): { mark: string; row: Json }[] {
  const rows: { mark: string; row: Json }[] = [];
  walk(spec, (n) => {
    const values = (n.data as { values?: Json[] } | undefined)?.values;
    // A layer whose children share its data: name it after the marks they draw ("line+point").
    const marks = n.mark
      ? [n.mark]
      : Array.isArray(n.layer)
        ? (n.layer as Json[]).map((l) => l.mark).filter(Boolean)
        : [];
    if (!values || marks.length === 0) return;
    const mark = marks.map((m) => (typeof m === "string" ? m : String((m as Json).type))).join("+");
    for (const row of values) rows.push({ mark, row });
  });
  return rows;
}

/** The rows of one named series (or reference line). */
export function seriesRows(spec: unknown, name: string): Json[] {
  return rowsOf(spec)
    .filter((r) => r.row.series === name)
    .map((r) => r.row);
}

/** The legend's entries in order: the domain of the colour scale keyed by series name (first one found). */
export function legendNames(spec: unknown): string[][] {
  const legends: string[][] = [];
  walk(spec, (n) => {
    const color = (n.encoding as Json | undefined)?.color as
      | { field?: string; scale?: { domain?: string[] } }
      | undefined;
    const domain = color?.field === "series" ? color.scale?.domain : undefined;
    if (domain && !legends.some((l) => l.join("\n") === domain.join("\n"))) legends.push(domain);
  });
  return legends;
}

/** Titles of every x and y axis in the spec. */
export function axisTitles(spec: unknown): { x: string[]; y: string[] } {
  const titles = { x: new Set<string>(), y: new Set<string>() };
  walk(spec, (n) => {
    const enc = n.encoding as Json | undefined;
    for (const axis of ["x", "y"] as const) {
      const title = (enc?.[axis] as Json | undefined)?.title;
      if (typeof title === "string") titles[axis].add(title);
    }
  });
  return { x: [...titles.x], y: [...titles.y] };
}
