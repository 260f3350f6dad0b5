/**
 * Registry authentication: answers a 401's `WWW-Authenticate` challenge. Basic challenges get the
 * credentials; Bearer challenges get a token from the named realm (with the credentials, if any),
 * cached per scope until it expires.
 */
import { ExecError, ExecErrorCode } from "../exec/errors.ts";

/** A user name and password (or identity token) for one registry. */
export interface Credentials {
  username: string;
  password: string;
}

/** A token is reused until this long before its stated expiry, so it does not expire in flight. */
const TOKEN_EXPIRY_MARGIN_MS = 5_000;
/** Lifetime assumed for tokens that state none (the distribution spec's default). */
const DEFAULT_TOKEN_LIFETIME_S = 60;

/** One parsed WWW-Authenticate challenge. */
interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** Parses `Bearer realm="...",service="...",scope="..."` (or `Basic realm="..."`). */
export function parseChallenge(header: string): Challenge {
  const space = header.indexOf(" ");
  const scheme = (space < 0 ? header : header.slice(0, space)).toLowerCase();
  const params: Record<string, string> = {};
  const re = /([a-zA-Z_]+)=(?:"([^"]*)"|([^,]*))/g;
  for (const m of (space < 0 ? "" : header.slice(space + 1)).matchAll(re)) params[m[1]!.toLowerCase()] = m[2] ?? m[3] ?? "";
  return { scheme, params };
}

/** The Basic Authorization header value for credentials. */
function basic(c: Credentials): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString("base64")}`;
}

/** Authorization headers for one registry, learned from its challenges. */
export class RegistryAuth {
  private scheme: "none" | "basic" | "bearer" = "none";
  private readonly tokens = new Map<string, { header: string; expires: number }>();

  /**
   * @param registry host[:port], for error messages
   * @param credentials what to present, if anything
   * @param fetchImpl the fetch to use for token requests
   */
  constructor(
    private readonly registry: string,
    private readonly credentials: Credentials | undefined,
    private readonly fetchImpl: typeof fetch,
  ) {}

  /** The Authorization header to send for `scope`, or undefined when none is known to be needed. */
  header(scope: string): string | undefined {
    if (this.scheme === "basic" && this.credentials) return basic(this.credentials);
    if (this.scheme === "bearer") {
      const t = this.tokens.get(scope);
      if (t && t.expires > Date.now()) return t.header;
      this.tokens.delete(scope); // expired: the next 401 must fetch a new one, not count as a refusal

    }
    return undefined;
  }

  /**
   * Learns from a 401 response how to authenticate for `scope`; after it resolves, {@link header}
   * gives what to retry with. Throws an `auth-refused` error when that cannot succeed.
   */
  async challenge(response: Response, scope: string): Promise<void> {
    const c = parseChallenge(response.headers.get("www-authenticate") ?? "");
    if (c.scheme === "basic") {
      if (!this.credentials) throw this.refused("requires a user name and password, and none were given");
      if (this.scheme === "basic") throw this.refused("refused the credentials");
      this.scheme = "basic";
      return;
    }
    if (c.scheme !== "bearer" || !c.params.realm) throw this.refused("asks for an authentication scheme this client does not speak");
    if (this.scheme === "bearer" && this.tokens.has(scope)) {
      this.tokens.delete(scope);
      throw this.refused(this.credentials ? "refused the credentials" : "requires credentials, and none were given");
    }
    this.scheme = "bearer";
    this.tokens.set(scope, await this.fetchToken(c.params.realm, c.params.service, c.params.scope ?? scope));
  }

  /** Gets a bearer token from the realm, presenting the credentials if there are any. */
  private async fetchToken(realm: string, service: string | undefined, scope: string): Promise<{ header: string; expires: number }> {
    const url = new URL(realm);
    if (service) url.searchParams.set("service", service);
    if (scope) url.searchParams.set("scope", scope);
    const headers: Record<string, string> = {};
    if (this.credentials) headers.authorization = basic(this.credentials);
    let res: Response;
    try {
      res = await this.fetchImpl(url, { headers });
    } catch (err) {
      throw new ExecError(ExecErrorCode.Registry, `cannot reach the token service ${url.origin} of registry ${this.registry}`, err);
    }
    if (res.status === 401 || res.status === 403) throw this.refused(this.credentials ? "refused the credentials (token service)" : "requires credentials: its token service refused anonymous access");
    if (!res.ok) throw new ExecError(ExecErrorCode.Registry, `token service of registry ${this.registry} answered ${res.status}`);
    const body = (await res.json()) as { token?: string; access_token?: string; expires_in?: number };
    const token = body.token ?? body.access_token;
    if (!token) throw new ExecError(ExecErrorCode.Registry, `token service of registry ${this.registry} returned no token`);
    const lifetime = (body.expires_in ?? DEFAULT_TOKEN_LIFETIME_S) * 1000;
    return { header: `Bearer ${token}`, expires: Date.now() + lifetime - TOKEN_EXPIRY_MARGIN_MS };
  }

  /** An `auth-refused` error saying what the registry did. */
  private refused(what: string): ExecError {
    return new ExecError(ExecErrorCode.AuthRefused, `registry ${this.registry} ${what}`);
  }
}
