import { defineStore } from 'pinia'
import { api } from '@/api/client'
import type { QuotaView } from '@/api/types'

export type QuotaLevel = 'ok' | 'warn' | 'full'

/** Storage used / allowed; amber from 80 %, red from 95 %. */
export const useQuotaStore = defineStore('quota', {
  state: () => ({ used: 0, limit: 0, loaded: false }),
  getters: {
    ratio: (s) => (s.limit > 0 ? Math.min(1, s.used / s.limit) : s.used > 0 ? 1 : 0),
    level(): QuotaLevel {
      if (this.ratio >= 0.95) return 'full'
      if (this.ratio >= 0.8) return 'warn'
      return 'ok'
    },
    free: (s) => Math.max(0, s.limit - s.used),
  },
  actions: {
    async load(): Promise<void> {
      const q = await api.get<QuotaView>('/api/auth/me/quota')
      this.used = q.used_bytes
      this.limit = q.limit_bytes
      this.loaded = true
    },
    /** Takes the figure a confirm answered with, without another round trip. */
    setUsed(used: number): void {
      this.used = used
    },
  },
})
