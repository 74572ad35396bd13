/** Serialises a value for a TEXT JSON column; `undefined` is stored as `null` so NOT NULL columns accept it. */
export function toJson(value: unknown): string {
  return JSON.stringify(value ?? null);
}

/** Parses a TEXT JSON column back into the type the record declares. */
export function fromJson<T>(text: string): T {
  return JSON.parse(text) as T;
}

/** Splits `items` into consecutive slices of at most `size`, to keep statements under bind-parameter limits. */
export function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
