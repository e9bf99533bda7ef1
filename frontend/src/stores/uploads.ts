import { defineStore } from 'pinia'
import { markRaw } from 'vue'
import { api, ApiError } from '@/api/client'
import type { DocumentView } from '@/api/types'
import { canRetryUpload, uploadErrorMessage, uploadFile, UploadCancelled } from '@/lib/upload'
import { duplicateExistingId } from '@/lib/vault'
import { batchSummary } from '@/lib/wording'
import { useDocumentTypesStore } from './documentTypes'
import { ACTIVE_STATUSES, POLL_MS } from './documents'
import { useQuotaStore } from './quota'
import { useToastStore } from './toasts'

export type UploadState = 'waiting' | 'preparing' | 'uploading' | 'confirming' | 'done' | 'error' | 'cancelled'

export interface UploadItem {
  key: number
  name: string
  size: number
  loaded: number
  state: UploadState
  error: string | null
  documentId: string | null
  /** The document already holding these bytes, when the server refused a duplicate. */
  existingId: string | null
  file: File
  folderId: string | null
  controller: AbortController
  /** Whether "Retry" can help after an error ([`canRetryUpload`]). */
  retryable: boolean
  /** The batch it belongs to (see [`UploadBatch`]). */
  batch: number
}

/** Files added while earlier ones of the same batch were still uploading. Once all are
 * uploaded and their documents processed, one toast says how the batch went. */
export interface UploadBatch {
  id: number
  /** Uploaded documents still being processed, in upload order. */
  pending: string[]
  /** Documents uploaded in this batch. */
  uploaded: number
  /** Documents processed (classified or not). */
  processed: number
  /** Documents whose processing failed. */
  failed: number
}

const UPLOADING: UploadState[] = ['waiting', 'preparing', 'uploading', 'confirming']

/** How many files go up at the same time. */
export const UPLOAD_CONCURRENCY = 2

let nextKey = 1
let nextBatch = 1
let batchTimer: ReturnType<typeof setTimeout> | null = null

