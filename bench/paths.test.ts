import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { cacheDir as benchCacheDir } from './paths.js';

describe('bench cacheDir: under core mrCacheDir', () => {
  it('the benchmark datasets live in its bench folder unless $MR_BENCH_CACHE names one', () => {
    expect(benchCacheDir({ XDG_CACHE_HOME: '/x' })).toBe(join('/x', 'mr', 'bench'));
    expect(benchCacheDir({ MR_CACHE_DIR: '/c' })).toBe(join('/c', 'bench'));
    expect(benchCacheDir({ MR_CACHE_DIR: '/c', MR_BENCH_CACHE: 'rel' })).toBe(join(process.cwd(), 'rel'));
  });
});
