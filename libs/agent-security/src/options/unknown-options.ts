import { AGENT_SECURITY_OPTION_KEYS, EachOf, type OptionNode, type OptionTable } from './known-options.js';

/** A key the table does not know, with the known key it most likely meant. */
export interface UnknownOption {
  readonly path: string;
  readonly suggestion: string | undefined;
}

/** Only the objects a user writes as literals are walked; class instances (a Buffer, a client, a stream) are values. */
function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/** Edits (insert, delete, replace, swap two neighbours) from one name to the other, ignoring case. */
function distance(a: string, b: string): number {
  a = a.toLowerCase();
  b = b.toLowerCase();
  const rows: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) rows[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      rows[i][j] = Math.min(rows[i - 1][j] + 1, rows[i][j - 1] + 1, rows[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        rows[i][j] = Math.min(rows[i][j], rows[i - 2][j - 2] + 1);
    }
  }
  return rows[a.length][b.length];
}

function closest(key: string, known: readonly string[]): string | undefined {
  // A third of the name, at least one edit: `tirs` is `tiers`, `ttl` is not `tiers`.
  const allowed = Math.max(1, Math.floor(key.length / 3));
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const d = distance(key, candidate);
    if (d <= allowed && d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

function walk(value: unknown, node: OptionNode, path: string, found: UnknownOption[]): void {
  if (typeof node === 'string' || !isPlainObject(value)) return;
  if (node instanceof EachOf) {
    for (const [name, item] of Object.entries(value)) walk(item, node.table, `${path}.${name}`, found);
    return;
  }
  const table = node as OptionTable;
  const known = Object.keys(table);
  for (const [key, item] of Object.entries(value)) {
    const keyPath = path === '' ? key : `${path}.${key}`;
    if (!Object.hasOwn(table, key)) {
      const meant = closest(key, known);
      found.push({
        path: keyPath,
        suggestion: meant === undefined ? undefined : path === '' ? meant : `${path}.${meant}`,
      });
      continue;
    }
    walk(item, table[key], keyPath, found);
  }
}

/** Every key of `options`, at any depth, that the module does not know. */
export function unknownOptions(options: unknown, table: OptionTable = AGENT_SECURITY_OPTION_KEYS): UnknownOption[] {
  const found: UnknownOption[] = [];
  walk(options, table, '', found);
  return found;
}
