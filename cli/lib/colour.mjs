// Colour for people at a terminal, never for pipes and files. FORCE_COLOR=1 (any value but 0 or
// false) turns it on, FORCE_COLOR=0 off, whatever the stream (Node's own rule, which also makes it
// win over NO_COLOR); otherwise NO_COLOR (any non-empty value, https://no-color.org) turns it off;
// otherwise it is on when the stream is a terminal and TERM is not "dumb". Plain ANSI codes, so it
// works on every Node >= 20 (util.styleText needs 20.12).

const CODES = { bold: [1, 22], dim: [2, 22], red: [31, 39], green: [32, 39], yellow: [33, 39], cyan: [36, 39] };

/** Whether to colour what goes to this stream. */
export function colourOn(stream, env = process.env) {
  const force = env.FORCE_COLOR;
  if (force !== undefined && force !== "") return force !== "0" && force !== "false";
  if (env.NO_COLOR) return false;
  return Boolean(stream?.isTTY) && env.TERM !== "dumb";
}

/**
 * A painter for one stream: paint(stderr).red("Error:"). Styles are no-ops when colour is off.
 * @param {NodeJS.WriteStream} stream
 * @returns {Record<keyof typeof CODES, (text: string) => string>}
 */
export function paint(stream) {
  const on = colourOn(stream);
  /** @type {any} */
  const styles = {};
  for (const [name, [open, close]] of Object.entries(CODES)) styles[name] = (text) => (on ? `\u001b[${open}m${text}\u001b[${close}m` : String(text));
  return styles;
}
