import { describe, expect, it } from 'vitest';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { mrCacheDir } from './cache-dir.js';

describe('mrCacheDir: one cache rule', () => {
  it('prefers $MR_CACHE_DIR, then $XDG_CACHE_HOME/mr, then ~/.cache/mr (an empty variable counts as unset)', () => {
    expect(mrCacheDir({ MR_CACHE_DIR: '/c', XDG_CACHE_HOME: '/x' })).toBe('/c');
    expect(mrCacheDir({ MR_CACHE_DIR: '', XDG_CACHE_HOME: '/x' })).toBe(join('/x', 'mr'));
    expect(mrCacheDir({ XDG_CACHE_HOME: '' })).toBe(join(homedir(), '.cache', 'mr'));
    expect(mrCacheDir({})).toBe(join(homedir(), '.cache', 'mr'));
  });
});
