import type { DocumentTypeView } from '@/api/types'

/** Human byte sizes in binary units: 0 B, 1.5 KB, 100 MB (1 KB = 1024 B). */
export function formatBytes(n: number | null | undefined): string {
  if (n == null || !Number.isFinite(n)) return '—'
  if (n < 1024) return `${n} B`
  const units = ['KB', 'MB', 'GB', 'TB', 'PB']
  let v = n / 1024
  let i = 0
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  const digits = v >= 100 ? 0 : v >= 10 ? 1 : 1
  return `${v.toFixed(digits).replace(/\.0$/, '')} ${units[i]}`
}

const dateFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' })
const dayFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' })

export function formatDate(iso: string | null | undefined): string {
  if (!iso) return '—'
  const d = new Date(iso)
  return Number.isNaN(d.getTime()) ? iso : dateFmt.format(d)
}

export function formatDay(iso: string | null | undefined): string {
  if (!iso) return '—'
  const d = new Date(iso)
  return Number.isNaN(d.getTime()) ? iso : dayFmt.format(d)
}

// A calendar day (`YYYY-MM-DD`) is no instant: shown as that day wherever the reader is.
const calendarFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeZone: 'UTC' })

/** A calendar day `YYYY-MM-DD` (a document's own date) as "1 Mar 2024" in the reader's
 * language, the same day in every time zone; '—' when there is none. */
export function formatCalendarDay(day: string | null | undefined): string {
  if (!day) return '—'
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) return day
  const d = new Date(`${day}T00:00:00Z`)
  return Number.isNaN(d.getTime()) ? day : calendarFmt.format(d)
}

/** "3 minutes ago" style, falling back to the date after a week. */
export function timeAgo(iso: string, now = Date.now()): string {
  const t = new Date(iso).getTime()
  if (Number.isNaN(t)) return iso
  const s = Math.round((now - t) / 1000)
  if (s < 45) return 'just now'
  const m = Math.round(s / 60)
  if (m < 60) return `${m} min ago`
  const h = Math.round(m / 60)
  if (h < 24) return `${h} h ago`
  const d = Math.round(h / 24)
  if (d < 7) return `${d} day${d === 1 ? '' : 's'} ago`
  return formatDay(iso)
}

/** Parses "1.5 GB", "500 MB", "1024" (bytes) into bytes; null if unreadable. */
export function parseBytes(input: string): number | null {
  const m = input.trim().match(/^(\d+(?:\.\d+)?)\s*(b|kb|kib|mb|mib|gb|gib|tb|tib)?$/i)
  if (!m) return null
  const v = Number(m[1])
  const unit = (m[2] ?? 'b').toLowerCase().replace('i', '')
  const pow = { b: 0, kb: 1, mb: 2, gb: 3, tb: 4 }[unit] ?? 0
  return Math.round(v * 1024 ** pow)
}

/** The document types the server accepts, as `GET /api/auth/config` lists them. */
export type DocumentTypes = readonly DocumentTypeView[]

/** The file picker's `accept` attribute: every listed extension and content type. */
export function acceptAttr(types: DocumentTypes): string {
  const exts = types.flatMap((t) => t.extensions.map((e) => '.' + e))
  return exts.concat(types.map((t) => t.content_type)).join(',')
}

/** The content type to declare for a file: a listed extension wins over the browser's
 * guess (browsers report e.g. Markdown as text/plain or nothing at all); otherwise the
 * browser's type, which the server refuses with 415 when it is not listed. */
export function contentTypeFor(name: string, browserType: string, types: DocumentTypes): string {
  const ext = name.includes('.') ? name.split('.').pop()!.toLowerCase() : ''
  const listed = types.find((t) => t.extensions.includes(ext))
  return listed?.content_type ?? (browserType || 'application/octet-stream')
}

/** Short label for a content type. */
export function typeLabel(ct: string): string {
  const base = ct.split(';')[0].trim().toLowerCase()
  const map: Record<string, string> = {
    'application/pdf': 'PDF',
    'application/vnd.openxmlformats-officedocument.wordprocessingml.document': 'DOCX',
    'application/vnd.oasis.opendocument.text': 'ODT',
    'text/plain': 'Text',
    'text/markdown': 'Markdown',
    'text/csv': 'CSV',
    'text/html': 'HTML',
  }
  return map[base] ?? base.split('/').pop()?.toUpperCase() ?? 'File'
}
