/**
 * Input files that exercise every rule of the contract at its edges, in every format and
 * with gzip: used to check the spark engine line for line against the naive engine.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

const TS = '2025-05-02T23:16:50Z';
const b = (s: string) => Buffer.from(s, 'utf8');
const raw = (...parts: Array<string | Buffer | number[]>) =>
  Buffer.concat(parts.map((p) => (typeof p === 'string' ? b(p) : Array.isArray(p) ? Buffer.from(p) : p)));
const BOM = [0xef, 0xbb, 0xbf];

function spaceLines(): Buffer[] {
  return [
    raw(BOM, `${TS} user115 login 200 1568ms\r`),
    b(`${TS} user115 login 200 1568ms`),
    b('  2025-05-02T08:07:36z\tuser143   login 200 1435ms  \r'),
    b(''),
    b('   \t '),
    b('\r'),
    b('2025-05-02T19:51:22Z user90 deleteOrder 200 914ms extra'),
    b('2025-05-02T19:51:22Z user90 deleteOrder 200'),
    b('2025-02-29T19:51:22Z user90 deleteOrder 200 914ms'),
    b('2024-02-29T19:51:22Z user90 deleteOrder 200 914ms'),
    b('2024-02-29T24:00:00Z user90 deleteOrder 200 914ms'),
    b('2024-02-29T23:59:60Z user90 deleteOrder 200 914ms'),
    b('2024-02-29T23:59:59.123456789+23:59 user90 deleteOrder 200 914ms'),
    b('2024-02-29T23:59:59.1+24:00 user90 deleteOrder 200 914ms'),
    b('2024-04-31T23:59:59-01:60 user90 deleteOrder 200 914ms'),
    b('2024-02-29 23:59:59Z user90 deleteOrder 200 914ms'),
    b('2000-02-29T00:00:00Z u1 login 200 1ms'),
    b('1900-02-29T00:00:00Z u1 login 200 1ms'),
    b('0000-01-01T00:00:00Z u1 login 200 1ms'),
    raw(`${TS} user`, [0xc2, 0xa0], 'x login 200 1568ms'),
    raw(`${TS} user`, [0xc2, 0x85], 'x login 200 1568ms'),
    b(`${TS} ${'u'.repeat(128)} login 200 1568ms`),
    b(`${TS} ${'u'.repeat(129)} login 200 1568ms`),
    b(`${TS} ${'é'.repeat(64)} login 200 1568ms`),
    b(`${TS} ${'é'.repeat(65)} login 200 1568ms`),
    b(`${TS} 😀${'u'.repeat(124)} login 200 1568ms`),
    b(`${TS} __proto__ login 200 1568ms`),
    b(`${TS} constructor Login 200 1568ms`),
    b(`${TS} user1 login 099 1568ms`),
    b(`${TS} user1 login 0000599 1568ms`),
    b(`${TS} user1 login 600 1568ms`),
    b(`${TS} user1 login +200 1568ms`),
    b(`${TS} user1 login 200 1568`),
    b(`${TS} user1 login 200 00086400000ms`),
    b(`${TS} user1 login 200 86400001ms`),
    b(`${TS} user1 login 200 99999999999999999999999999ms`),
    b(`${TS} user1 login 200 ms`),
    b(`${TS} user1 login 200 0ms`),
    b(`${TS} user1 login 200 12MS`),
    raw(`${TS} user1 login 200 1568ms`, [0xff]),
    b(`${TS} user1 login 200 1568ms\r\r`),
    b(`${TS} user1 login\r200 1568ms`),
    b(`${TS} user1 login 200 1${'0'.repeat(65600)}ms`),
    b(`${TS} user1 login 200 ${'1'.repeat(65536 - 38)}ms`),
    b(`${TS} user1 login 200 ${'1'.repeat(65536 - 37)}ms`),
    b(`${TS} user1 login 200 ${'1'.repeat(65536 - 37)}m\r`),
    raw(BOM, `${TS} user1 login 200 5ms`),
    raw(`${TS} `, [0xe2, 0x80, 0x83], 'user login 200 1568ms'),
    raw(`${TS} us`, [0x7f], 'er login 200 1568ms'),
    raw([0xed, 0xa0, 0x80], ' x'),
    raw([0xc0, 0xaf], ' overlong'),
    b('2025-05-02T23:16:50５ user1 login 200 1ms'),
    b(`${TS} user1 login 200 ١ms`),
  ];
}

function csvLines(): Buffer[] {
  return [
    Buffer.from(BOM),
    b('  '),
    b('Timestamp,User_ID,task,STATUS,duration,extra'),
    b(`${TS},u1,login,200,15ms,x`),
    b(`${TS},u1,login,200,15,x`),
    b(`${TS},"u1",login,200,15,"a,b"`),
    b(`${TS},"u""1",login,200,15,""`),
    b(`${TS},"u1"x,login,200,15,`),
    b(`${TS},u"1,login,200,15,`),
    b(`${TS},"u1,login,200,15,`),
    b(`${TS},u1,login,200,15`),
    b(`${TS},u1,login,200,15,,`),
    b(`${TS}, u1,login,200,15,`),
    b(`${TS},u1,login ,200,15,`),
    b(`${TS},u1,login,200,15ms ,`),
    b(',u1,login,200,15,'),
    b(`${TS},,login,200,15,`),
    b('Timestamp,User_ID,task,STATUS,duration,extra'),
    b(`${TS},u2,createOrder,200,"15",z\r`),
    b(`${TS},u2,createOrder,200,"15""",z\r`),
    b(`"${TS}",u3,createOrder,"0200","0",z`),
  ];
}

function jsonLines(): Buffer[] {
  const ok = `"timestamp":"${TS}","user":"j1","task":"login"`;
  return [
    b(`{${ok},"status":200,"duration_ms":100}`),
    b(` {${ok},"status":200.0,"duration_ms":1e2} \r`),
    b(`{${ok},"status":200,"duration_ms":100} x`),
    b(`{${ok},"status":200,"duration_ms":100}}`),
    b(`{${ok},"status":200,"duration_ms":100}]`),
    b(`{${ok},"status":200,"duration_ms":100} {}`),
    b(`{${ok},"status":200,"duration_ms":100,}`),
    b(`{'timestamp':'${TS}'}`),
    b('[1,2]'),
    b('"str"'),
    b('null'),
    b('{}'),
    b(`{${ok},"status":"200","duration_ms":100}`),
    b(`{${ok},"status":200.5,"duration_ms":100}`),
    b(`{${ok},"status":599.0000000000000000001,"duration_ms":100}`),
    b(`{${ok},"status":200,"duration_ms":-0}`),
    b(`{${ok},"status":200,"duration_ms":-1}`),
    b(`{${ok},"status":200,"duration_ms":"100"}`),
    b(`{${ok},"status":200}`),
    b(`{${ok},"status":200,"duration_ms":1e400}`),
    b(`{${ok},"status":200,"duration_ms":86400000.0}`),
    b(`{"timestamp":"${TS}","user":1,"task":"login","status":200,"duration_ms":1}`),
    b(`{"timestamp":"${TS}","user":"j\\u0000","task":"login","status":200,"duration_ms":1}`),
    b(`{"timestamp":"${TS}","user":"j\\u00e9","task":"login","status":200,"duration_ms":1}`),
    b(`{"timestamp":"${TS}\\n","user":"j1","task":"login","status":200,"duration_ms":1}`),
    b(`{"timestamp":"${TS}","user":"j1","user":"j2","task":"login","status":200,"duration_ms":1}`),
    b(`{${ok},"status":200,"duration_ms":1,"x":{"a":[1,{"b":"}]\\""}]}}`),
    b(`{"timestamp":"${TS}","user":"j1","task":"lo\\tgin","status":200,"duration_ms":1}`),
    b(`{${ok},"status":true,"duration_ms":1}`),
    b(`{${ok},"status":null,"duration_ms":1}`),
    b(`{${ok},"status":0200,"duration_ms":1}`),
    b(`{${ok},"status":200,"duration_ms":1} // c`),
    b(`{"__proto__":"x","timestamp":"${TS}","user":"__proto__","task":"login","status":2e2,"duration_ms":12345678901234567890e-19}`),
    b(`{${ok},"status":200,"duration_ms":NaN}`),
    raw([0], '{}'),
    b(`{"TIMESTAMP":"${TS}","user":"j1","task":"login","status":200,"duration_ms":1}`),
  ];
}

/** Writes the edge-case files into `dir` and returns it. */
export function writeEdgeFixtures(dir: string): string {
  mkdirSync(dir, { recursive: true });
  const lf = (lines: Buffer[]) => Buffer.concat(lines.flatMap((l, i) => (i === 0 ? [l] : [Buffer.from('\n'), l])));
  writeFileSync(join(dir, 'a.log'), lf(spaceLines()));
  writeFileSync(join(dir, 'b.txt'), b(`2025-05-03T10:00:00Z userB login 200 10ms\n2025-05-03T10:00:00Z userB login 200 10ms`));
  writeFileSync(join(dir, 'c.log.gz'), gzipSync(raw(BOM, '2025-05-03T10:00:00Z userC createOrder 201 7ms\r\nbad line\n')));
  writeFileSync(join(dir, 'd.csv'), Buffer.concat([lf(csvLines()), b('\n')]));
  writeFileSync(join(dir, 'e.csv'), b(`task,user,timestamp,duration_ms,status\nlogin,u9,${TS},1,200\n`));
  writeFileSync(join(dir, 'f.jsonl'), Buffer.concat([lf(jsonLines()), b('\n')]));
  writeFileSync(join(dir, 'g.ndjson.gz'), gzipSync(lf(jsonLines().slice(0, 3))));
  writeFileSync(join(dir, 'h.csv.gz'), gzipSync(b(`\n\nuser,task,status,duration_ms,timestamp\r\nu7,login,200,5,${TS}\r\n`)));
  return dir;
}
