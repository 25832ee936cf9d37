/** The demo's narration: numbered steps, the commands it runs, indented output, counted checks. */

const bold = (s: string) => (Deno.stdout.isTerminal() ? `\x1b[1m${s}\x1b[0m` : s);

export class DemoReport {
  #failures = 0;
  #muted = false;

  /** Prints nothing more (the demo was interrupted: what still runs is being torn down). */
  mute(): void {
    this.#muted = true;
  }

  #log(text: string): void {
    if (!this.#muted) console.log(text);
  }

  step(title: string): void {
    this.#log(`\n${bold(`== ${title}`)}`);
  }

  /** A command as the user would type it. */
  show(cmd: string): void {
    this.#log(`$ ${cmd}`);
  }

  /** One line as it is. */
  line(text: string): void {
    this.#log(text);
  }

  /** Output, indented two spaces per line. */
  out(text: string): void {
    for (const line of text.trimEnd().split("\n")) this.#log(`  ${line}`);
  }

  expect(ok: boolean, what: string): void {
    this.#log(`${ok ? "  ✔" : "  ✘"} ${what}`);
    if (!ok) this.#failures++;
  }

  /** A step that could not finish (its error), counted as a failure. */
  fail(what: string): void {
    if (!this.#muted) console.error(`demo failed: ${what}`);
    this.#failures++;
  }

  /** The closing line; the exit code (0 when every check passed). */
  finish(): number {
    this.#log(
      this.#failures === 0
        ? "\ndemo complete: the mesh behaved as Istio's ambient L4 guide says"
        : `\n${this.#failures} step(s) failed`,
    );
    return this.#failures === 0 ? 0 : 1;
  }
}
