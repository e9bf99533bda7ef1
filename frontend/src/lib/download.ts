import { api } from '@/api/client'
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
 * short-lived signed link (`POST /api/me/export-url`) and navigate to it; the server
 * streams the zip to the browser's download.
 */
export async function exportVault(): Promise<void> {
  saveUrl((await exportUrl()).url)
}
