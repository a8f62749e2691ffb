/** Resolves the configuration for a command from --config, the environment and its flags. */
import { type Config, ConfigError, resolveConfig } from "../config/mod.ts";
import { FIELDS } from "../config/schema.ts";
import type { FlagSpec, Parsed } from "./_args.ts";
import type { Io } from "./_command.ts";

export const CONFIG_FLAG: FlagSpec = {
  name: "--config",
  kind: "string",
  value: "FILE",
  help: "TOML configuration file",
};

/** FlagSpecs for the configuration keys named in `keys` (all that have flags when omitted). */
export function configFlagSpecs(keys?: readonly string[]): FlagSpec[] {
  return FIELDS.filter((f) => f.flag && (!keys || keys.includes(f.key))).map((f) => ({
    name: f.flag!,
    kind: f.type.kind === "bool" ? "bool" : f.type.kind === "list" ? "list" : "string",
    value: f.type.kind === "port" ? "PORT" : f.type.kind === "enum" ? f.type.values.join("|") : "VALUE",
    help: `${f.help} [${f.key}${f.env?.length ? `, ${f.env.join(", ")}` : ""}]`,
  }));
}

export function loadConfig(parsed: Parsed, io: Io): Config {
  const flagNames = new Set(FIELDS.filter((f) => f.flag).map((f) => f.flag!));
  const flags: Record<string, string | boolean | string[]> = {};
  for (const [k, v] of Object.entries(parsed.flags)) if (flagNames.has(k)) flags[k] = v;
  const file = parsed.flags["--config"];
  let toml: { text: string; name: string } | undefined;
  if (typeof file === "string") {
    try {
      toml = { text: Deno.readTextFileSync(file), name: file };
    } catch (cause) {
      const why = cause instanceof Deno.errors.NotFound ? "no such file" : (cause as Error).message;
      throw new ConfigError(`cannot read config file ${file}: ${why}`, { cause });
    }
  }
  return resolveConfig({ toml, env: io.env(), flags });
}
