// Names the CLI's build defines (cli/build.mjs); undefined when run from the checkout.
declare const __HUSH_VERSION__: string | undefined;
