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

  has(figure: string): boolean {
    return this.get(figure).length > 0;
  }

  note(section: string, line: string): void {
    const list = this.details.get(section) ?? [];
    list.push(line);
    this.details.set(section, list);
  }
}
