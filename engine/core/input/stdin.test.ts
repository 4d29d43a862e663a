import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { StdinSource, spool } from './stdin.js';
import { readChunks } from './read.js';
import { InputError } from '../errors.js';
import { cleanupTempDirs, tempDir } from '../../../fixtures/harness.js';

afterAll(cleanupTempDirs);

/** A stream delivering `bytes` one byte per chunk (a slow pipe: the magic bytes arrive apart). */
const trickle = (bytes: Buffer) => Readable.from((function* () {
  for (const b of bytes) yield Buffer.from([b]);
})());

async function all(it: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of it) parts.push(c);
  return Buffer.concat(parts);
}

describe('StdinSource', () => {
  it('tells gzip by its magic bytes even when they arrive in separate chunks, and yields every byte once', async () => {
    const text = Buffer.from('2025-05-02T10:00:00Z u1 login 200 5ms\n'.repeat(50));
    const gz = gzipSync(text);
    const s = await StdinSource.open(trickle(gz));
    expect([s.gzip, s.empty]).toEqual([true, false]);
    expect(await all(s.chunks())).toEqual(gz);
    const plain = await StdinSource.open(trickle(text));
    expect([plain.gzip, plain.empty]).toEqual([false, false]);
    const file = { path: '-', format: 'space' as const, gzip: plain.gzip, size: 0, stream: plain };
    expect(await all(readChunks(file))).toEqual(text);
  });

  it('an empty stream is empty; a single byte is not, and is not gzip', async () => {
    expect((await StdinSource.open(Readable.from([]))).empty).toBe(true);
    const one = await StdinSource.open(Readable.from([Buffer.from([0x1f])]));
    expect([one.empty, one.gzip]).toEqual([false, false]);
    expect(await all(one.chunks())).toEqual(Buffer.from([0x1f]));
  });

  it('is read once', async () => {
    const s = await StdinSource.open(Readable.from([Buffer.from('abc')]));
    await all(s.chunks());
    await expect(all(s.chunks())).rejects.toThrow(/once/);
  });
});

describe('spool', () => {
  it('copies the stream to a temporary file and remove() deletes it with its directory', async () => {
    const bytes = Buffer.alloc(3 << 20, 'x');
    const s = await spool(await StdinSource.open(Readable.from([bytes.subarray(0, 1), bytes.subarray(1)])), undefined, tempDir());
    expect(s.size).toBe(bytes.length);
    expect(readFileSync(s.path).equals(bytes)).toBe(true);
    await s.remove();
    expect(existsSync(dirname(s.path))).toBe(false);
  });

  it('a read error leaves no temporary file behind and is an InputError', async () => {
    let pushed = false;
    const failing = new Readable({
      read() {
        if (!pushed) {
          pushed = true;
          this.push(Buffer.from('ab'));
        } else this.destroy(Object.assign(new Error('boom'), { code: 'EIO' }));
      },
    });
    const under = tempDir();
    const source = await StdinSource.open(failing);
    await expect(spool(source, undefined, under)).rejects.toThrow(InputError);
    await expect(all(source.chunks())).rejects.toThrow(/once/);
    expect(readdirSync(under)).toEqual([]);
  });

  it('an interrupt while waiting on a pipe that sends nothing stops the copy at once and removes the file', async () => {
    const silent = new Readable({ read() {} });
    silent.push(Buffer.from('ab'));
    const under = tempDir();
    const controller = new AbortController();
    const copying = spool(await StdinSource.open(silent), controller.signal, under);
    setTimeout(() => {
      expect(readdirSync(under)).toHaveLength(1); // the copy had started
      controller.abort(new Error('interrupted by SIGINT'));
    }, 50);
    await expect(copying).rejects.toThrow('interrupted by SIGINT');
    expect(readdirSync(under)).toEqual([]);
  });
});
