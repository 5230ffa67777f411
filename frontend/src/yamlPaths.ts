import { isNode, parseDocument, type Document } from 'yaml';

/** The 1-based line of the YAML node at ``path`` (an API field path such as
 * ["vary", "param"] or ["slo", "0", "objective"]); where the path runs past what the text
 * holds, the line of its deepest part that exists. Null when not even the first part does. */
export function lineOf(doc: Document.Parsed | Document, text: string, path: (string | number)[]): number | null {
  const keys = path.map((p) => (typeof p === 'string' && /^\d+$/.test(p) ? Number(p) : p));
  for (let n = keys.length; n > 0; n--) {
    const node = doc.getIn(keys.slice(0, n), true);
    if (isNode(node) && node.range) {
      // a key's line rather than its value's when the value is a block on the next lines
      const pair = n > 0 ? findKeyOffset(doc, keys.slice(0, n)) : null;
      const offset = pair ?? node.range[0];
      return text.slice(0, offset).split('\n').length;
    }
  }
  return null;
}

function findKeyOffset(doc: Document.Parsed | Document, keys: (string | number)[]): number | null {
  const parent = keys.length > 1 ? doc.getIn(keys.slice(0, -1), true) : doc.contents;
  const last = keys[keys.length - 1];
  if (!parent || typeof parent !== 'object' || !('items' in parent)) return null;
  for (const item of (parent as { items: unknown[] }).items) {
    if (item && typeof item === 'object' && 'key' in item) {
      const key = (item as { key: unknown }).key;
      if (isNode(key) && 'value' in key && (key as { value: unknown }).value === last && key.range) return key.range[0];
    }
  }
  return null;
}

/** Parse YAML for an editor: the value, or the error with its line. */
export function parseYaml(text: string): { value: unknown; doc: Document.Parsed | null; error: { message: string; line: number | null } | null } {
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length) {
    const e = doc.errors[0];
    return { value: undefined, doc: null, error: { message: e.message.split('\n')[0], line: e.linePos?.[0]?.line ?? null } };
  }
  return { value: doc.toJS(), doc, error: null };
}
