import { api } from '@/api/client'
import type { DownloadResponse } from '@/api/types'

/** Fetches a short-lived download link and lets the browser save the file
 * (the server answers with `Content-Disposition: attachment`). */
export async function downloadDocument(id: string): Promise<void> {
  const { url } = await api.get<DownloadResponse>(`/api/documents/${id}/download`)
  const a = document.createElement('a')
  a.href = url
  a.rel = 'noopener'
  a.download = ''
  document.body.appendChild(a)
  a.click()
  a.remove()
}
