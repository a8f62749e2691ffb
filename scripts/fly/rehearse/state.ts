/**
 * The stand-in Fly's state, shared by the `fly` and `curl` stand-ins and the
 * DNS server: one directory per app (apps/<app>/) with its secrets, volumes
 * and machine as JSON files, so parallel `fly deploy`s of different apps never
 * write the same file. QUDAG_REHEARSAL_STATE names the directory.
 */

export interface Secret {
  readonly value: string;
  /** Staged (`--stage`) secrets reach the machine on its next deploy. */
  readonly staged: boolean;
}

export interface Volume {
  readonly id: string;
  readonly name: string;
  readonly sizeGb: number;
  readonly region: string;
}

export interface Machine {
  readonly id: string;
  readonly app: string;
  readonly region: string;
  /** Fly's 6PN address of the machine (FLY_PRIVATE_IP). */
  readonly privateIp: string;
  /** The network namespace it runs in. */
  readonly netns: string;
  /** PID of the machine's main process (the node); 0 when stopped. */
  readonly pid: number;
  readonly state: "started" | "stopped" | "failed";
  readonly version: number;
  readonly updatedAt: string;
  /** internal_port by public port, from the deployed fly.toml's [[services]] (for the curl stand-in). */
  readonly ports: Readonly<Record<string, number>>;
  readonly root: string;
  readonly log: string;
}

export interface App {
  readonly name: string;
  readonly org: string;
  /** Creation order, from 1: picks the machine's 6PN address. */
  readonly index: number;
}

export class FlyState {
  constructor(readonly dir: string) {}

  static fromEnv(): FlyState {
    const dir = Deno.env.get("QUDAG_REHEARSAL_STATE");
    if (!dir) throw new Error("QUDAG_REHEARSAL_STATE is not set: this stand-in runs inside `deno task fly:rehearse`");
    return new FlyState(dir);
  }

  appDir(app: string): string {
    return `${this.dir}/apps/${app}`;
  }

  #read<T>(path: string, dflt: T): T {
    try {
      return JSON.parse(Deno.readTextFileSync(path)) as T;
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return dflt;
      throw e;
    }
  }

  #write(path: string, value: unknown): void {
    const tmp = `${path}.tmp-${Deno.pid}`;
    Deno.writeTextFileSync(tmp, JSON.stringify(value, null, 2) + "\n", { mode: 0o600 });
    Deno.renameSync(tmp, path);
  }

  apps(): App[] {
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(`${this.dir}/apps`)];
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return [];
      throw e;
    }
    return entries.filter((e) => e.isDirectory).map((e) => this.app(e.name)!).filter((a) => a !== null)
      .sort((a, b) => a.index - b.index);
  }

  app(name: string): App | null {
    return this.#read<App | null>(`${this.appDir(name)}/app.json`, null);
  }

  createApp(name: string, org: string): App {
    const index = this.apps().reduce((m, a) => Math.max(m, a.index), 0) + 1;
    Deno.mkdirSync(this.appDir(name), { recursive: true, mode: 0o700 });
    const app = { name, org, index };
    this.#write(`${this.appDir(name)}/app.json`, app);
    return app;
  }

  secrets(app: string): Record<string, Secret> {
    return this.#read(`${this.appDir(app)}/secrets.json`, {});
  }

  setSecrets(app: string, secrets: Record<string, Secret>): void {
    this.#write(`${this.appDir(app)}/secrets.json`, secrets);
  }

  volumes(app: string): Volume[] {
    return this.#read(`${this.appDir(app)}/volumes.json`, []);
  }

  setVolumes(app: string, volumes: Volume[]): void {
    this.#write(`${this.appDir(app)}/volumes.json`, volumes);
  }

  volumeDir(app: string, volume: Volume): string {
    return `${this.appDir(app)}/volumes/${volume.id}`;
  }

  machine(app: string): Machine | null {
    return this.#read<Machine | null>(`${this.appDir(app)}/machine.json`, null);
  }

  setMachine(app: string, machine: Machine): void {
    this.#write(`${this.appDir(app)}/machine.json`, machine);
  }
}

/** Fly-like ids: 14 hex digits. */
export function flyId(): string {
  return crypto.getRandomValues(new Uint8Array(7)).toHex();
}

/** Whether a process is alive: it exists and is not a zombie (`ps`: /proc needs --allow-all in Deno). */
export function alive(pid: number): boolean {
  if (pid <= 0) return false;
  const out = new Deno.Command("ps", { args: ["-o", "stat=", "-p", String(pid)], stdout: "piped", stderr: "null" })
    .outputSync();
  const stat = new TextDecoder().decode(out.stdout).trim();
  return out.success && stat !== "" && !stat.startsWith("Z");
}

/** The private network of the rehearsal: like Fly's 6PN (fdaa::/16), with its DNS server at fdaa::3. */
export const SIXPN_PREFIX_LEN = 16;
export const DNS_ADDRESS = "fdaa::3";
export const HUB_NETNS = "qrh-hub";

/** The 6PN address of app number `index` (creation order). */
export function machineAddress(index: number): string {
  return `fdaa:0:51:a7b:${index.toString(16)}::2`;
}
