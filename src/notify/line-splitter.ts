/**
 * Splits a byte stream into lines, one notification per line, with a cap on line length so
 * a writer that never sends a newline cannot make us buffer without bound.
 */
export interface LineSplitterEvents {
  line(line: string): void;
  /** A line longer than the cap was dropped; `bytes` is how much of it we saw. */
  oversized(bytes: number): void;
}

export class LineSplitter {
  readonly #maxLineChars: number;
  readonly #events: LineSplitterEvents;
  #pending = "";
  /** True while skipping the rest of an oversized line up to its newline. */
  #discarding = false;
  #discarded = 0;

  constructor(maxLineChars: number, events: LineSplitterEvents) {
    this.#maxLineChars = maxLineChars;
    this.#events = events;
  }

  push(chunk: string): void {
    let rest = chunk;
    for (;;) {
      const newline = rest.indexOf("\n");
      if (newline === -1) break;
      const piece = rest.slice(0, newline);
      rest = rest.slice(newline + 1);
      if (this.#discarding) {
        this.#events.oversized(this.#discarded + piece.length);
        this.#discarding = false;
        this.#discarded = 0;
        continue;
      }
      const line = this.#pending + piece;
      this.#pending = "";
      if (line.length > this.#maxLineChars) {
        this.#events.oversized(line.length);
      } else {
        this.#events.line(line.endsWith("\r") ? line.slice(0, -1) : line);
      }
    }
    if (this.#discarding) {
      this.#discarded += rest.length;
      return;
    }
    this.#pending += rest;
    if (this.#pending.length > this.#maxLineChars) {
      this.#discarding = true;
      this.#discarded = this.#pending.length;
      this.#pending = "";
    }
  }
}
