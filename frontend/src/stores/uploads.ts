import { defineStore } from 'pinia'
import { markRaw } from 'vue'
import { uploadErrorMessage, uploadFile, UploadCancelled } from '@/lib/upload'
import { duplicateExistingId } from '@/lib/vault'
import { useDocumentTypesStore } from './documentTypes'
import { useQuotaStore } from './quota'

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
}

/** How many files go up at the same time. */
export const UPLOAD_CONCURRENCY = 2

let nextKey = 1

/** Files being uploaded (several at once, each with its own progress and cancel). */
export const useUploadsStore = defineStore('uploads', {
  state: () => ({
    items: [] as UploadItem[],
    /** Bumped whenever an upload finishes, so lists know to reload. */
    completed: 0,
  }),
  getters: {
    running: (s) => s.items.filter((i) => ['preparing', 'uploading', 'confirming'].includes(i.state)).length,
    active: (s) => s.items.some((i) => ['waiting', 'preparing', 'uploading', 'confirming'].includes(i.state)),
  },
  actions: {
    add(files: Iterable<File>, folderId: string | null = null): UploadItem[] {
      const added: UploadItem[] = []
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
      } catch (e) {
        const cur = item()
        if (cur) {
          cur.state = e instanceof UploadCancelled ? 'cancelled' : 'error'
          cur.error = e instanceof UploadCancelled ? null : uploadErrorMessage(e, cur.size)
          cur.existingId = duplicateExistingId(e)
        }
      } finally {
        this.pump()
      }
    },

    cancel(key: number): void {
      const it = this.items.find((i) => i.key === key)
      if (!it) return
      if (it.state === 'waiting') it.state = 'cancelled'
      it.controller.abort()
    },

    retry(key: number): void {
      const it = this.items.find((i) => i.key === key)
      if (!it || (it.state !== 'error' && it.state !== 'cancelled')) return
      Object.assign(it, { state: 'waiting', error: null, loaded: 0, documentId: null, existingId: null, controller: markRaw(new AbortController()) })
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
