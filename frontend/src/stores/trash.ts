import { defineStore } from 'pinia'
import type { DocumentView } from '@/api/types'
import { uploadErrorMessage } from '@/lib/upload'
import { deleteForever, emptyTrash, listTrash, restoreDocument } from '@/lib/vault'
import { useQuotaStore } from './quota'

/** How many trashed documents one page shows. */
export const TRASH_PAGE = 50

/** The caller's trash: documents deleted but still restorable until `purge_at`. */
export const useTrashStore = defineStore('trash', {
  state: () => ({
    items: [] as DocumentView[],
    total: 0,
    page: 1,
    loading: false,
    loaded: false,
    error: null as string | null,
  }),
  getters: {
    pages: (s) => Math.max(1, Math.ceil(s.total / TRASH_PAGE)),
    /** Bytes the trash holds (of this page): they still count against the quota. */
    bytes: (s) => s.items.reduce((n, d) => n + d.size_bytes, 0),
  },
  actions: {
    async load(to?: number): Promise<void> {
      const page = to ?? this.page
      this.loading = true
      try {
        const res = await listTrash({ page, per_page: TRASH_PAGE })
        this.items = res.items
        this.total = res.total
        this.page = page
        this.error = null
      } catch (e) {
        this.error = e instanceof Error ? e.message : String(e)
      } finally {
        this.loading = false
        this.loaded = true
      }
    },

    /** Restores one document; throws an error with words for the user (the quota
     * message of uploads when the owner is over quota). */
    async restore(d: DocumentView): Promise<void> {
      try {
        await restoreDocument(d.id)
      } catch (e) {
        throw new Error(uploadErrorMessage(e, d.size_bytes))
      }
      this.drop(d.id)
    },

    /** Deletes one trashed document for good; the quota gives its bytes back. */
    async deleteForever(id: string): Promise<void> {
      await deleteForever(id)
      this.drop(id)
      await useQuotaStore().load().catch(() => undefined)
    },

    /** Deletes everything in the trash for good; returns how many went. */
    async empty(): Promise<number> {
      const { deleted } = await emptyTrash()
      this.items = []
      this.total = 0
      this.page = 1
      await useQuotaStore().load().catch(() => undefined)
      return deleted
    },

    drop(id: string): void {
      const before = this.items.length
      this.items = this.items.filter((d) => d.id !== id)
      if (this.items.length < before) this.total = Math.max(0, this.total - 1)
    },
  },
})
