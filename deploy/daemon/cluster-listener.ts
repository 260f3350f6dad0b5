/**
 * The daemon's TCP port. TLS with the node's certificate, asking every client for one but
 * requiring none at the handshake (a joining node has none yet: every RPC checks its caller
 * itself, manager/ca/authorize.ts). Then each connection goes to the server that suits its caller:
 *
 * - an operator's (a certificate with the operator role that the handshake verified against the
 *   cluster's root), to the control API's own server for unary calls (manager/controlapi/h2):
 *   operators make only unary calls, and that server costs a leader less per write than grpc-js
 *   on Node's http2 module (README, Benchmarks);
 * - every other (managers, workers, nodes joining), to grpc-js, through its connection injector.
 *
 * The certificates follow the node's identity: a renewed certificate (or a new root) is used for
 * the connections that follow.
 */
import tls from "node:tls";
import type { TLSSocket } from "node:tls";
import type { AddressInfo } from "node:net";
import * as grpc from "@grpc/grpc-js";
import { CertRole, identityFromSubject } from "../../manager/ca/index.ts";
import type { TlsIdentity } from "../../manager/ca/index.ts";
import type { UnaryServer } from "../../manager/controlapi/h2/unary-server.ts";
import { splitHostPort } from "./flags.ts";

/** Whether the connection's peer presented a verified certificate with the operator role. */
function isOperator(socket: TLSSocket): boolean {
  return socket.authorized && identityFromSubject(socket.getPeerCertificate().subject)?.role === CertRole.OPERATOR;
}

/** The TLS settings for `identity`'s current certificate. */
function secureContextOptions(identity: TlsIdentity): tls.SecureContextOptions {
  const b = identity.bundle;
  return { key: b.keyPem, cert: b.certPem, ca: b.caCertPem };
}

/** The TCP port of a daemon, serving operators and nodes as the file comment says. */
export class ClusterListener {
  private readonly refresh = (): void => this.server.setSecureContext(secureContextOptions(this.identity));

  private constructor(
    private readonly server: tls.Server,
    private readonly identity: TlsIdentity,
    private readonly injector: ReturnType<grpc.Server["createConnectionInjector"]>,
    private readonly operators: UnaryServer,
  ) {
    identity.addIdentityCertificateListener(this.refresh);
    identity.addCaCertificateListener(this.refresh);
  }

  /**
   * Listens on `addr` (HOST:PORT) with `identity`'s certificate; hands operators' connections to
   * `operators` and the others to `grpcServer`. Rejects with a clear error when it cannot listen.
   */
  static async listen(addr: string, identity: TlsIdentity, grpcServer: grpc.Server, operators: UnaryServer): Promise<ClusterListener> {
    const where = splitHostPort(addr);
    if (!where) throw new Error(`cannot listen on ${addr}: want HOST:PORT`);
    const { host, port } = where;
    const injector = grpcServer.createConnectionInjector(grpc.ServerCredentials.createInsecure());
    const server = tls.createServer({ ...secureContextOptions(identity), requestCert: true, rejectUnauthorized: false, ALPNProtocols: ["h2"] });
    server.on("secureConnection", (socket: TLSSocket) => {
      socket.setNoDelay(true);
      if (socket.alpnProtocol !== "h2") socket.destroy(); // gRPC is HTTP/2 only
      else if (isOperator(socket)) operators.serve(socket);
      else injector.injectConnection(socket);
    });
    // A client that fails the handshake is its own problem; the listener goes on.
    server.on("tlsClientError", (_err, socket) => socket.destroy());
    await new Promise<void>((resolve, reject) => {
      server.once("error", (err) => reject(new Error(`cannot listen on ${addr}: ${err.message}`, { cause: err })));
      server.listen(port, host, () => resolve());
    });
    server.on("error", () => undefined);
    return new ClusterListener(server, identity, injector, operators);
  }

  /** The port listened on (the one asked for, or the one chosen when that was 0). */
  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** Stops listening and ends every connection. */
  close(): void {
    this.identity.removeIdentityCertificateListener(this.refresh);
    this.identity.removeCaCertificateListener(this.refresh);
    this.server.close();
    this.operators.close();
    this.injector.destroy();
  }
}
