import { defineStore } from 'pinia'
import { api } from '@/api/client'
import type { AuthConfig, DocumentTypeView } from '@/api/types'
import { acceptAttr, contentTypeFor } from '@/lib/format'

/** The document types the server accepts, read from `GET /api/auth/config` (the
 * server's one table; the UI keeps no copy of its own). */
export const useDocumentTypesStore = defineStore('documentTypes', {
  state: () => ({ types: [] as DocumentTypeView[], loaded: false }),
  getters: {
    /** The file picker's `accept` attribute; empty (any file) until loaded. */
    accept: (s): string => acceptAttr(s.types),
  },
  actions: {
    async load(): Promise<void> {
      if (this.loaded) return
      const config = await api.get<AuthConfig>('/api/auth/config')
      this.types = config.document_types
      this.loaded = true
    },
    /** The content type to declare for a file (see `contentTypeFor`). */
    contentTypeFor(name: string, browserType: string): string {
      return contentTypeFor(name, browserType, this.types)
    },
  },
})
