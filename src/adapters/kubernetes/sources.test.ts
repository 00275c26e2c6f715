import * as k8s from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { withInactivityTimeout } from './sources.ts';

describe('watch inactivity timeout', () => {
  it("sets the field client-node's Watch times a silent connection out by (30 s unless set)", () => {
    const watch = new k8s.Watch(new k8s.KubeConfig());
    expect((watch as unknown as { requestTimeoutMs: unknown }).requestTimeoutMs).toBe(30_000);
    expect(
      (withInactivityTimeout(watch, 90_000) as unknown as { requestTimeoutMs: unknown }).requestTimeoutMs,
    ).toBe(90_000);
  });
});
