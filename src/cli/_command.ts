/** What a command is, and what it gets to run. Adding a group is one file plus one line in mod.ts. */
import type { FlagSpec, Parsed } from "./_args.ts";

export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** Whether stdin is an interactive terminal (so a passphrase may be asked). */
  isTerminal(): boolean;
  /** Reads a line from the terminal without echo. */
  readSecret(prompt: string): Promise<string>;
  /** All of stdin as text, when it is not a terminal (piped values). */
  readStdin?(): Promise<string>;
  env(): Record<string, string | undefined>;
}

export interface Command {
  readonly name: string;
  readonly summary: string;
  /** One line after "usage: ", e.g. "qudag key show REF [--public-key]". */
  readonly usage: string;
  readonly flags: readonly FlagSpec[];
  readonly maxPositionals?: number;
  /** Extra help text after the flags. */
  readonly details?: string;
  run(parsed: Parsed, io: Io): Promise<number>;
}

export interface Group {
  readonly name: string;
  readonly summary: string;
  readonly commands: readonly Command[];
}
