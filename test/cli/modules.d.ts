// The CLI is plain ESM JavaScript run without a build step; tests import its pure
// parts (parsers, share crypto) directly.
declare module "*.mjs";
