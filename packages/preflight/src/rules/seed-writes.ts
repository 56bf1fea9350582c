// Whether an object literal in a seed or migration reaches a write of rows (`insert`, `create`,
// `$set`, exported seed rows), as opposed to a schema call (`createTable`, `createIndex`, `$rename`)
// that only names columns. A walk up the tree and through `const`s, not data-flow analysis.
import {
  type AstNode,
  child,
  children,
  memberPath,
  memberPropertyName,
  nodesWithin,
  propertyKeyName,
  unwrap,
} from '../js-ast.ts';

// Calls that write rows: knex, prisma, TypeORM, sequelize, drizzle, MikroORM, objection, mongoose/MongoDB.
const WRITE_CALL =
  /^(insert|insertOne|insertMany|insertGraph|insertAndFetch|batchInsert|bulkInsert|bulkCreate|create|createMany|createOne|createAndSave|findOrCreate|upsert|save|values|update|updateOne|updateMany|patch|merge|set|replaceOne|findOneAndUpdate|findOneAndReplace|findByIdAndUpdate|persist|persistAndFlush|seed|add|put)$/;
// `createUser(…)`, `insertAdmin(…)`, `seedTenants(…)`: a helper named for a write, unless the rest names schema or infrastructure.
const WRITE_PREFIX = /^(create|insert|add|seed|register|upsert|save|put|write)[A-Z]/;
const NOT_ROWS =
  /(Table|TableIfNotExists|Index|Indexes|Collection|Schema|Column|Columns|Constraint|View|MaterializedView|Extension|Type|Enum|Function|Trigger|Sequence|Database|Connection|Client|Pool|Hash|Hmac|Cipheriv|Decipheriv|Server|App|Router|Migration)$/;
// Schema and DDL calls: their objects map columns to types or index kinds, never to values.
const SCHEMA_CALL =
  /^(createTable|createTableIfNotExists|alterTable|table|addColumn|addColumns|alterColumn|changeColumn|renameColumn|dropColumn|dropColumns|removeColumn|createIndex|createIndexes|ensureIndex|addIndex|dropIndex|createCollection|createSchema|createType|addConstraint|createView|createExtension|define|init)$/;
// Update methods whose first argument is a filter: `updateMany({ … }, { $set: … })`.
const FILTER_FIRST = /^(update|updateOne|updateMany|replaceOne|findOneAndUpdate|findOneAndReplace|findByIdAndUpdate)$/;
// Keys of an update or query object whose value is no written row: renames, unsets, filters.
const NOT_WRITTEN_KEY =
  /^(\$rename|\$unset|\$inc|where|filter|select|orderBy|include|omit|projection|sort|indexes|columns|schema)$/;
const ITERATING = /^(map|flatMap|forEach|filter)$/;

/** `insert` of `knex('users').insert(…)`, `create` of `prisma.user.create(…)`, `seed` of `seed(…)`. */
function calleeName(call: AstNode): string | undefined {
  const callee = unwrap(child(call, 'callee'));
  if (callee?.type === 'Identifier') return callee.name as string;
  return memberPropertyName(callee);
}

type Verdict = 'write' | 'schema' | 'none';

function callVerdict(call: AstNode, argument: AstNode): Verdict {
  const name = calleeName(call);
  if (name === undefined) return 'none';
  if (SCHEMA_CALL.test(name)) return 'schema';
  const args = children(call, 'arguments');
  if (FILTER_FIRST.test(name) && args.length > 1 && args[0] === argument) return 'schema';
  if (call.type === 'NewExpression') return 'write';
  if (WRITE_CALL.test(name) || (WRITE_PREFIX.test(name) && !NOT_ROWS.test(name))) return 'write';
  return 'none';
}

/** Whether a function body or loop body holds a call that writes rows. */
function holdsWrite(node: AstNode | undefined, nodes: readonly AstNode[]): boolean {
  if (!node) return false;
  for (const n of nodesWithin(node, nodes)) {
    if (n.type === 'CallExpression' || n.type === 'NewExpression') {
      const name = calleeName(n);
      if (name !== undefined && !SCHEMA_CALL.test(name) && (WRITE_CALL.test(name) || WRITE_PREFIX.test(name)))
        return true;
    }
  }
  return false;
}

/** What a seed module knows to answer {@link reachesWrite}: its nodes and references by name. */
export interface SeedModule {
  readonly nodes: readonly AstNode[];
  readonly parentOf: ReadonlyMap<AstNode, AstNode>;
  /** Identifiers by name (built once per file). */
  readonly references: ReadonlyMap<string, readonly AstNode[]>;
  /** Whether the uses of a binding reach a write, by its declaration and whether rows were seen on the way. */
  readonly followed: Map<AstNode, [boolean | undefined, boolean | undefined]>;
}

export function seedModule(nodes: readonly AstNode[], parentOf: ReadonlyMap<AstNode, AstNode>): SeedModule {
  const references = new Map<string, AstNode[]>();
  for (const n of nodes) {
    if (n.type !== 'Identifier') continue;
    const list = references.get(n.name as string);
    if (list) list.push(n);
    else references.set(n.name as string, [n]);
  }
  return { nodes, parentOf, references, followed: new Map() };
}

