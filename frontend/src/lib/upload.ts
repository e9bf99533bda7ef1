// The three-step upload: ask for a signed URL, PUT the bytes straight to storage with
// XHR (for progress and cancel), then confirm so the server charges the quota.
import { api, ApiError } from '@/api/client'
import type { ConfirmResponse, ErrorBody, UploadUrlRequest, UploadUrlResponse } from '@/api/types'
import { contentTypeFor, formatBytes, type DocumentTypes } from './format'
import { confirmVersion, duplicateExistingId, versionUploadUrl, type VersionConfirmResponse } from './vault'

export interface UploadCallbacks {
  onProgress?: (loaded: number, total: number) => void
  onPhase?: (phase: 'preparing' | 'uploading' | 'confirming') => void
  /** Receives the new document (or version) id as soon as the server created it. */
  onCreated?: (documentId: string) => void
}

export class UploadCancelled extends Error {
  constructor() {
    super('Upload cancelled')
    this.name = 'UploadCancelled'
  }
}

/** Storage answered the PUT with an error (`status`), or the network failed (`status` 0). */
export class StorageError extends Error {
  readonly status: number
  constructor(status: number) {
    super(status ? `Storage refused the upload (HTTP ${status})` : 'Network error while uploading')
    this.name = 'StorageError'
    this.status = status
  }
}

/**
 * Whether trying an upload again can succeed, so the panel offers "Retry" only then:
 * the network failed (no answer, status 0) or the server was busy or down (408, 429,
 * 5xx), the bytes never reached storage (422 `upload_not_found`), or the user cancelled.
 * Never for what the file or the account decides (413 too big or over quota, 415 type,
 * 409 duplicate, other 4xx such as 422 validation): the same file fails the same way.
 */
export function canRetryUpload(e: unknown): boolean {
  if (e instanceof UploadCancelled) return true
  let status: number
  if (e instanceof ApiError) {
    if (e.status === 422) return e.code === 'upload_not_found'
    status = e.status
  } else if (e instanceof StorageError) {
    status = e.status
  } else {
    // A failed fetch (TypeError) or anything unexpected on the way: the network.
    return true
  }
  return status === 0 || status === 408 || status === 429 || status >= 500
}

/** PUTs a body with progress; rejects with UploadCancelled when `signal` aborts. */
export function putWithProgress(
  url: string,
  body: Blob,
  headers: Record<string, string>,
  onProgress?: (loaded: number, total: number) => void,
  signal?: AbortSignal,
): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new UploadCancelled())
    const xhr = new XMLHttpRequest()
    xhr.open('PUT', url)
    for (const [k, v] of Object.entries(headers)) xhr.setRequestHeader(k, v)
    xhr.upload.onprogress = (e) => {
      if (onProgress) onProgress(e.loaded, e.lengthComputable ? e.total : body.size)
    }
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress?.(body.size, body.size)
        resolve()
      } else {
        reject(new StorageError(xhr.status))
      }
    }
    xhr.onerror = () => reject(new StorageError(0))
    xhr.onabort = () => reject(new UploadCancelled())
    signal?.addEventListener('abort', () => xhr.abort(), { once: true })
    xhr.send(body)
  })
}

/** Words for a failed upload step, with the quota numbers when the quota is full. */
export function uploadErrorMessage(e: unknown, size: number): string {
  if (e instanceof UploadCancelled) return 'Cancelled'
  if (e instanceof ApiError) {
    if (e.status === 413 && e.code === 'quota_exceeded') {
      const d = (e.body as ErrorBody | null)?.detail
      if (d) {
        const free = Math.max(0, d.limit_bytes - d.used_bytes)
        return `Not enough space: this file needs ${formatBytes(d.rejected_bytes)}, only ${formatBytes(free)} of ${formatBytes(d.limit_bytes)} is free.`
      }
      return 'Not enough space left in your quota for this file.'
    }
    if (e.status === 413) return `Too big (${formatBytes(size)}): ${e.message}`
    // The server's message lists the accepted types (one table, served by the API).
    if (e.status === 415) return `This file type is not supported. ${e.message}`.trim()
    if (e.status === 429) {
      return e.retryAfter != null
        ? `Too many uploads at once; try again in ${e.retryAfter} s.`
        : 'Too many uploads at once; try again shortly.'
    }
    if (e.status === 422 && e.code === 'upload_not_found') return 'The upload did not reach storage; please try again.'
    if (duplicateExistingId(e) || (e.code as string) === 'duplicate_document') return 'Already in your vault'
    return e.message
  }
  if (e instanceof Error) return e.message
  return String(e)
}

