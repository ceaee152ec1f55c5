// `hush share create|open`: end-to-end encrypted one-time links.
import { readFileSync } from "node:fs";
import { api, command, examples } from "../lib/context.mjs";
import { CliError, EXIT, usageError } from "../lib/errors.mjs";
import { info, parseDuration, parsePositiveInt, printJson, prompt, readStdin, shortTime } from "../lib/output.mjs";
import { openShare, parseShareLink, sealShare, shareLink } from "../lib/share.mjs";

/** The passphrase from --passphrase-file, or a hidden prompt for --passphrase. */
async function passphrase(opts, question) {
  if (opts.passphraseFile) {
    try {
      return readFileSync(opts.passphraseFile, "utf8").replace(/\r?\n$/, "");
    } catch (err) {
      throw usageError(`Cannot read ${opts.passphraseFile}: ${err.code ?? err.message}`);
    }
  }
  if (!opts.passphrase) return undefined;
  const answer = await prompt(question, { hidden: true });
  if (answer === null) throw usageError("--passphrase needs a terminal to ask on", "Use --passphrase-file F in scripts");
  if (!answer) throw usageError("The passphrase is empty");
  return answer;
}

function printRevealed(id, secret, viewsLeft, opts) {
  if (opts.json) return printJson({ id, secret, views_left: viewsLeft });
  process.stdout.write(process.stdout.isTTY ? `${secret}\n` : secret);
  if (process.stderr.isTTY) info(viewsLeft > 0 ? `${viewsLeft} view(s) left.` : "This was the last view; the link no longer works.");
}

export function register(program) {
  const share = program.command("share").description("one-time links, encrypted end to end");

  const create = command(share, "create", "read a secret from stdin and print a one-time link (the key stays in the link)")
    .option("--expires <duration>", "the link expires after this long", "24h")
    .option("--views <n>", "how many times it can be opened (1-10)", "1")
    .option("--passphrase", "also require a passphrase (asked for on the terminal)")
    .option("--passphrase-file <file>", "read the passphrase from a file")
    .action(async (opts) => {
      const body = { expires_in_seconds: parseDuration(opts.expires, "--expires"), max_views: parsePositiveInt(opts.views, "--views") };
      const phrase = await passphrase(opts, "Passphrase for the recipient (not shown): ");
      const secret = process.stdin.isTTY ? await prompt("Secret to share (not shown): ", { hidden: true }) : (await readStdin()).replace(/\r?\n$/, "");
      if (!secret) throw usageError("Nothing to share: stdin was empty", "Pipe the secret in: hush share create < secret.txt");
      const { ciphertext, key } = await sealShare(secret);
      const settings = api().settings;
      // Anonymous creation may be allowed; send the token when there is one.
      const created = await api().post("/api/v1/shares", { ciphertext, ...body, ...(phrase ? { passphrase: phrase } : {}) }, { auth: Boolean(settings.token) });
      const link = shareLink(created.url, key);
      if (opts.json) return printJson({ id: created.id, link, expires_at: created.expires_at });
      process.stdout.write(`${link}\n`);
      info(`Expires ${shortTime(created.expires_at)}; ${body.max_views} view(s). Send the whole link, including the part after #.`);
    });

  const open = command(share, "open <link>", "reveal a shared secret (this uses up a view); end-to-end links and server-sealed (#hshr_...) links")
    .option("--passphrase", "ask for the passphrase on the terminal")
    .option("--passphrase-file <file>", "read the passphrase from a file")
    .action(async (link, opts) => {
      const parsed = parseShareLink(link);
      const { origin, id } = parsed;
      const base = `/api/v1/shares/${encodeURIComponent(id)}`;
      const gone = (err) => {
        if (err.status === 403 && err.problem?.type?.endsWith("passphrase-required")) {
          throw usageError("This share needs a passphrase", "Add --passphrase (asks on the terminal) or --passphrase-file F");
        }
        if (err.status === 403) {
          throw new CliError("Wrong passphrase", {
            hint: "Check it with the sender; after 5 wrong attempts the share is destroyed",
            exitCode: EXIT.denied,
          });
        }
        if (err.status === 410 || err.status === 404) {
          throw new CliError(`This share was already viewed, has expired or never existed`, {
            hint: "Ask the sender for a new link",
            exitCode: EXIT.notFound,
          });
        }
        throw err;
      };
      if (parsed.mode === "sealed") {
        // Sealed by the server: the token after # is redeemed there (no API token needed).
        const phrase = await passphrase(opts, "Passphrase: ");
        const redeemed = await api()
          .post("/api/v1/secrets/shares/redeem", { token: parsed.token, ...(phrase ? { passphrase: phrase } : {}) }, { auth: false, origin })
          .catch(gone);
        return printRevealed(id, redeemed.value, redeemed.views_left, opts);
      }
      const { key } = parsed;
      const state = await api().post(`${base}/nonce`, {}, { auth: false, origin }).catch(gone);
      let phrase = await passphrase(opts, "Passphrase: ");
      if (state.passphrase_required && !phrase) {
        phrase = await passphrase({ passphrase: true }, "This share needs a passphrase: ").catch(() => {
          throw usageError("This share needs a passphrase", "Add --passphrase (asks on the terminal) or --passphrase-file F");
        });
      }
      const revealed = await api()
        .post(`${base}/reveal`, { nonce: state.nonce, ...(phrase ? { passphrase: phrase } : {}) }, { auth: false, origin })
        .catch(gone);
      let secret;
      try {
        secret = await openShare(revealed.ciphertext, key);
      } catch {
        throw new CliError("The secret could not be decrypted with the key in this link", {
          hint: "The link was cut or changed: ask the sender to send it again (the view is used up)",
        });
      }
      printRevealed(id, secret, revealed.views_left, opts);
    });

  examples(share, ["hush share create --expires 1h < password.txt", "hush share open 'https://hush.example.com/s/<id>#<key>'"]);
  examples(create, ["hush share create --expires 1h < password.txt", 'printf %s "$TOKEN" | hush share create --views 2 --passphrase']);
  examples(open, ["hush share open 'https://hush.example.com/s/<id>#<key>'", "hush share open 'https://hush.example.com/s/<id>#hshr_<id>.<secret>'"]);
  return share;
}
