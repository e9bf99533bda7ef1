// The trash, versions, duplicates and export requests (issue 14), over the shapes
// generated from openapi.json.
import { api, ApiError, request } from '@/api/client'
import type { components } from '@/api/schema'
import type { DocumentPage, DocumentView, ListParams } from '@/api/types'

type S = components['schemas']

export type VersionView = S['VersionView']
export type VersionList = S['VersionList']
export type VersionUploadUrlRequest = S['VersionUploadUrlRequest']
export type VersionUploadUrlResponse = S['VersionUploadUrlResponse']
export type VersionConfirmResponse = S['VersionConfirmResponse']
/** `GET …/versions/{version_id}/download` answer (an attachment link). */
export type VersionDownloadResponse = S['DownloadResponse']
export type EmptyTrashResponse = S['EmptyTrashResponse']

/** `POST /api/me/export-url` answer: a short-lived link to the export zip. */
export type ExportUrlResponse = S['ExportUrlResponse']

/** Error codes of issue 14 (not yet in the generated `ErrorCode`). */
export type VaultErrorCode = 'document_trashed' | 'duplicate_document' | 'only_version'

/** True when `e` is an API error with this code (also for codes the generated spec lacks). */
export function hasCode(e: unknown, code: VaultErrorCode | string): e is ApiError {
  return e instanceof ApiError && (e.code as string) === code
}

/** The existing document a `409 duplicate_document` refusal points at, or null. Reads the
 * flat `ErrorBody` (`{code, message, existing_id}`) and the nested form CONTRACT.md
 * writes (`{"error": {code, message, existing_id}}`). */
export function duplicateExistingId(e: unknown): string | null {
  if (!(e instanceof ApiError) || e.status !== 409) return null
  type Dup = { code?: unknown; existing_id?: unknown }
  const b = e.body as (Dup & { error?: Dup }) | null
  const code = b?.code ?? b?.error?.code ?? e.code
  if (code !== 'duplicate_document') return null
  const id = b?.existing_id ?? b?.error?.existing_id
  return typeof id === 'string' && id ? id : null
}

const doc = (id: string) => `/api/documents/${encodeURIComponent(id)}`
const version = (id: string, versionId: string) => `${doc(id)}/versions/${encodeURIComponent(versionId)}`

// ---- trash ------------------------------------------------------------------------------

/** Moves a document to the trash (`DELETE /api/documents/{id}`). */
export function trashDocument(id: string): Promise<void> {
  return api.del(doc(id))
}

/** Deletes a document for good, live or trashed (`DELETE …?permanent=true`). */
export function deleteForever(id: string): Promise<void> {
  return api.del(`${doc(id)}?permanent=true`)
}

/** Brings a trashed document back (413 `quota_exceeded` when the owner is over quota). */
export function restoreDocument(id: string): Promise<DocumentView> {
  return api.post<DocumentView>(`${doc(id)}/restore`)
}

/** One page of the caller's trash (`GET /api/documents?trashed=true`). */
export function listTrash(params: Pick<ListParams, 'page' | 'per_page'> = {}): Promise<DocumentPage> {
  return api.get<DocumentPage>('/api/documents', { ...params, trashed: true })
}

/** Deletes everything in the caller's trash for good. */
export function emptyTrash(): Promise<EmptyTrashResponse> {
  return request<EmptyTrashResponse>('DELETE', '/api/documents/trash')
}

// ---- versions ---------------------------------------------------------------------------

/** A document's stored versions, newest first. */
export async function listVersions(id: string): Promise<VersionView[]> {
  return (await api.get<VersionList>(`${doc(id)}/versions`)).items
}

/** Reserves an upload slot for a new version of a document. */
export function versionUploadUrl(id: string, body: VersionUploadUrlRequest, signal?: AbortSignal): Promise<VersionUploadUrlResponse> {
  return api.post<VersionUploadUrlResponse>(`${doc(id)}/versions/upload-url`, body, { signal })
}

/** Confirms an uploaded version; it becomes current and is processed again. */
export function confirmVersion(id: string, versionId: string): Promise<VersionConfirmResponse> {
  return api.post<VersionConfirmResponse>(`${version(id, versionId)}/confirm`)
}

/** A short-lived attachment link to one version. */
export function versionDownloadUrl(id: string, versionId: string): Promise<VersionDownloadResponse> {
  return api.get<VersionDownloadResponse>(`${version(id, versionId)}/download`)
}

/** Makes an older version current again (processing runs again on it). */
export function makeVersionCurrent(id: string, versionId: string): Promise<DocumentView> {
  return api.post<DocumentView>(`${version(id, versionId)}/make-current`)
}

/** Deletes one version and refunds its size (409 `only_version` for the last one). */
export function deleteVersion(id: string, versionId: string): Promise<void> {
  return api.del(version(id, versionId))
}

// ---- export -----------------------------------------------------------------------------

/** A short-lived link to the zip of all the caller's documents. */
export function exportUrl(): Promise<ExportUrlResponse> {
  return api.post<ExportUrlResponse>('/api/me/export-url')
}