/**
 * Where an upload goes: how to reserve its slot, confirm it, and drop it when cancelled.
 * New documents and new versions of a document go through the same three steps.
 */
export interface UploadTarget<R> {
  /** Reserves the slot: the signed URL, its headers and the id of what was created. */
  slot: (req: UploadUrlRequest, signal?: AbortSignal) => Promise<{ id: string; upload_url: string; headers: Record<string, string> }>
  /** Confirms the stored bytes (the server charges the quota). */
  confirm: (id: string) => Promise<R>
  /** Drops the pending slot after a cancel (best effort). */
  discard?: (id: string) => Promise<unknown>
}

/** Runs the three steps of an upload against `target`; `types` (from
 * `GET /api/auth/config`) name the content type to declare by extension. */
export async function uploadVia<R>(
  target: UploadTarget<R>,
  file: File,
  folderId: string | null,
  cb: UploadCallbacks = {},
  signal?: AbortSignal,
  types: DocumentTypes = [],
): Promise<R> {
  cb.onPhase?.('preparing')
  const req: UploadUrlRequest = {
    filename: file.name,
    content_type: contentTypeFor(file.name, file.type, types),
    size_bytes: file.size,
    folder_id: folderId ?? undefined,
  }
  const slot = await target.slot(req, signal)
  cb.onCreated?.(slot.id)
  try {
    cb.onPhase?.('uploading')
    await putWithProgress(slot.upload_url, file, slot.headers, cb.onProgress, signal)
    if (signal?.aborted) throw new UploadCancelled()
    cb.onPhase?.('confirming')
    return await target.confirm(slot.id)
  } catch (e) {
    // Drop the pending slot now rather than waiting for the hourly cleanup.
    if (e instanceof UploadCancelled) target.discard?.(slot.id).catch(() => undefined)
    throw e
  }
}

/** A new document (optionally in a folder). */
const newDocument: UploadTarget<ConfirmResponse> = {
  slot: async (req, signal) => {
    const s = await api.post<UploadUrlResponse>('/api/documents/upload-url', req, { signal })
    return { id: s.document_id, upload_url: s.upload_url, headers: s.headers }
  },
  confirm: (id) => api.post<ConfirmResponse>(`/api/documents/${id}/confirm`),
  discard: (id) => api.del(`/api/documents/${id}`),
}

/** A new version of document `documentId`; it becomes current once confirmed. A
 * cancelled version needs no clean-up call (the pending slot expires on the server). */
export function newVersionOf(documentId: string): UploadTarget<VersionConfirmResponse> {
  return {
    slot: async ({ filename, content_type, size_bytes }, signal) => {
      const s = await versionUploadUrl(documentId, { filename, content_type, size_bytes }, signal)
      return { id: s.version_id, upload_url: s.upload_url, headers: s.headers }
    },
    confirm: (versionId) => confirmVersion(documentId, versionId),
  }
}

/** Uploads one file as a new document and returns the confirm answer. */
export function uploadFile(
  file: File,
  folderId: string | null,
  cb: UploadCallbacks = {},
  signal?: AbortSignal,
  types: DocumentTypes = [],
): Promise<ConfirmResponse> {
  return uploadVia(newDocument, file, folderId, cb, signal, types)
}

/** Uploads one file as a new version of a document and returns the confirm answer. */
export function uploadVersion(
  documentId: string,
  file: File,
  cb: UploadCallbacks = {},
  signal?: AbortSignal,
  types: DocumentTypes = [],
): Promise<VersionConfirmResponse> {
  return uploadVia(newVersionOf(documentId), file, null, cb, signal, types)
}
