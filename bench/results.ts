// What the scenarios measured, gathered across repeated runs: values per figure (one per run) and
// detail lines per scenario. The runner turns them into BENCHMARKS.md rows.

export class Results {
  private readonly values = new Map<string, number[]>();
  readonly details = new Map<string, string[]>();

  add(figure: string, value: number): void {
    const list = this.values.get(figure) ?? [];
    list.push(value);
    this.values.set(figure, list);
  }

  get(figure: string): number[] {
    return this.values.get(figure) ?? [];
  }

  /** The sizes recorded under `prefix` (`c.p99.` → [200, 1000]), ascending. */
  sizes(prefix: string): number[] {
    return [...this.values.keys()]
      .filter((k) => k.startsWith(prefix))
      .map((k) => Number(k.slice(prefix.length)))
      .filter((n) => Number.isFinite(n))
      .sort((a, b) => a - b);
  }

  has(figure: string): boolean {
    return this.get(figure).length > 0;
  }

  toJSON(): { values: Record<string, number[]>; details: Record<string, string[]> } {
    return { values: Object.fromEntries(this.values), details: Object.fromEntries(this.details) };
  }

  static fromJSON(data: { values: Record<string, number[]>; details: Record<string, string[]> }): Results {
    const results = new Results();
    for (const [k, v] of Object.entries(data.values)) results.values.set(k, v);
    for (const [k, v] of Object.entries(data.details)) results.details.set(k, v);
    return results;
  }

  note(section: string, line: string): void {
    const list = this.details.get(section) ?? [];
    list.push(line);
    this.details.set(section, list);
  }
}

/** The scenario letter of a figure id (`f.rss.1000`, `queue.plain`) or a details heading (`(f) memory`). */
export function scenarioLetter(key: string): string {
  return key.startsWith('(') ? key.slice(1, 2) : key.slice(0, 1);
}

/**
 * Runs merged scenario by scenario, figure by figure: each figure comes from the last run that
 * measured its scenario (`letters`: the scenarios a run was asked for) and has it, so a size measured
 * only in an earlier run stays, and every ratio still divides by a baseline measured in its own run
 * (a run that measured a size has both). A run's details for a scenario stay while it still
 * provides one of that scenario's figures.
 */
export function mergeScenarios(
  runs: ReadonlyArray<{ results: Results; letters: ReadonlySet<string> }>,
): Results {
  const owner = new Map<string, Results>();
  for (const { results, letters } of runs)
    for (const key of Object.keys(results.toJSON().values))
      if (letters.has(scenarioLetter(key))) owner.set(key, results);
  const provides = (results: Results, letter: string) =>
    [...owner].some(([key, run]) => run === results && scenarioLetter(key) === letter);
  const merged = new Results();
  for (const { results, letters } of runs) {
    const { values, details } = results.toJSON();
    for (const [key, list] of Object.entries(values))
      if (owner.get(key) === results) for (const v of list) merged.add(key, v);
    for (const [heading, lines] of Object.entries(details)) {
      const letter = scenarioLetter(heading);
      if (letters.has(letter) && provides(results, letter))
        for (const line of lines) merged.note(heading, line);
    }
  }
  return merged;
}
