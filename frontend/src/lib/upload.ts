// The three-step upload: ask for a signed URL, PUT the bytes straight to storage with
// XHR (for progress and cancel), then confirm so the server charges the quota.
import { api, ApiError } from '@/api/client'
import type { ConfirmResponse, ErrorBody, UploadUrlRequest, UploadUrlResponse } from '@/api/types'
import { contentTypeFor, formatBytes, type DocumentTypes } from './format'

export interface UploadCallbacks {
  onProgress?: (loaded: number, total: number) => void
  onPhase?: (phase: 'preparing' | 'uploading' | 'confirming') => void
  /** Receives the new document id as soon as the server created it. */
  onCreated?: (documentId: string) => void
}

export class UploadCancelled extends Error {
  constructor() {
    super('Upload cancelled')
    this.name = 'UploadCancelled'
  }
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
        reject(new Error(`Storage refused the upload (HTTP ${xhr.status})`))
      }
    }
    xhr.onerror = () => reject(new Error('Network error while uploading'))
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
    return e.message
  }
  if (e instanceof Error) return e.message
  return String(e)
}

/** Uploads one file through the whole flow and returns the confirm answer; `types`
 * (from `GET /api/auth/config`) name the content type to declare by extension. */
export async function uploadFile(
  file: File,
  folderId: string | null,
  cb: UploadCallbacks = {},
  signal?: AbortSignal,
  types: DocumentTypes = [],
): Promise<ConfirmResponse> {
  cb.onPhase?.('preparing')
  const req: UploadUrlRequest = {
    filename: file.name,
    content_type: contentTypeFor(file.name, file.type, types),
    size_bytes: file.size,
    folder_id: folderId ?? undefined,
  }
  const slot = await api.post<UploadUrlResponse>('/api/documents/upload-url', req, { signal })
  cb.onCreated?.(slot.document_id)
  try {
    cb.onPhase?.('uploading')
    await putWithProgress(slot.upload_url, file, slot.headers, cb.onProgress, signal)
    if (signal?.aborted) throw new UploadCancelled()
    cb.onPhase?.('confirming')
    return await api.post<ConfirmResponse>(`/api/documents/${slot.document_id}/confirm`)
  } catch (e) {
    if (e instanceof UploadCancelled) {
      // Drop the pending row now rather than waiting for the hourly cleanup.
      api.del(`/api/documents/${slot.document_id}`).catch(() => undefined)
    }
    throw e
  }
}
