// saveExport: the ExportWorkspace stream collected into one ZIP archive,
// checked against the size and SHA-256 the server announces in its first
// chunk (as `ochre_sdk::save_export` does for the Rust SDK).

import type { OchreClient } from "./client.js";

/** What {@link saveExport} received and checked. */
export interface SavedExport {
  /** The archive (a ZIP of manifest.json and one NDJSON file per table). */
  bytes: Uint8Array;
  /** The same bytes as a Blob (`application/zip`), e.g. for a download link. */
  blob: Blob;
  /** The archive's size in bytes. */
  size: number;
  /** The archive's SHA-256 (hex), as announced and recomputed. */
  sha256: string;
  /** The snapshot the export was taken at. */
  snapshotTime: Date | undefined;
}

/** The bytes received do not match the announced size or SHA-256. */
export class ExportMismatchError extends Error {
  override name = "ExportMismatchError";
  constructor(
    readonly expected: { size: number; sha256: string },
    readonly received: { size: number; sha256: string },
  ) {
    super(
      `the export received (${received.size} bytes, sha256 ${received.sha256}) does not match ` +
        `its announced size or SHA-256 (${expected.size} bytes, sha256 ${expected.sha256})`,
    );
  }
}

const hex = (bytes: Uint8Array) =>
  Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

/**
 * Exports the client's org (owner or admin; `totpCode` when the caller has
 * TOTP enabled) and returns the checked archive. Throws an OchreError when
 * the server refuses or ends the stream with an error, and an
 * ExportMismatchError when the bytes are cut or corrupted.
 */
export async function saveExport(
  client: OchreClient,
  req: { totpCode?: string } = {},
  options: { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<SavedExport> {
  const chunks: Uint8Array[] = [];
  let announced: { size: number; sha256: string } | undefined;
  let snapshotTime: Date | undefined;
  let size = 0;
  const stream = client.exports.exportWorkspace(
    { totpCode: req.totpCode ?? "" },
    { timeoutMs: options.timeoutMs ?? 300_000, signal: options.signal },
  );
  for await (const chunk of stream) {
    if (!announced) {
      announced = { size: Number(chunk.totalSize), sha256: hex(chunk.archiveSha256) };
      const t = chunk.snapshotTime;
      snapshotTime = t ? new Date(Number(t.seconds) * 1000 + Math.floor(t.nanos / 1e6)) : undefined;
    }
    chunks.push(chunk.data);
    size += chunk.data.length;
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.length;
  }
  const sha256 = hex(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)));
  const received = { size, sha256 };
  if (!announced || announced.size !== size || announced.sha256 !== sha256) {
    throw new ExportMismatchError(announced ?? { size: 0, sha256: "" }, received);
  }
  return {
    bytes,
    blob: new Blob([bytes], { type: "application/zip" }),
    size,
    sha256,
    snapshotTime,
  };
}

/**
 * Offers a saved export to the user as a file download (browser only): an
 * object URL of its Blob on a temporary `<a download>`.
 */
export function downloadExport(saved: SavedExport, fileName = "ochre-export.zip"): void {
  const url = URL.createObjectURL(saved.blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = fileName;
  link.style.display = "none";
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
