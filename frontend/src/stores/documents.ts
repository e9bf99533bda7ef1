import { defineStore } from 'pinia'
import { api } from '@/api/client'
import type { DocumentPage, DocumentView, ListParams, UpdateDocumentRequest } from '@/api/types'
import { uploadErrorMessage } from '@/lib/upload'
import { restoreDocument, trashDocument } from '@/lib/vault'
import { useQuotaStore } from './quota'
import { useToastStore } from './toasts'

/** Statuses that change on their own; the list is polled while any is visible. */
export const ACTIVE_STATUSES = new Set(['pending', 'queued', 'processing'])
export const POLL_MS = 2000
/** How long after a change a missing thumbnail is still expected to appear. */
export const THUMBNAIL_WAIT_MS = 2 * 60_000

/** True while a document is processed, or was just processed and its thumbnail (made
 * after upload) has not arrived yet: the list keeps polling for either. */
export function isSettling(d: DocumentView, now = Date.now()): boolean {
  if (ACTIVE_STATUSES.has(d.status)) return true
  // Some documents never get one: stop waiting a while after their last change.
  return d.thumbnail_url === null && d.status !== 'failed' && now - Date.parse(d.updated_at) < THUMBNAIL_WAIT_MS
}

/** The document list as shown (one page, with its filters), kept live while
 * documents are still being processed. */
export const useDocumentsStore = defineStore('documents', {
  state: () => ({
    items: [] as DocumentView[],
    total: 0,
    /** False when a search matched more documents than it returns (`total` is then
     * that limit, and more match); true once counted (`count: 'exact'`). */
    totalExact: true,
    /** A search's most returned documents (pages end there, even when the exact total
     * is larger); null for a plain list. */
    maxHits: null as number | null,
    params: { page: 1, per_page: 25, sort: 'created_at', order: 'desc' } as ListParams,
    loading: false,
    error: null as string | null,
    /** Increases with every load so a slow older answer never overwrites a newer one. */
    seq: 0,
    pollTimer: null as ReturnType<typeof setTimeout> | null,
    polling: false,
  }),
  getters: {
    /** Pages that hold documents: a search's end at its `maxHits`. */
    pages: (s) => Math.max(1, Math.ceil(Math.min(s.total, s.maxHits ?? s.total) / (s.params.per_page ?? 25))),
    hasActive: (s) => s.items.some((d) => ACTIVE_STATUSES.has(d.status)),
    /** Something on the page still changes on its own (status or thumbnail). */
    settling: (s) => s.items.some((d) => isSettling(d)),
  },
  actions: {
    async load(params?: ListParams, opts: { quiet?: boolean } = {}): Promise<void> {
      if (params) this.params = { ...params }
      const seq = ++this.seq
      if (!opts.quiet) this.loading = true
      try {
        const page = await api.get<DocumentPage>('/api/documents', { ...this.params })
        if (seq !== this.seq) return
        // For the render-time budget (e2e reads the `documents:render` measure).
        performance.mark('documents:data')
        this.items = page.items
        this.total = page.total
        this.totalExact = page.total_exact
        this.maxHits = page.max_hits ?? null
        this.error = null
      } catch (e) {
        if (seq !== this.seq) return
        this.error = e instanceof Error ? e.message : String(e)
      } finally {
        if (seq === this.seq) this.loading = false
        this.schedulePoll()
      }
    },

    /** Polls again in POLL_MS while polling is on and something is still in flight. */
    schedulePoll(): void {
      if (this.pollTimer) clearTimeout(this.pollTimer)
      this.pollTimer = null
      if (!this.polling || !this.settling) return
      this.pollTimer = setTimeout(() => void this.load(undefined, { quiet: true }), POLL_MS)
    },

    startPolling(): void {
      this.polling = true
      this.schedulePoll()
    },

    stopPolling(): void {
      this.polling = false
      if (this.pollTimer) clearTimeout(this.pollTimer)
      this.pollTimer = null
    },

    async get(id: string): Promise<DocumentView> {
      const doc = await api.get<DocumentView>(`/api/documents/${id}`)
      this.replace(doc)
      return doc
    },

    replace(doc: DocumentView): void {
      const i = this.items.findIndex((d) => d.id === doc.id)
      if (i >= 0) this.items[i] = { ...this.items[i], ...doc }
    },

    async update(id: string, patch: UpdateDocumentRequest): Promise<DocumentView> {
      const doc = await api.patch<DocumentView>(`/api/documents/${id}`, patch)
      this.replace(doc)
      return doc
    },

    /** Moves a document to the trash. A trashed document keeps counting against the
     * quota, but the quota is re-read anyway: a still-pending upload is deleted for good. */
    async remove(id: string): Promise<void> {
      await trashDocument(id)
      this.items = this.items.filter((d) => d.id !== id)
      this.total = Math.max(0, this.total - 1)
      await useQuotaStore().load()
    },

    /** Moves a document to the trash and says so in a toast with "Undo". */
    async trash(d: Pick<DocumentView, 'id' | 'filename' | 'size_bytes'>, onRestored?: () => unknown): Promise<void> {
      await this.remove(d.id)
      useToastStore().withAction(`Moved ${d.filename} to the trash`, {
        label: 'Undo',
        run: () => void this.restore(d).then((ok) => ok && onRestored?.()),
      })
    },

    /** Brings a trashed document back and reloads the list; false (with a toast saying
     * why, e.g. the quota message of uploads on 413) when the server refused. */
    async restore(d: Pick<DocumentView, 'id' | 'filename' | 'size_bytes'>): Promise<boolean> {
      const toasts = useToastStore()
      try {
        await restoreDocument(d.id)
      } catch (e) {
        toasts.error(`Could not restore ${d.filename}: ${uploadErrorMessage(e, d.size_bytes)}`)
        return false
      }
      toasts.success(`Restored ${d.filename}`)
      await this.load(undefined, { quiet: true })
      return true
    },

    /** Answers the classifier about one topic of a document: `accept` files it there by
     * hand (a suggestion or an automatic topic), `reject` takes it off for good (it is never
     * filed there automatically nor suggested again). Returns the document as it is now. */
    async answerTopic(id: string, topicId: string, answer: 'accept' | 'reject'): Promise<DocumentView> {
      const doc = await api.post<DocumentView>(`/api/documents/${id}/topics/${topicId}/${answer}`)
      this.replace(doc)
      return doc
    },

    async reclassify(id: string): Promise<void> {
      await api.post(`/api/documents/${id}/classify`)
      const i = this.items.findIndex((d) => d.id === id)
      if (i >= 0) this.items[i] = { ...this.items[i], status: 'queued' }
      this.schedulePoll()
    },
  },
})
