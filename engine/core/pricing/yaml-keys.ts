/**
 * Where a YAML plan uses a collection as a mapping key (`? [a, b]` or `{x: 1}: …`). js-yaml
 * refuses it through the plan's schema but reports the document's start as its position, so
 * the plan's error names the key's own line and column, found with the `yaml` package.
 */
import { LineCounter, parseDocument, visit, isScalar } from 'yaml';

/** `line:column` (1-based) of the first mapping key in `text` that is not a scalar; null when there is none or the text does not parse. */
export function firstCollectionKeyPosition(text: string): string | null {
  const lines = new LineCounter();
  let at: number | null = null;
  try {
    const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: false });
    visit(doc, {
      Pair(_, pair) {
        const key = pair.key as { range?: [number, number, number] } | null;
        if (key !== null && !isScalar(key) && key.range !== undefined) {
          at = key.range[0];
          return visit.BREAK;
        }
        return undefined;
      },
    });
  } catch {
    return null;
  }
  if (at === null) return null;
  const { line, col } = lines.linePos(at);
  return `${line}:${col}`;
}
