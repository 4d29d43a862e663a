/**
 * The naive engine: one streaming pass on the main thread, file after file, line after
 * line. It is the honest baseline and the reference the other engines are checked against.
 */
import { LineFramer } from '../core/formats/lines.js';
import { RecordParser } from '../core/formats/records.js';
import { readChunks } from '../core/input/read.js';
import { LineAccumulator } from '../core/billing/accumulate.js';
import { UsageTable, emptyCounts, type BillingResult } from '../core/billing/usage.js';
import type { RunInput } from '../core/billing/run.js';

export async function runNaive(input: RunInput): Promise<BillingResult> {
  const counts = emptyCounts();
  const usage = new UsageTable(input.config.rates.length);
  const parser = new RecordParser(input.config, input.window);
  let backpressure = false;
  for (const file of input.files) {
    input.signal.throwIfAborted();
    const sink = {
      reject(offset: number, reason: Parameters<typeof input.rejects.add>[2], raw: Uint8Array) {
        if (!input.rejects.add(file.path, offset, reason, raw)) backpressure = true;
      },
    };
    const framer = new LineFramer(new LineAccumulator(file.path, file.format, parser, counts, usage, sink, undefined, file.wrapped));
    for await (const chunk of readChunks(file, input.onBytes, { signal: input.signal })) {
      framer.push(chunk);
      if (backpressure) {
        backpressure = false;
        await input.rejects.drain();
      }
    }
    framer.end();
  }
  return { counts, usage };
}
