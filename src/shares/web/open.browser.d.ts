// The browser script is bundled as text (the Text rule in wrangler.toml) and served by ../pages.ts.
declare const source: string;
export default source;
