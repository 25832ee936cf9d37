/**
 * Answering the peer's stream errors (RFC 9113 §5.4.2): RST_STREAM with the code, the stream's local
 * side aborted with the reason, each one counted against the connection's local-error budget.
 */
import { H2Error } from "./h2_error.ts";
import type { H2Stream, StreamOwner } from "./stream.ts";
import type { SessionBudgets } from "./session_budgets.ts";

export class StreamErrors {
  constructor(readonly owner: StreamOwner, readonly budgets: SessionBudgets) {}

  /** An open stream: reset, and its reader / sink learn why. */
  reset(stream: H2Stream, code: number, why: string): void {
    this.budgets.localError();
    stream.reset(code, new H2Error(why, code, stream.id));
  }

  /** A stream no longer (or never) open here: RST_STREAM only. */
  resetId(id: number, code: number): void {
    this.budgets.localError();
    this.owner.sendRst(id, code);
  }
}
