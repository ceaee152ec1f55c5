// `hush completion bash|zsh|fish`: a completion script made from the commands as they are now.
import { examples } from "../lib/context.mjs";
import { SHELLS } from "../lib/completion.mjs";
import { usageError } from "../lib/errors.mjs";

export function register(program) {
  const completion = program
    .command("completion <shell>")
    .description("print a shell completion script (bash, zsh or fish) for every hush command and option")
    .action((shell) => {
      const make = SHELLS[shell];
      if (!make) throw usageError(`"${shell}" is not a shell hush completes`, `Use one of: ${Object.keys(SHELLS).join(", ")}`);
      process.stdout.write(make(program));
    });
  examples(completion, [
    "source <(hush completion bash)",
    "hush completion bash > ~/.local/share/bash-completion/completions/hush",
    'hush completion zsh > "${fpath[1]}/_hush"',
    "hush completion fish > ~/.config/fish/completions/hush.fish",
  ]);
}
