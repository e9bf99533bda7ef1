// Small, testable pieces of the document viewer and the document list: zoom steps,
// processing progress in words, the remembered list layout, CSV for the text viewer.
import type { DocumentProgress } from '@/api/types'

/** Zoom factors the viewers step through (1 = 100 %). */
export const ZOOM_STEPS = [0.25, 0.33, 0.5, 0.67, 0.75, 0.9, 1, 1.1, 1.25, 1.5, 1.75, 2, 2.5, 3, 4, 5] as const
export const MIN_ZOOM = ZOOM_STEPS[0]
export const MAX_ZOOM = ZOOM_STEPS[ZOOM_STEPS.length - 1]

/** The next zoom step above (`dir` 1) or below (`dir` -1) `current`, within the limits. */
export function stepZoom(current: number, dir: 1 | -1): number {
  if (dir > 0) return ZOOM_STEPS.find((z) => z > current + 1e-6) ?? MAX_ZOOM
  return [...ZOOM_STEPS].reverse().find((z) => z < current - 1e-6) ?? MIN_ZOOM
}

/** The scale at which something `contentWidth` wide fills `boxWidth` (never 0). */
export function fitScale(boxWidth: number, contentWidth: number): number {
  if (!(boxWidth > 0) || !(contentWidth > 0)) return 1
  return Math.min(MAX_ZOOM, Math.max(0.05, boxWidth / contentWidth))
}

/** A zoom factor as people say it: "125 %". */
export function zoomLabel(scale: number): string {
  return `${Math.round(scale * 100)} %`
}

/** A page number typed by hand, clamped to 1…pages; null when it is not a number. */
export function clampPage(value: unknown, pages: number): number | null {
  const n = typeof value === 'number' ? value : Number.parseInt(String(value ?? ''), 10)
  if (!Number.isFinite(n)) return null
  return Math.min(Math.max(1, Math.trunc(n)), Math.max(1, pages))
}

/** "Reading text (page 3 of 12)" while a document is read page by page; null otherwise. */
export function progressText(progress: DocumentProgress | null | undefined): string | null {
  if (!progress || !(progress.pages > 0)) return null
  const page = Math.min(Math.max(1, progress.page), progress.pages)
  return `Reading text (page ${page} of ${progress.pages})`
}

/** The same, short enough for a badge in a list: "Reading 3/12". */
export function progressShort(progress: DocumentProgress | null | undefined): string | null {
  if (!progress || !(progress.pages > 0)) return null
  const page = Math.min(Math.max(1, progress.page), progress.pages)
  return `Reading ${page}/${progress.pages}`
}

export type ListLayout = 'table' | 'grid'
const LAYOUT_KEY = 'docuvault.documents.layout'

/** The document list's layout the user picked last time (table when never picked). */
export function loadListLayout(storage: Pick<Storage, 'getItem'> | null = safeStorage()): ListLayout {
  try {
    return storage?.getItem(LAYOUT_KEY) === 'grid' ? 'grid' : 'table'
  } catch {
    return 'table'
  }
}

/** Remembers the document list's layout (quietly does nothing where storage is off). */
export function saveListLayout(layout: ListLayout, storage: Pick<Storage, 'setItem'> | null = safeStorage()): void {
  try {
    storage?.setItem(LAYOUT_KEY, layout)
  } catch {
    /* private mode or storage full: the choice lasts for this page only */
  }
}

function safeStorage(): Storage | null {
  try {
    return typeof localStorage === 'undefined' ? null : localStorage
  } catch {
    return null
  }
}

/**
 * Parses CSV (RFC 4180: quoted fields, doubled quotes, CRLF or LF) into rows, stopping
 * after `maxRows`. The delimiter is `,` unless the first line has more `;` or tabs.
 */
export function parseCsv(text: string, maxRows = 500): { rows: string[][]; truncated: boolean } {
  const firstLine = text.slice(0, text.search(/\r?\n|$/))
  const counts = [',', ';', '\t'].map((d) => [d, firstLine.split(d).length - 1] as const)
  const delim = counts.reduce((best, c) => (c[1] > best[1] ? c : best), counts[0])[0]
  const rows: string[][] = []
  let row: string[] = []
  let field = ''
  let quoted = false
  let i = 0
  const endRow = () => {
    row.push(field)
    rows.push(row)
    row = []
    field = ''
  }
  while (i < text.length) {
    const c = text[i]
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"'
        i += 2
        continue
      }
      if (c === '"') quoted = false
      else field += c
      i++
      continue
    }
    if (c === '"' && field === '') quoted = true
    else if (c === delim) {
      row.push(field)
      field = ''
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++
      endRow()
      if (rows.length >= maxRows) return { rows, truncated: i + 1 < text.length }
    } else field += c
    i++
  }
  if (field !== '' || row.length) endRow()
  return { rows, truncated: false }
}
