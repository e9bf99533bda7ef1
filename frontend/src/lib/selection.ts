// Bulk selection of documents (issue 16): which documents are checked, shift-click
// ranges over the visible order, "select page" and "select all N matching", and the
// bulk requests over the generated shapes.
import { computed, ref } from 'vue'
import { api } from '@/api/client'
import type { components } from '@/api/schema'
import type { ListParams } from '@/api/types'

type S = components['schemas']
export type BulkRequest = S['BulkRequest']
export type BulkResponse = S['BulkResponse']
export type BulkItemResult = S['BulkItemResult']
export type BulkActionName = S['BulkActionName']
export type DocumentIds = S['DocumentIds']
export type BulkDownloadUrl = S['BulkDownloadUrl']

/** Most documents one bulk request takes (the server's limit). */
export const MAX_BULK = 1000

/**
 * The ids between `anchor` and `target` in `order`, both included (in either direction).
 * When the anchor is no longer shown (another page), the range is the target alone.
 */
export function rangeBetween(order: readonly string[], anchor: string | null, target: string): string[] {
  const to = order.indexOf(target)
  if (to < 0) return []
  const from = anchor === null ? -1 : order.indexOf(anchor)
  if (from < 0) return [target]
  const [lo, hi] = from <= to ? [from, to] : [to, from]
  return order.slice(lo, hi + 1)
}

/**
 * The selection after a click on `target`'s checkbox: a plain click toggles it; a
 * shift-click gives the whole range from the last clicked one the state the target gets
 * (checking or unchecking the range), as file managers do.
 */
export function clickSelection(
  selected: ReadonlySet<string>,
  order: readonly string[],
  anchor: string | null,
  target: string,
  shift: boolean,
): Set<string> {
  const next = new Set(selected)
  const check = !selected.has(target)
  const ids = shift ? rangeBetween(order, anchor, target) : [target]
  for (const id of ids) {
    if (check) next.add(id)
    else next.delete(id)
  }
  return next
}

/** One failed document of a bulk request, for the summary. */
export interface BulkFailure {
  id: string
  status: number
  message: string
}

/** "3 not found, 1 in the trash": the failures grouped by what went wrong. */
export function failureSummary(results: readonly BulkItemResult[]): string {
  const groups = new Map<string, number>()
  for (const r of results) {
    if (r.ok) continue
    const why = REASONS[r.code ?? ''] ?? r.message ?? `HTTP ${r.status}`
    groups.set(why, (groups.get(why) ?? 0) + 1)
  }
  return [...groups].map(([why, n]) => `${n} ${why}`).join(', ')
}

const REASONS: Record<string, string> = {
  not_found: 'not found',
  document_trashed: 'in the trash',
  not_confirmed: 'still uploading',
  unknown_topic: 'with an unknown topic',
  cannot_share_with_self: 'yours already (cannot share with yourself)',
  cannot_share_with_admin: 'not shareable with an administrator',
  quota_exceeded: 'over your storage quota',
}

/** The checked documents of the list, by id. */
export function useSelection() {
  const selected = ref(new Set<string>())
  /** The last checkbox clicked: where a shift-click range starts. */
  const anchor = ref<string | null>(null)
  const count = computed(() => selected.value.size)

  return {
    selected,
    count,
    has: (id: string) => selected.value.has(id),
    /** A click on `id`'s checkbox, `order` being the ids as shown. */
    click(id: string, order: readonly string[], shift: boolean) {
      selected.value = clickSelection(selected.value, order, anchor.value, id, shift)
      anchor.value = id
    },
    /** Whether every id of `ids` is checked (and there is one). */
    allOf: (ids: readonly string[]) => ids.length > 0 && ids.every((id) => selected.value.has(id)),
    /** Checks every id of `ids` (the page), or unchecks them all when they all are. */
    togglePage(ids: readonly string[]) {
      const next = new Set(selected.value)
      const all = ids.length > 0 && ids.every((id) => next.has(id))
      for (const id of ids) {
        if (all) next.delete(id)
        else next.add(id)
      }
      selected.value = next
    },
    /** Replaces the selection (e.g. every matching id). */
    set(ids: readonly string[]) {
      selected.value = new Set(ids)
    },
    clear() {
      selected.value = new Set()
      anchor.value = null
    },
    ids: () => [...selected.value],
  }
}

export type Selection = ReturnType<typeof useSelection>

/** The list's filters without paging: what `GET /api/documents/ids` takes. */
export function filtersOf(params: ListParams): Record<string, string | number | boolean | undefined> {
  const { page: _page, per_page: _perPage, ...filters } = params as ListParams & Record<string, unknown>
  return filters as Record<string, string | number | boolean | undefined>
}

/** Every document the list shows with `params` (all pages), at most 1 000 ids. */
export function matchingIds(params: ListParams): Promise<DocumentIds> {
  return api.get<DocumentIds>('/api/documents/ids', filtersOf(params))
}

/** One action over the selection (`POST /api/documents/bulk`). */
export function bulkEdit(body: BulkRequest): Promise<BulkResponse> {
  return api.post<BulkResponse>('/api/documents/bulk', body)
}

/** A short-lived link to the zip of the selection. */
export function zipUrl(ids: string[]): Promise<BulkDownloadUrl> {
  return api.post<BulkDownloadUrl>('/api/documents/bulk/download-url', { ids })
}
