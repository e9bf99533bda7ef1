import { defineStore } from 'pinia'
import { ApiError, api } from '@/api/client'
import type { RefileRun } from '@/api/types'

/** How often a running re-file is asked for its progress. */
export const REFILE_POLL_MS = 1000

/** The progress of a run, 0–100 (a run that ended is at 100 unless it stopped early). */
export function refilePercent(run: Pick<RefileRun, 'state' | 'total' | 'done'> | null): number {
  if (!run) return 0
  if (run.state === 'done') return 100
  const total = Math.max(run.total, run.done)
  return total === 0 ? 0 : Math.min(100, Math.round((run.done / total) * 100))
}

let timer: ReturnType<typeof setTimeout> | null = null

/**
 * "Re-file everything not filed by hand" (`/api/topics/refile`): the latest run of the
 * account, polled every {@link REFILE_POLL_MS} while it runs (while someone watches:
 * `watch()` / `unwatch()`). `finished` counts the runs this page saw end, so the page can
 * reload what they changed.
 */
export const useRefileStore = defineStore('refile', {
  state: () => ({
    /** The latest run; null when the account never re-filed (404). */
    run: null as RefileRun | null,
    loaded: false,
    watching: false,
    /** Runs seen going from running to ended. */
    finished: 0,
    /** The last polling error (polling goes on). */
    error: null as string | null,
  }),
  getters: {
    running: (s) => s.run?.state === 'running',
    percent: (s) => refilePercent(s.run),
  },
  actions: {
    /** Reads the latest run (404: none yet). */
    async load(): Promise<void> {
      const before = this.run
      try {
        this.run = await api.get<RefileRun>('/api/topics/refile')
        this.error = null
      } catch (e) {
        if (e instanceof ApiError && e.status === 404) this.run = null
        else {
          this.error = e instanceof Error ? e.message : String(e)
          this.loaded = true
          return
        }
      }
      this.loaded = true
      if (before?.state === 'running' && this.run && this.run.id === before.id && this.run.state !== 'running') {
        this.finished += 1
      }
    },
    /** Starts a run (throws 409 `refile_running`, 422 `refile_needs_builtin`). */
    async start(): Promise<RefileRun> {
      const run = await api.post<RefileRun>('/api/topics/refile')
      this.run = run
      this.schedule()
      return run
    },
    /** Cancels the running run. */
    async cancel(): Promise<void> {
      try {
        await api.del('/api/topics/refile')
      } catch (e) {
        // Ended meanwhile: show how.
        if (!(e instanceof ApiError && e.status === 404)) throw e
      }
      await this.load()
    },
    /** Loads, and keeps polling while a run is running (until `unwatch`). */
    async watch(): Promise<void> {
      this.watching = true
      await this.load()
      this.schedule()
    },
    unwatch(): void {
      this.watching = false
      if (timer) clearTimeout(timer)
      timer = null
    },
    schedule(): void {
      if (timer || !this.watching || !this.running) return
      timer = setTimeout(async () => {
        timer = null
        await this.load()
        this.schedule()
      }, REFILE_POLL_MS)
    },
  },
})
