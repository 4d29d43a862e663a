import { describe, expect, it } from 'vitest';
import { RunFailure } from '../core/errors.js';
import { checkHeap } from './heap-guard.js';

describe('checkHeap', () => {
  it('throws a RunFailure (exit 1) naming the users held, the heap and the way out once the heap holds more than the share', () => {
    let thrown: unknown;
    try {
      checkHeap(1234567, 0);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(RunFailure);
    expect((thrown as RunFailure).exitCode).toBe(1);
    expect((thrown as Error).message).toMatch(
      /^the naive engine holds every user in memory, and the JavaScript heap is nearly full at 1,234,567 users \([\d,]+ of [\d,]+ MiB\): bill with --engine parallel \(its memory is bounded\), or give Node a larger heap \(NODE_OPTIONS=--max-old-space-size=MiB\)$/,
    );
  });

  it('lets the run go on below the share', () => {
    expect(() => checkHeap(10, 1)).not.toThrow();
  });
});
