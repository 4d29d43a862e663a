/** Builders of plan pieces: SQL with parameters, literals, expressions, table and file reads, projections, filters, temporary views. */
import { create } from '@bufbuild/protobuf';
import { RelationSchema, type Relation } from './gen/spark/connect/relations_pb.js';
import { ExpressionSchema, type Expression, type Expression_Literal } from './gen/spark/connect/expressions_pb.js';
import { CommandSchema, type Command } from './gen/spark/connect/commands_pb.js';

/** A value that can be bound to a named SQL parameter (`:name`). */
export type SqlValue = string | number | bigint | boolean | Uint8Array;

/** A literal expression: strings, booleans, integers (int or bigint), doubles, binary. */
export function literal(value: SqlValue): Expression {
  const lit = (literalType: Expression_Literal['literalType']): Expression =>
    create(ExpressionSchema, { exprType: { case: 'literal', value: { literalType } } });
  if (typeof value === 'string') return lit({ case: 'string', value });
  if (typeof value === 'boolean') return lit({ case: 'boolean', value });
  if (typeof value === 'bigint') return lit({ case: 'long', value });
  if (value instanceof Uint8Array) return lit({ case: 'binary', value });
  if (Number.isInteger(value)) {
    return Math.abs(value) <= 0x7fffffff ? lit({ case: 'integer', value }) : lit({ case: 'long', value: BigInt(value) });
  }
  return lit({ case: 'double', value });
}

/** A SQL expression string, parsed by Spark (`selectExpr` style; `expr AS name` allowed). */
export function expr(text: string): Expression {
  return create(ExpressionSchema, { exprType: { case: 'expressionString', value: { expression: text } } });
}

/** A SQL query relation with named parameters (`:name` in the text). */
export function sql(query: string, args: Readonly<Record<string, SqlValue>> = {}): Relation {
  const namedArguments: Record<string, Expression> = {};
  for (const [k, val] of Object.entries(args)) namedArguments[k] = literal(val);
  return create(RelationSchema, { relType: { case: 'sql', value: { query, namedArguments } } });
}

/** Reads files through a data source (`text`, `csv`, `json`, …) with options. */
export function readFiles(format: string, paths: readonly string[], options: Readonly<Record<string, string>> = {}): Relation {
  return create(RelationSchema, {
    relType: { case: 'read', value: { readType: { case: 'dataSource', value: { format, paths: [...paths], options: { ...options } } } } },
  });
}

/** Reads a table or view by name (`spark.read.table`). */
export function table(name: string, options: Readonly<Record<string, string>> = {}): Relation {
  return create(RelationSchema, { relType: { case: 'read', value: { readType: { case: 'namedTable', value: { unparsedIdentifier: name, options: { ...options } } } } } });
}

/** `input WHERE condition` (a SQL expression string). */
export function filter(input: Relation, condition: string): Relation {
  return create(RelationSchema, { relType: { case: 'filter', value: { input, condition: expr(condition) } } });
}

/** SELECT exprs FROM input. */
export function project(input: Relation, expressions: readonly string[]): Relation {
  return create(RelationSchema, { relType: { case: 'project', value: { input, expressions: expressions.map(expr) } } });
}

/** CREATE OR REPLACE TEMPORARY VIEW name AS input (session scoped). */
export function createTempView(name: string, input: Relation): Command {
  return create(CommandSchema, { commandType: { case: 'createDataframeView', value: { input, name, isGlobal: false, replace: true } } });
}

/**
 * Registers a Java class on the cluster's classpath (it implements one of Spark's
 * `org.apache.spark.sql.api.java.UDF0…UDF22`) as a session function callable from SQL by
 * `name` (`spark.udf.registerJavaFunction`). `returnType` is a Spark type in DDL form
 * (`struct<a:string,b:bigint>`); without it Spark infers the type from the class.
 */
export function registerJavaFunction(name: string, className: string, returnType?: string): Command {
  return create(CommandSchema, {
    commandType: {
      case: 'registerFunction',
      value: {
        functionName: name,
        deterministic: true,
        function: {
          case: 'javaUdf',
          value: {
            className,
            aggregate: false,
            ...(returnType === undefined ? {} : { outputType: { kind: { case: 'unparsed', value: { dataTypeString: returnType } } } }),
          },
        },
      },
    },
  });
}
