/**
 * The naive engine: one streaming pass on the main thread, file after file, line after
 * line. It is the honest baseline and the reference the other engines are checked against.
 * Records with an identity (SPEC "Duplicate deliveries") go through a seen-id set that
 * spills by hash partition beyond its memory budget (engine/core/dedupe/seen.ts).
 */
import { LineFramer } from '../core/formats/lines.js';
import { RecordParser } from '../core/formats/records.js';
import { readChunks } from '../core/input/read.js';
import { LineAccumulator } from '../core/billing/accumulate.js';
import { UsageTable, emptyCounts, type BillingResult } from '../core/billing/usage.js';
import type { RunInput } from '../core/billing/run.js';
import { DEFAULT_DEDUPE } from '../core/dedupe/dedupe.js';
import { SeenRecords } from '../core/dedupe/seen.js';
import { checkHeap } from './heap-guard.js';

export async function runNaive(input: RunInput): Promise<BillingResult> {
  const counts = emptyCounts();
  const usage = new UsageTable(input.config.rates.length);
  const dedupe = input.dedupe ?? DEFAULT_DEDUPE;
  const parser = new RecordParser(input.config, input.window, { deferWindow: dedupe.mode !== 'off' });
  const seen = dedupe.mode === 'off' ? undefined : new SeenRecords(dedupe, counts, usage);
  const target = seen === undefined || dedupe.mode === 'off' ? undefined : { mode: dedupe.mode, sink: seen };
  let backpressure = false;
  try {
    for (let i = 0; i < input.files.length; i++) {
      const file = input.files[i]!;
      input.signal.throwIfAborted();
      if (seen !== undefined) seen.order = i;
      const sink = {
        reject(offset: number, reason: Parameters<typeof input.rejects.add>[2], raw: Uint8Array) {
          if (!input.rejects.add(file.path, offset, reason, raw)) backpressure = true;
        },
      };
      const framer = new LineFramer(new LineAccumulator(file.path, file.format, parser, counts, usage, sink, undefined, file.wrapped, target));
      for await (const chunk of readChunks(file, input.onBytes, { signal: input.signal })) {
        framer.push(chunk);
        checkHeap(usage.size);
        if (backpressure) {
          backpressure = false;
          await input.rejects.drain();
        }
      }
      framer.end();
    }
    seen?.finish();
  } finally {
    seen?.dispose();
  }
  return { counts, usage };
}
