// Bundled in place of `reflect-metadata` (wrangler.jsonc `alias`; src/pki/x509.ts imports it first).
// tsyringe, @peculiar/x509's registry, needs only the metadata half of that polyfill: it reads a
// class's `design:paramtypes` (Reflect.getMetadata) and its injection tokens (getOwnMetadata,
// defineMetadata). The full polyfill (15 KiB minified, 5 KiB gzipped) also carries a Map/WeakMap
// shim and `Reflect.decorate`, which tslib's `__decorate` does without. Same semantics: metadata
// per (object, property key), `get*` walks the prototype chain, `getOwn*` does not.
type Key = string | symbol | undefined;
const store = new WeakMap<object, Map<Key, Map<unknown, unknown>>>();

function table(target: object, property: Key, create: boolean): Map<unknown, unknown> | undefined {
  let byProperty = store.get(target);
  if (!byProperty) {
    if (!create) return undefined;
    store.set(target, (byProperty = new Map()));
  }
  let entries = byProperty.get(property);
  if (!entries && create) byProperty.set(property, (entries = new Map()));
  return entries;
}

function defineMetadata(key: unknown, value: unknown, target: object, property?: string | symbol): void {
  table(target, property, true)!.set(key, value);
}

function hasOwnMetadata(key: unknown, target: object, property?: string | symbol): boolean {
  return table(target, property, false)?.has(key) ?? false;
}

function getOwnMetadata(key: unknown, target: object, property?: string | symbol): unknown {
  return table(target, property, false)?.get(key);
}

function hasMetadata(key: unknown, target: object, property?: string | symbol): boolean {
  for (let o: object | null = target; o; o = Object.getPrototypeOf(o)) if (hasOwnMetadata(key, o, property)) return true;
  return false;
}

function getMetadata(key: unknown, target: object, property?: string | symbol): unknown {
  for (let o: object | null = target; o; o = Object.getPrototypeOf(o)) if (hasOwnMetadata(key, o, property)) return getOwnMetadata(key, o, property);
  return undefined;
}

function deleteMetadata(key: unknown, target: object, property?: string | symbol): boolean {
  return table(target, property, false)?.delete(key) ?? false;
}

const metadata = (key: unknown, value: unknown) => (target: object, property?: string | symbol) => defineMetadata(key, value, target, property);

const api = { defineMetadata, hasOwnMetadata, getOwnMetadata, hasMetadata, getMetadata, deleteMetadata, metadata };
for (const [name, fn] of Object.entries(api)) {
  if (!(name in Reflect)) Object.defineProperty(Reflect, name, { value: fn, writable: true, configurable: true });
}
