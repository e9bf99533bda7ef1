import { defineStore } from 'pinia'
import { api, errorMessage } from '@/api/client'
import type { MarkReadRequest, NotificationList, NotificationView } from '@/api/types'

/** The signed-in user's notices (documents others shared with them), for the header bell. */
export const useNotificationsStore = defineStore('notifications', {
  state: () => ({
    items: [] as NotificationView[],
    unread: 0,
    loaded: false,
    error: null as string | null,
  }),
  actions: {
    async load(): Promise<void> {
      try {
        const res = await api.get<NotificationList>('/api/notifications')
        this.items = res.items
        this.unread = res.unread
        this.error = null
      } catch (e) {
        this.error = errorMessage(e)
      } finally {
        this.loaded = true
      }
    },

    /** Marks the given notices read (all when `ids` is omitted), at once on screen, then
     * reloads what the server says. */
    async markRead(ids?: string[]): Promise<void> {
      const now = new Date().toISOString()
      const hit = (n: NotificationView) => !n.read_at && (!ids || ids.includes(n.id))
      const newlyRead = this.items.filter(hit).length
      this.items = this.items.map((n) => (hit(n) ? { ...n, read_at: now } : n))
      this.unread = ids ? Math.max(0, this.unread - newlyRead) : 0
      const body: MarkReadRequest = ids ? { ids } : {}
      try {
        await api.post('/api/notifications/read', body)
      } finally {
        await this.load()
      }
    },
  },
})
