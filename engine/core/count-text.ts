/**
 * A count for people, with thousands separators: `1,234,567`, as `toLocaleString('en-US')`
 * writes a whole number, without ICU. The first toLocaleString of a process starts ICU's
 * number formatting, which took 19–29 ms here: paid on the main thread at the end of every
 * run whose logs name a task with no rate (the warning counts its records).
 */
export function countText(n: number | bigint): string {
  const text = n.toString();
  const sign = text.startsWith('-') ? '-' : '';
  const digits = sign === '' ? text : text.slice(1);
  // Whole numbers only (counts); anything else is written as toLocaleString would be asked to.
  if (!/^\d+$/.test(digits)) return n.toLocaleString('en-US');
  let out = '';
  let end = digits.length;
  while (end > 3) {
    out = `,${digits.slice(end - 3, end)}${out}`;
    end -= 3;
  }
  return sign + digits.slice(0, end) + out;
}
