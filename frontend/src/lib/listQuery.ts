// The documents list's state lives in the URL query (shareable, back/forward work). This
// module is the one mapping between that query, the parameters of `GET /api/documents`
// and the `query` of a saved view (which uses the API's own names, checked by the server).
import type { LocationQuery, LocationQueryRaw } from 'vue-router'
import type { DocumentStatus, ListParams, SortKey, SortOrder } from '@/api/types'

/** The list parameters a saved view holds: the API's names and values. */
export type ViewQuery = Record<string, string | number | boolean>

/** URL key → API parameter, and how the value is read. */
const FIELDS = [
  { url: 'q', api: 'q', kind: 'text' },
  { url: 'sort', api: 'sort', kind: 'text' },
  { url: 'order', api: 'order', kind: 'text' },
  { url: 'topic', api: 'topic', kind: 'text' },
  { url: 'folder', api: 'folder_id', kind: 'text' },
  { url: 'subfolders', api: 'include_subfolders', kind: 'flag' },
  { url: 'status', api: 'status', kind: 'text' },
  { url: 'type', api: 'content_type', kind: 'text' },
  { url: 'from', api: 'created_from', kind: 'text' },
  { url: 'to', api: 'created_to', kind: 'text' },
  { url: 'dfrom', api: 'document_date_from', kind: 'text' },
  { url: 'dto', api: 'document_date_to', kind: 'text' },
  { url: 'min', api: 'size_min', kind: 'number' },
  { url: 'max', api: 'size_max', kind: 'number' },
  { url: 'shared', api: 'include_shared', kind: 'flag' },
  { url: 'duplicates', api: 'duplicates', kind: 'flag' },
] as const

/** URL keys that narrow the list (everything but paging and order). */
export const FILTER_KEYS = ['q', 'topic', 'folder', 'subfolders', 'status', 'type', 'from', 'to', 'dfrom', 'dto', 'min', 'max', 'shared', 'duplicates'] as const

export const PER_PAGE = 25

function first(v: LocationQuery[string] | undefined): string | undefined {
  const s = Array.isArray(v) ? v[0] : v
  return typeof s === 'string' && s !== '' ? s : undefined
}

/** A size in the URL: whole bytes, else ignored. */
function bytes(s: string | undefined): number | undefined {
  if (s === undefined || !/^\d+$/.test(s)) return undefined
  const n = Number(s)
  return Number.isSafeInteger(n) ? n : undefined
}

/** A flag in the URL: `1` or `true`. */
function flag(s: string | undefined): boolean {
  return s === '1' || s === 'true'
}

/** The saved-view form (API names) of what the URL asks for; paging left out. */
export function viewQueryFromRoute(query: LocationQuery): ViewQuery {
  const out: ViewQuery = {}
  for (const f of FIELDS) {
    const raw = first(query[f.url])
    if (raw === undefined) continue
    if (f.kind === 'flag') {
      if (flag(raw)) out[f.api] = true
    } else if (f.kind === 'number') {
      const n = bytes(raw)
      if (n !== undefined) out[f.api] = n
    } else {
      out[f.api] = raw
    }
  }
  // Sub-folders only mean something with a folder.
  if (!out.folder_id) delete out.include_subfolders
  return out
}

/** The URL query that opens a saved view (unknown keys are dropped). */
export function routeFromViewQuery(view: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const f of FIELDS) {
    const v = view[f.api]
    if (v === undefined || v === null || v === '' || v === false) continue
    if (f.kind === 'flag') {
      if (v === true || v === 'true') out[f.url] = '1'
    } else if (typeof v === 'string' || typeof v === 'number') {
      out[f.url] = String(v)
    }
  }
  return out
}

/** The request for the page the URL shows: a search is ranked by relevance unless a sort
 * is picked; a plain list is newest first. */
export function paramsFromRoute(query: LocationQuery): ListParams {
  const v = viewQueryFromRoute(query)
  const page = Number(first(query.page))
  const searching = typeof v.q === 'string'
  const params: ListParams = {
    page: Number.isSafeInteger(page) && page > 0 ? page : 1,
    per_page: PER_PAGE,
    sort: (v.sort as SortKey | undefined) ?? (searching ? undefined : 'created_at'),
    order: (v.order as SortOrder | undefined) ?? (v.sort || !searching ? 'desc' : undefined),
    topic: v.topic as string | undefined,
    folder_id: v.folder_id as string | undefined,
    include_subfolders: v.include_subfolders === true ? true : undefined,
    status: v.status as DocumentStatus | undefined,
    q: v.q as string | undefined,
    content_type: v.content_type as string | undefined,
    created_from: v.created_from as string | undefined,
    created_to: v.created_to as string | undefined,
    document_date_from: v.document_date_from as string | undefined,
    document_date_to: v.document_date_to as string | undefined,
    size_min: v.size_min as number | undefined,
    size_max: v.size_max as number | undefined,
    include_shared: v.include_shared === true ? true : undefined,
    duplicates: v.duplicates === true ? true : undefined,
  }
  for (const k of Object.keys(params) as (keyof ListParams)[]) if (params[k] === undefined) delete params[k]
  return params
}

/** Whether anything narrows the list. */
export function isFiltered(query: LocationQuery): boolean {
  return FILTER_KEYS.some((k) => first(query[k]) !== undefined)
}

/** What an empty list means: an empty vault, an empty folder, or no match. */
export function emptyKind(query: LocationQuery): 'vault' | 'folder' | 'nomatch' {
  const set = FILTER_KEYS.filter((k) => first(query[k]) !== undefined)
  if (!set.length) return 'vault'
  if (set.every((k) => k === 'folder' || k === 'subfolders')) return 'folder'
  return 'nomatch'
}

/** The URL query with `patch` applied (undefined or '' removes a key); any change other
 * than the page sends the list back to page 1. */
export function patchQuery(query: LocationQuery, patch: Record<string, string | undefined>): LocationQueryRaw {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(query)) {
    const s = first(v)
    if (s !== undefined) out[k] = s
  }
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined || v === '') delete out[k]
    else out[k] = v
  }
  if (!('page' in patch)) delete out.page
  return out
}

/** Two URL queries ask for the same list (paging aside). */
export function sameView(a: LocationQuery, b: LocationQuery): boolean {
  const x = viewQueryFromRoute(a)
  const y = viewQueryFromRoute(b)
  const keys = new Set([...Object.keys(x), ...Object.keys(y)])
  return [...keys].every((k) => x[k] === y[k])
}

/** Size ranges offered by the filter bar, as URL values (bytes). */
export const SIZE_RANGES: { label: string; min?: number; max?: number }[] = [
  { label: 'Under 100 KB', max: 100 * 1024 - 1 },
  { label: '100 KB – 1 MB', min: 100 * 1024, max: 1024 * 1024 - 1 },
  { label: '1 – 10 MB', min: 1024 * 1024, max: 10 * 1024 * 1024 - 1 },
  { label: '10 MB and more', min: 10 * 1024 * 1024 },
]
