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

/** Content types the server accepts, by file extension (browsers leave some blank). */
export const TYPE_BY_EXT: Record<string, string> = {
  pdf: 'application/pdf',
  docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  odt: 'application/vnd.oasis.opendocument.text',
  txt: 'text/plain',
  text: 'text/plain',
  md: 'text/markdown',
  markdown: 'text/markdown',
  csv: 'text/csv',
  html: 'text/html',
  htm: 'text/html',
}

export const ACCEPT_ATTR = Object.keys(TYPE_BY_EXT)
  .map((e) => '.' + e)
  .concat(Array.from(new Set(Object.values(TYPE_BY_EXT))))
  .join(',')

/** The content type to declare for a file: the extension wins over the browser's guess
 * (browsers report e.g. Markdown as text/plain or nothing at all). */
export function contentTypeFor(name: string, browserType: string): string {
  const ext = name.includes('.') ? name.split('.').pop()!.toLowerCase() : ''
  return TYPE_BY_EXT[ext] ?? (browserType || 'application/octet-stream')
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
