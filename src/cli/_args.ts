/** Flag parsing for every command: `--name value`, `--name=value`, booleans, repeats. */

export interface FlagSpec {
  readonly name: string; // "--out"
  readonly kind: "string" | "bool" | "list";
  readonly help: string;
  readonly value?: string; // placeholder in usage, e.g. "FILE"
}

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

export interface Parsed {
  flags: Record<string, string | boolean | string[]>;
  positionals: string[];
  help: boolean;
}

export function parseArgs(args: readonly string[], specs: readonly FlagSpec[], maxPositionals = 0): Parsed {
  const byName = new Map(specs.map((s) => [s.name, s]));
  const out: Parsed = { flags: {}, positionals: [], help: false };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--help" || a === "-h") {
      out.help = true;
      continue;
    }
    if (a === "--") {
      out.positionals.push(...args.slice(i + 1));
      break;
    }
    if (a.startsWith("-")) {
      const eq = a.indexOf("=");
      const name = eq > 0 ? a.slice(0, eq) : a;
      const spec = byName.get(name);
      if (!spec) throw new UsageError(`unknown flag ${name}`);
      if (spec.kind === "bool") {
        if (eq > 0) {
          const v = a.slice(eq + 1).toLowerCase();
          if (v !== "true" && v !== "false") throw new UsageError(`flag ${name} takes no value or true/false`);
          out.flags[name] = v === "true";
        } else out.flags[name] = true;
        continue;
      }
      let value: string;
      if (eq > 0) value = a.slice(eq + 1);
      else {
        if (i + 1 >= args.length || args[i + 1].startsWith("--")) throw new UsageError(`flag ${name} needs a value`);
        value = args[++i];
      }
      if (spec.kind === "list") {
        const prev = out.flags[name];
        out.flags[name] = Array.isArray(prev) ? [...prev, value] : [value];
      } else {
        if (name in out.flags) throw new UsageError(`flag ${name} given twice`);
        out.flags[name] = value;
      }
      continue;
    }
    out.positionals.push(a);
  }
  if (!out.help && out.positionals.length > maxPositionals) {
    throw new UsageError(`unexpected argument ${JSON.stringify(out.positionals[maxPositionals])}`);
  }
  return out;
}

export function formatFlags(specs: readonly FlagSpec[]): string {
  const rows = specs.map((s) => [`${s.name}${s.kind === "bool" ? "" : ` ${s.value ?? "VALUE"}`}`, s.help]);
  const width = Math.max(0, ...rows.map((r) => r[0].length));
  return rows.map(([l, r]) => `  ${l.padEnd(width)}  ${r}`).join("\n");
}