const MAX_DEPTH = 8;

/**
 * Whether the value of `start` (an object literal) is written as a row: passed, directly or inside
 * arrays, wrapper objects (`data`, `$set`, `create`), callbacks and `const`s, to a write call; or
 * exported as seed rows (inside an array: `export const tenants = [{ … }]`). Schema calls,
 * filters and renames stop the walk.
 */
export function reachesWrite(start: AstNode, module: SeedModule): boolean {
  const seen = new Set<AstNode>();
  // Walks given up on (too deep, or a node already on the way): a "no" reached past one of them
  // holds for this walk only, never for the binding.
  let cutShort = 0;
  const walk = (from: AstNode, inArray: boolean, depth: number): boolean => {
    if (depth > MAX_DEPTH || seen.has(from)) {
      cutShort++;
      return false;
    }
    seen.add(from);
    let node = from;
    let rows = inArray;
    for (;;) {
      const parent = module.parentOf.get(node);
      if (!parent) return false;
      switch (parent.type) {
        case 'ArrayExpression':
          rows = true;
          break;
        case 'Property': {
          if (child(parent, 'value') !== node) return false;
          const key = propertyKeyName(parent);
          if (key !== undefined && NOT_WRITTEN_KEY.test(key)) return false;
          break;
        }
        case 'ObjectExpression':
        case 'SpreadElement':
        case 'AwaitExpression':
        case 'ConditionalExpression':
        case 'LogicalExpression':
        case 'SequenceExpression':
        case 'ParenthesizedExpression':
        case 'ChainExpression':
        case 'TSAsExpression':
        case 'TSSatisfiesExpression':
        case 'TSNonNullExpression':
        case 'TSTypeAssertion':
          break;
        case 'CallExpression':
        case 'NewExpression': {
          if (unwrap(child(parent, 'callee')) === node || child(parent, 'callee') === node) break; // `build()` → its result
          const verdict = callVerdict(parent, node);
          if (verdict !== 'none') return verdict === 'write';
          break; // an unknown call: follow its result (`withTimestamps({ … })`)
        }
        case 'MemberExpression': {
          // `users.forEach((u) => prisma.user.create({ data: u }))`, `rows.map(…)`.
          const call = module.parentOf.get(parent);
          const method = memberPropertyName(parent);
          if (child(parent, 'object') !== node || call?.type !== 'CallExpression' || !ITERATING.test(method ?? ''))
            return false;
          if (children(call, 'arguments').some((callback) => holdsWrite(callback, module.nodes))) return true;
          node = call;
          rows = true;
          continue;
        }
        case 'ArrowFunctionExpression':
        case 'ReturnStatement':
        case 'BlockStatement':
        case 'FunctionExpression':
        case 'FunctionDeclaration': {
          // Returned from a function: follow the function (a callback passed on, or a named factory).
          if (parent.type === 'BlockStatement' || parent.type === 'ReturnStatement') break;
          if (parent.type === 'FunctionDeclaration') {
            const id = child(parent, 'id');
            return id?.type === 'Identifier' && followName(id.name as string, parent, rows, depth);
          }
          break;
        }
        case 'VariableDeclarator': {
          const id = child(parent, 'id');
          if (child(parent, 'init') !== node || id?.type !== 'Identifier') return false;
          // `export const tenants = [{ … }]`: seed rows another file inserts.
          if (rows && exported(parent, module.parentOf)) return true;
          return followName(id.name as string, id, rows, depth);
        }
        case 'ExportDefaultDeclaration':
          return rows;
        case 'AssignmentExpression': {
          const target = memberPath(child(parent, 'left'));
          const exports = target?.[0] === 'exports' || (target?.[0] === 'module' && target[1] === 'exports');
          return exports && rows;
        }
        case 'ForOfStatement':
        case 'ForInStatement':
          return child(parent, 'right') === node && holdsWrite(child(parent, 'body'), module.nodes);
        default:
          return false;
      }
      node = parent;
    }
  };
  /** Every use of a name bound in the module (no scope analysis: a shadowing local may be taken too). */
  // Answered once per binding: every row of `const rows = [{ … }, …]` asks the same question.
  const followName = (name: string, declaration: AstNode, rows: boolean, depth: number): boolean => {
    let known = module.followed.get(declaration);
    if (!known) {
      known = [undefined, undefined];
      module.followed.set(declaration, known);
    }
    const slot = rows ? 1 : 0;
    const cached = known[slot];
    if (cached !== undefined) return cached;
    const cutsBefore = cutShort;
    const answer = (module.references.get(name) ?? []).some(
      (ref) =>
        ref !== declaration &&
        !(ref.start >= declaration.start && ref.end <= declaration.end) &&
        walk(ref, rows, depth + 1),
    );
    if (answer || cutShort === cutsBefore) known[slot] = answer;
    return answer;
  };
  return walk(start, false, 0);
}

function exported(declarator: AstNode, parentOf: ReadonlyMap<AstNode, AstNode>): boolean {
  const declaration = parentOf.get(declarator);
  return declaration !== undefined && parentOf.get(declaration)?.type === 'ExportNamedDeclaration';
}