/** Files being uploaded (several at once, each with its own progress and cancel). */
export const useUploadsStore = defineStore('uploads', {
  state: () => ({
    items: [] as UploadItem[],
    /** Bumped whenever an upload finishes, so lists know to reload. */
    completed: 0,
    batches: [] as UploadBatch[],
  }),
  getters: {
    running: (s) => s.items.filter((i) => ['preparing', 'uploading', 'confirming'].includes(i.state)).length,
    active: (s) => s.items.some((i) => ['waiting', 'preparing', 'uploading', 'confirming'].includes(i.state)),
  },
  actions: {
    add(files: Iterable<File>, folderId: string | null = null): UploadItem[] {
      const added: UploadItem[] = []
      const batch = this.openBatch()
      for (const file of files) {
        const item: UploadItem = {
          key: nextKey++,
          name: file.name,
          size: file.size,
          loaded: 0,
          state: 'waiting',
          error: null,
          documentId: null,
          existingId: null,
          // Raw: a reactive proxy of a File is no Blob to XHR, nor a proxied signal a signal.
          file: markRaw(file),
          folderId,
          controller: markRaw(new AbortController()),
          retryable: false,
          batch,
        }
        this.items.push(item)
        added.push(item)
      }
      this.pump()
      return added
    },

    /** Starts waiting uploads up to the concurrency limit. */
    pump(): void {
      let free = UPLOAD_CONCURRENCY - this.running
      for (const item of this.items) {
        if (free <= 0) break
        if (item.state !== 'waiting') continue
        free--
        void this.run(item.key)
      }
    },

    async run(key: number): Promise<void> {
      const item = () => this.items.find((i) => i.key === key)
      const it = item()
      if (!it) return
      it.state = 'preparing'
      try {
        const res = await uploadFile(
          it.file,
          it.folderId,
          {
            onPhase: (p) => {
              const cur = item()
              if (cur && cur.state !== 'cancelled') cur.state = p
            },
            onProgress: (loaded) => {
              const cur = item()
              if (cur) cur.loaded = loaded
            },
            onCreated: (id) => {
              const cur = item()
              if (cur) cur.documentId = id
            },
          },
          it.controller.signal,
          useDocumentTypesStore().types,
        )
        const cur = item()
        if (cur) {
          cur.state = 'done'
          cur.loaded = cur.size
        }
        useQuotaStore().setUsed(res.used_bytes)
        this.completed++
        const batch = this.batches.find((b) => b.id === cur?.batch)
        if (batch) {
          batch.pending.push(res.id)
          batch.uploaded++
        }
      } catch (e) {
        const cur = item()
        if (cur) {
          cur.state = e instanceof UploadCancelled ? 'cancelled' : 'error'
          cur.error = e instanceof UploadCancelled ? null : uploadErrorMessage(e, cur.size)
          cur.existingId = duplicateExistingId(e)
          cur.retryable = canRetryUpload(e)
        }
      } finally {
        this.pump()
        this.settleBatches()
      }
    },

    /** The batch new files join: the newest one while its files are still uploading. */
    openBatch(): number {
      const last = this.batches[this.batches.length - 1]
      if (last && this.items.some((i) => i.batch === last.id && UPLOADING.includes(i.state))) return last.id
      const id = nextBatch++
      this.batches.push({ id, pending: [], uploaded: 0, processed: 0, failed: 0 })
      return id
    },

    /** Says once how each batch went when all its files are uploaded and processed;
     * polls the documents still being processed. */
    settleBatches(): void {
      for (const b of [...this.batches]) {
        if (b.pending.length || this.items.some((i) => i.batch === b.id && UPLOADING.includes(i.state))) continue
        this.batches = this.batches.filter((x) => x.id !== b.id)
        if (!b.uploaded) continue
        // Duplicates are no failure: the panel points at the document already there.
        const uploadFailed = this.items.filter((i) => i.batch === b.id && i.state === 'error' && !i.existingId).length
        const failed = b.failed + uploadFailed
        useToastStore().push(batchSummary({ processed: b.processed, failed }), failed ? 'info' : 'success', 6000)
      }
      if (batchTimer) clearTimeout(batchTimer)
      batchTimer = null
      if (this.batches.some((b) => b.pending.length)) batchTimer = setTimeout(() => void this.pollBatches(), POLL_MS)
    },

    /** Checks each batch's documents in upload order (they are processed roughly in that
     * order), stopping at the first one still in progress: a request or two per tick. */
    async pollBatches(): Promise<void> {
      batchTimer = null
      for (const b of this.batches) {
        while (b.pending.length) {
          let doc: DocumentView | null
          try {
            doc = await api.get<DocumentView>(`/api/documents/${b.pending[0]}`)
          } catch (e) {
            if (!(e instanceof ApiError && e.status === 404)) break
            doc = null // deleted meanwhile: neither processed nor failed
          }
          if (doc && ACTIVE_STATUSES.has(doc.status)) break
          if (doc?.status === 'failed') b.failed++
          else if (doc) b.processed++
          b.pending.shift()
        }
      }
      this.settleBatches()
    },

    cancel(key: number): void {
      const it = this.items.find((i) => i.key === key)
      if (!it) return
      if (it.state === 'waiting') it.state = 'cancelled'
      it.controller.abort()
    },

    /** Tries a cancelled upload, or a failed one that can succeed ([`canRetryUpload`]),
     * again, as part of the current batch. */
    retry(key: number): void {
      const it = this.items.find((i) => i.key === key)
      if (!it || !(it.state === 'cancelled' || (it.state === 'error' && it.retryable))) return
      const batch = this.openBatch()
      Object.assign(it, {
        state: 'waiting',
        error: null,
        loaded: 0,
        documentId: null,
        existingId: null,
        retryable: false,
        batch,
        controller: markRaw(new AbortController()),
      })
      this.pump()
    },

    clearFinished(): void {
      this.items = this.items.filter((i) => !['done', 'error', 'cancelled'].includes(i.state))
    },

    dismiss(key: number): void {
      this.items = this.items.filter((i) => i.key !== key)
    },
  },
})
