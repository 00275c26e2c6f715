import { describe, expect, it } from 'vitest';
import { chartMemoryLimit, quantityBytes } from './memory-limit.ts';

describe('the memory limit the benchmark runs the operator under', () => {
  it('reads Kubernetes memory quantities', () => {
    expect(quantityBytes('512Mi')).toBe(512 * 2 ** 20);
    expect(quantityBytes('1Gi')).toBe(2 ** 30);
    expect(quantityBytes('1.5G')).toBe(1.5e9);
    expect(quantityBytes('268435456')).toBe(268435456);
    expect(quantityBytes('512 MiB')).toBeUndefined();
    expect(quantityBytes('lots')).toBeUndefined();
  });

  it("is the chart's container limit by default", () => {
    const { quantity, bytes } = chartMemoryLimit();
    expect(quantityBytes(quantity)).toBe(bytes);
    expect(bytes).toBeGreaterThan(0);
  });
});
