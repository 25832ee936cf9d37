/**
 * Ctrl-C (SIGINT) and SIGTERM during the demo: the demo's own cleanup runs (processes stopped,
 * namespaces and files removed), then the demo exits 130 (SIGINT) or 143 (SIGTERM). A second signal
 * exits at once; whatever is left then is reclaimed by the next `zt demo`.
 */

export interface InterruptGuard {
  /** Restores the default signal behaviour (after a normal end). */
  remove(): void;
}

export function onInterrupt(cleanup: () => Promise<unknown>): InterruptGuard {
  let signalled = false;
  const handler = (sig: "SIGINT" | "SIGTERM") => () => {
    const code = sig === "SIGINT" ? 130 : 143;
    if (signalled) {
      console.error("zt demo: second interrupt: exiting now (the next zt demo removes what is left)");
      Deno.exit(code);
    }
    signalled = true;
    console.error(`\nzt demo: ${sig}: cleaning up`);
    cleanup().catch((e) => console.error(`zt demo: cleanup failed: ${e}`)).finally(() => Deno.exit(code));
  };
  const onInt = handler("SIGINT");
  const onTerm = handler("SIGTERM");
  Deno.addSignalListener("SIGINT", onInt);
  Deno.addSignalListener("SIGTERM", onTerm);
  return {
    remove() {
      Deno.removeSignalListener("SIGINT", onInt);
      Deno.removeSignalListener("SIGTERM", onTerm);
    },
  };
}
