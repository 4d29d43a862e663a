/** Plan builders: the protobuf messages Spark receives for SQL, literals, reads, projections, filters and views. */
import { describe, expect, it } from 'vitest';
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import { RelationSchema } from '../src/gen/spark/connect/relations_pb.js';
import { createTempView, expr, filter, literal, project, readFiles, sql, table } from '../src/plan.js';

describe('literal', () => {
  it('picks the Spark type of each JavaScript value', () => {
    const kind = (v: Parameters<typeof literal>[0]) => {
      const e = literal(v).exprType;
      if (e.case !== 'literal') throw new Error(`not a literal: ${e.case}`);
      return [e.value.literalType.case, e.value.literalType.value];
    };
    expect(kind('hé')).toEqual(['string', 'hé']);
    expect(kind(true)).toEqual(['boolean', true]);
    expect(kind(42)).toEqual(['integer', 42]);
    expect(kind(-0x7fffffff)).toEqual(['integer', -0x7fffffff]);
    expect(kind(0x80000000)).toEqual(['long', 0x80000000n]);
    expect(kind(2n ** 60n)).toEqual(['long', 2n ** 60n]);
    expect(kind(10.5)).toEqual(['double', 10.5]);
    expect(kind(new Uint8Array([0, 255]))).toEqual(['binary', new Uint8Array([0, 255])]);
  });
});

describe('relations', () => {
  it('sql carries the query and its named parameters as literals', () => {
    const r = sql('SELECT :a, :b', { a: 'x', b: 7 });
    expect(r.relType.case).toBe('sql');
    if (r.relType.case !== 'sql') return;
    expect(r.relType.value.query).toBe('SELECT :a, :b');
    expect(Object.keys(r.relType.value.namedArguments).sort()).toEqual(['a', 'b']);
    expect(r.relType.value.namedArguments['b']).toEqual(literal(7));
  });

  it('readFiles, table, project and filter nest as Spark expects, and survive the wire', () => {
    const read = readFiles('text', ['/a.log', '/b.log'], { lineSep: '\n' });
    const r = filter(project(read, ['value AS v', 'length(value) AS n']), 'n > 0');
    const back = fromBinary(RelationSchema, toBinary(RelationSchema, r));
    expect(back).toEqual(r);
    if (back.relType.case !== 'filter') throw new Error(back.relType.case);
    expect(back.relType.value.condition).toEqual(expr('n > 0'));
    const p = back.relType.value.input!.relType;
    if (p.case !== 'project') throw new Error(p.case);
    expect(p.value.expressions.map((e) => (e.exprType.case === 'expressionString' ? e.exprType.value.expression : null))).toEqual(['value AS v', 'length(value) AS n']);
    const rd = p.value.input!.relType;
    if (rd.case !== 'read' || rd.value.readType.case !== 'dataSource') throw new Error('not a data source read');
    expect(rd.value.readType.value).toMatchObject({ format: 'text', paths: ['/a.log', '/b.log'], options: { lineSep: '\n' } });

    const t = table('db.events', { versionAsOf: '3' }).relType;
    if (t.case !== 'read' || t.value.readType.case !== 'namedTable') throw new Error('not a named table read');
    expect(t.value.readType.value).toMatchObject({ unparsedIdentifier: 'db.events', options: { versionAsOf: '3' } });
  });

  it('createTempView replaces a session-scoped view', () => {
    const c = createTempView('v', sql('SELECT 1')).commandType;
    if (c.case !== 'createDataframeView') throw new Error(String(c.case));
    expect(c.value).toMatchObject({ name: 'v', isGlobal: false, replace: true });
    expect(c.value.input).toEqual(sql('SELECT 1'));
  });
});
