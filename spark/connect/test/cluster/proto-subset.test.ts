/**
 * The hand-written .proto subset must agree with Spark's own protos, field for field: the
 * spark-connect jar of the distribution under test carries them; buf compiles them to descriptors (read
 * straight from the jar), and every message, field and enum value of the subset is
 * looked up there by full name and compared (name, number, type, cardinality).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFileRegistry, fromBinary, type DescEnum, type DescField, type DescFile, type DescMessage, type FileRegistry } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { file_spark_connect_base } from '../../src/gen/spark/connect/base_pb.js';
import { file_spark_connect_commands } from '../../src/gen/spark/connect/commands_pb.js';
import { file_spark_connect_expressions } from '../../src/gen/spark/connect/expressions_pb.js';
import { file_spark_connect_relations } from '../../src/gen/spark/connect/relations_pb.js';
import { file_spark_connect_types } from '../../src/gen/spark/connect/types_pb.js';
import { file_google_rpc_status } from '../../src/gen/google/rpc/status_pb.js';
import { connectJar } from './server.js';

/** The buf CLI of the @bufbuild/buf dev dependency. */
const BUF = join(dirname(createRequire(import.meta.url).resolve('@bufbuild/buf/package.json')), 'bin', 'buf');

const SUBSET: DescFile[] = [file_spark_connect_base, file_spark_connect_commands, file_spark_connect_expressions, file_spark_connect_relations, file_spark_connect_types, file_google_rpc_status];

function allMessages(messages: readonly DescMessage[]): DescMessage[] {
  return messages.flatMap((m) => [m, ...allMessages(m.nestedMessages)]);
}

function allEnums(file: DescFile): DescEnum[] {
  return [...file.enums, ...allMessages(file.messages).flatMap((m) => m.nestedEnums)];
}

/** What must match for a field: number, kind, scalar/message/enum type, repeated/map, oneof membership. */
function shape(f: DescField): Record<string, unknown> {
  const base: Record<string, unknown> = { name: f.name, number: f.number, kind: f.fieldKind, oneof: f.oneof?.name ?? null };
  switch (f.fieldKind) {
    case 'scalar':
      return { ...base, scalar: f.scalar };
    case 'message':
      return { ...base, message: f.message.typeName };
    case 'enum':
      return { ...base, enum: f.enum.typeName };
    case 'list':
      return { ...base, list: f.listKind, of: f.listKind === 'scalar' ? f.scalar : f.listKind === 'message' ? f.message.typeName : f.enum.typeName };
    case 'map':
      return { ...base, key: f.mapKey, value: f.mapKind === 'scalar' ? f.scalar : f.mapKind === 'message' ? f.message.typeName : f.enum.typeName };
  }
}

describe('Spark Connect .proto subset', () => {
  let spark: FileRegistry;
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'spark-connect-proto-'));
    const image = join(dir, 'spark-connect.binpb');
    execFileSync(BUF, ['build', `${connectJar()}#format=zip`, '--path', 'spark/connect', '--path', 'google/rpc', '-o', image], { stdio: 'pipe' });
    spark = createFileRegistry(fromBinary(FileDescriptorSetSchema, readFileSync(image)));
  }, 120_000);

  afterAll(() => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('has every message of the subset, each field with Spark’s name, number and type', () => {
    let fields = 0;
    for (const file of SUBSET) {
      for (const mine of allMessages(file.messages)) {
        const theirs = spark.getMessage(mine.typeName);
        expect(theirs, `Spark has no message ${mine.typeName}`).toBeDefined();
        for (const f of mine.fields) {
          const t = theirs!.fields.find((x) => x.number === f.number);
          expect(t, `${mine.typeName}: Spark has no field number ${f.number} (${f.name})`).toBeDefined();
          expect(shape(f), `${mine.typeName}.${f.name}`).toEqual(shape(t!));
          fields++;
        }
      }
    }
    expect(fields).toBeGreaterThan(50);
  });

  it('has enums whose values are Spark’s', () => {
    for (const file of SUBSET) {
      for (const mine of allEnums(file)) {
        const theirs = spark.getEnum(mine.typeName);
        expect(theirs, `Spark has no enum ${mine.typeName}`).toBeDefined();
        for (const v of mine.values) expect(theirs!.values.find((x) => x.number === v.number)?.name, `${mine.typeName}.${v.name}`).toBe(v.name);
      }
    }
  });

  it('calls RPCs Spark serves, with Spark’s request and response types', () => {
    const mine = file_spark_connect_base.services[0]!;
    const theirs = spark.getService(mine.typeName);
    expect(theirs).toBeDefined();
    for (const m of mine.methods) {
      const t = theirs!.methods.find((x) => x.name === m.name);
      expect(t, `Spark has no RPC ${m.name}`).toBeDefined();
      expect([m.input.typeName, m.output.typeName, m.methodKind]).toEqual([t!.input.typeName, t!.output.typeName, t!.methodKind]);
    }
  });
});
