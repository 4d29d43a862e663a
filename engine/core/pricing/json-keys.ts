/**
 * Repeated keys in a JSON plan. JSON.parse keeps the last of two equal keys in an object, so
 * `"login": {"per_ms": "0.005"}, "login": {"per_ms": "5"}` would bill the second price with
 * no word; a plan must say each thing once, as a YAML plan must (decision 24).
 */

/** Where the walk is: an object (with the keys seen and whether a key comes next) or an array (with its index). */
type Frame = { kind: 'object'; keys: Set<string>; expectKey: boolean; at: string | number | undefined } | { kind: 'array'; index: number; at: string | number | undefined };

/**
 * The path (segments, array indices as numbers) of the first key repeated in one object of
 * `text`, which JSON.parse has accepted; null when every object's keys differ. Keys compare
 * as the strings they decode to (`"\u0061"` is `"a"`).
 */
export function firstRepeatedJsonKey(text: string): Array<string | number> | null {
  const stack: Frame[] = [];
  let pendingKey: string | number | undefined;
  const path = (): Array<string | number> => stack.slice(1).map((f) => f.at!);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      let j = i + 1;
      while (text.charCodeAt(j) !== 0x22) j += text.charCodeAt(j) === 0x5c /* \ */ ? 2 : 1;
      const top = stack[stack.length - 1];
      if (top?.kind === 'object' && top.expectKey) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        if (top.keys.has(key)) return [...path(), key];
        top.keys.add(key);
        top.expectKey = false;
        pendingKey = key;
      }
      i = j;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      const top = stack[stack.length - 1];
      const at = top === undefined ? undefined : top.kind === 'array' ? top.index : pendingKey;
      stack.push(c === 0x7b ? { kind: 'object', keys: new Set(), expectKey: true, at } : { kind: 'array', index: 0, at });
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
    } else if (c === 0x2c /* , */) {
      const top = stack[stack.length - 1];
      if (top?.kind === 'object') top.expectKey = true;
      else if (top?.kind === 'array') top.index++;
    }
  }
  return null;
}
