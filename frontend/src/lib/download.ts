import { api, authedFetch, toApiError } from '@/api/client'
import type { DownloadResponse } from '@/api/types'
import { exportUrl, versionDownloadUrl } from './vault'

/** Lets the browser save what `url` answers (the server sends `Content-Disposition:
 * attachment`, so the page stays where it is). */
export function saveUrl(url: string, filename = ''): void {
  const a = document.createElement('a')
  a.href = url
  a.rel = 'noopener'
  a.download = filename
  document.body.appendChild(a)
  a.click()
  a.remove()
}

/** Fetches a short-lived download link and lets the browser save the file. */
export async function downloadDocument(id: string): Promise<void> {
  const { url } = await api.get<DownloadResponse>(`/api/documents/${id}/download`)
  saveUrl(url)
}

/** Saves one version of a document (a short-lived attachment link). */
export async function downloadVersion(id: string, versionId: string): Promise<void> {
  const { url } = await versionDownloadUrl(id, versionId)
  saveUrl(url)
}

/**
 * Saves the zip of all the caller's documents. The API authenticates by bearer token
 * only, so a plain navigation to `GET /api/me/export` would be refused: ask for a
 * short-lived signed link (`POST /api/me/export-url`) and navigate to it. A server
 * without that route (404/405) gets the zip fetched with the token instead (held in
 * memory, so only the fallback).
 */
export async function exportVault(): Promise<void> {
  try {
    saveUrl((await exportUrl()).url)
    return
  } catch (e) {
    const status = (e as { status?: number }).status
    if (status !== 404 && status !== 405) throw e
  }
  const res = await authedFetch('GET', '/api/me/export')
  if (!res.ok) throw await toApiError(res)
  const name = /filename="([^"]+)"/.exec(res.headers.get('Content-Disposition') ?? '')?.[1] ?? 'docuvault-export.zip'
  const blobUrl = URL.createObjectURL(await res.blob())
  try {
    saveUrl(blobUrl, name)
  } finally {
    setTimeout(() => URL.revokeObjectURL(blobUrl), 60_000)
  }
}
