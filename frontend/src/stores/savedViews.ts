import { defineStore } from 'pinia'
import { api } from '@/api/client'
import type { SavedView, SavedViewList } from '@/api/types'
import type { ViewQuery } from '@/lib/listQuery'

/** The user's saved views (sidebar), by name as the server sorts them. */
export const useSavedViewsStore = defineStore('savedViews', {
  state: () => ({ items: [] as SavedView[], loaded: false }),
  actions: {
    async load(): Promise<void> {
      const list = await api.get<SavedViewList>('/api/views')
      this.items = list.items
      this.loaded = true
    },
    /** Saves `query` as `name`; throws the server's error (409 `view_name_taken`, 422). */
    async create(name: string, query: ViewQuery): Promise<SavedView> {
      const view = await api.post<SavedView>('/api/views', { name, query })
      await this.load()
      return view
    },
    async rename(id: string, name: string): Promise<SavedView> {
      const view = await api.patch<SavedView>(`/api/views/${id}`, { name })
      await this.load()
      return view
    },
    async remove(id: string): Promise<void> {
      await api.del(`/api/views/${id}`)
      this.items = this.items.filter((v) => v.id !== id)
    },
  },
})
