// @ochre/client: the Ochre API from a browser (gRPC-web over fetch).
//
//   const client = createOchreClient({ baseUrl, session, org, onTokens });
//   const { conversation } = await client.conversations.createConversation({ ... });
//
// Requests and responses are the protobuf-es messages generated from the
// contract (proto/ochre/v1), exported as `v1` (e.g. `v1.Channel.EMAIL`).

export { Code, ConnectError } from "@connectrpc/connect";
/** Every message, enum and service of the contract (ochre.v1). */
export * as v1 from "./gen/ochre/v1/index.js";
export { createOchreClient, type OchreClient, type OchreClientOptions } from "./client.js";
export { type FieldViolation, OchreError, SignedOutError } from "./errors.js";
export { ExportMismatchError, type SavedExport, downloadExport, saveExport } from "./export.js";
export * from "./services.js";
export { type Session, type SessionTokensLike, toSession } from "./session.js";
