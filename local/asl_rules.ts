// What a state machine must keep to, so that the definition `cdk deploy` ships runs unchanged on the local runner
// (aws-local-stepfunctions 3.0.0) and cannot hang on AWS: JSONPath only, every Task with its own TimeoutSeconds,
// every top-level Task/Map/Parallel with a Catch, nothing the local runner ignores or rejects.
export interface AslProblem {
  state: string;
  problem: string;
}

interface State {
  Type?: string;
  TimeoutSeconds?: number;
  TimeoutSecondsPath?: string;
  Catch?: unknown[];
  Assign?: unknown;
  QueryLanguage?: string;
  ItemReader?: unknown;
  ItemProcessor?: Machine & { ProcessorConfig?: { Mode?: string } };
  Iterator?: Machine;
  Branches?: Machine[];
  ResultPath?: string | null;
  Arguments?: unknown;
  Output?: unknown;
}
interface Machine {
  States?: Record<string, State>;
  QueryLanguage?: string;
}

/** Every rule broken, one line each; empty when the definition is fine. */
export function checkAsl(definition: unknown): AslProblem[] {
  const problems: AslProblem[] = [];
  const machine = definition as Machine;
  if (machine.QueryLanguage !== undefined && machine.QueryLanguage !== "JSONPath") {
    problems.push({
      state: "(machine)",
      problem: `QueryLanguage ${machine.QueryLanguage}: the local runner ignores JSONata`,
    });
  }
  walk(machine, true, problems);
  return problems;
}

function walk(machine: Machine, topLevel: boolean, problems: AslProblem[]): void {
  for (const [name, state] of Object.entries(machine.States ?? {})) {
    const add = (problem: string) => problems.push({ state: name, problem });
    if (state.QueryLanguage !== undefined && state.QueryLanguage !== "JSONPath")
      add(`QueryLanguage ${state.QueryLanguage}: the local runner ignores JSONata`);
    if (state.Arguments !== undefined || state.Output !== undefined) add("Arguments/Output are JSONata fields");
    if (state.Assign !== undefined) add("Assign (variables): the local runner rejects it");
    if (state.ItemReader !== undefined) add("ItemReader: the local runner rejects it");
    if (state.ItemProcessor?.ProcessorConfig?.Mode === "DISTRIBUTED")
      add("Distributed Map: the local runner runs it inline, unlike AWS");
    if (JSON.stringify(state).includes("States.JsonToString"))
      add("States.JsonToString: the local runner drops the escapes of quotes and backslashes");
    if (state.ResultPath === "$")
      add('ResultPath "$": the local runner stores the result under a key named "$" (omit it: same meaning)');
    if (state.Type === "Task") {
      if (state.TimeoutSeconds === undefined && state.TimeoutSecondsPath === undefined) {
        add("Task without TimeoutSeconds (AWS waits up to a year; the local runner gives up after 60 s)");
      }
    }
    // Tasks inside a Map or Parallel fail into their parent, whose own Catch handles them.
    if (
      topLevel &&
      ["Task", "Map", "Parallel"].includes(state.Type ?? "") &&
      !(state.Catch && state.Catch.length > 0)
    ) {
      add(`${state.Type} without a Catch: a failure would skip releasing the run lock and notifying`);
    }
    for (const inner of [state.ItemProcessor, state.Iterator, ...(state.Branches ?? [])])
      if (inner) walk(inner, false, problems);
  }
}
