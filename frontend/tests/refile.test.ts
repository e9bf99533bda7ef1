import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia, type Pinia } from 'pinia'
import { setAccessToken } from '@/api/client'
import RefilePanel from '@/components/RefilePanel.vue'
import { refileSummary } from '@/lib/wording'
import { REFILE_POLL_MS, refilePercent, useRefileStore } from '@/stores/refile'
import { useToastStore } from '@/stores/toasts'
import { installDialog, json, mockFetch, type Call } from './helpers'

const RUN = {
  id: 'r1',
  state: 'running' as const,
  total: 312,
  done: 0,
  changed: 0,
  started_at: '2026-12-07T10:00:00Z',
  finished_at: null,
  error: null,
}

let pinia: Pinia
beforeAll(installDialog)
beforeEach(() => {
  pinia = createPinia()
  setActivePinia(pinia)
  setAccessToken('t')
})
afterEach(() => {
  useRefileStore().unwatch()
  vi.useRealTimers()
  vi.unstubAllGlobals()
  document.body.innerHTML = ''
})

const gets = (calls: Call[]) => calls.filter((c) => c.method === 'GET' && c.url.startsWith('/api/topics/refile')).length

describe('refile wording and progress', () => {
  it('says what a run did in plain words', () => {
    expect(refileSummary({ ...RUN, state: 'done', done: 312, changed: 40 })).toBe('312 documents re-filed, 40 changed')
    expect(refileSummary({ ...RUN, state: 'done', total: 1, done: 1, changed: 1 })).toBe('1 document re-filed, 1 changed')
    expect(refileSummary({ ...RUN, state: 'done', total: 0, done: 0 })).toBe('No documents to re-file')
    expect(refileSummary({ ...RUN, state: 'cancelled', done: 120, changed: 12 })).toBe('Stopped after 120 of 312 documents, 12 changed')
    expect(refileSummary({ ...RUN, state: 'failed', done: 5, error: 'The database could not be read' })).toBe(
      'Re-filing stopped: The database could not be read (5 of 312 documents done, 0 changed)',
    )
    expect(refileSummary({ ...RUN, done: 120 })).toBe('120 of 312 documents')
    // More looked at than counted at the start (documents became candidates meanwhile).
    expect(refileSummary({ ...RUN, total: 3, done: 4 })).toBe('4 of 4 documents')
  })

  it('computes the progress bar, never past 100 %', () => {
    expect(refilePercent(null)).toBe(0)
    expect(refilePercent({ state: 'running', total: 0, done: 0 })).toBe(0)
    expect(refilePercent({ state: 'running', total: 312, done: 156 })).toBe(50)
    expect(refilePercent({ state: 'running', total: 3, done: 5 })).toBe(100)
    expect(refilePercent({ state: 'done', total: 0, done: 0 })).toBe(100)
    expect(refilePercent({ state: 'cancelled', total: 10, done: 3 })).toBe(30)
  })
})

describe('refile store', () => {
  it('has no run until one starts (404), then polls while it runs and stops when it ends', async () => {
    vi.useFakeTimers()
    let polls = 0
    let started = false
    const { calls } = mockFetch({
      'GET /api/topics/refile': () => {
        if (!started) return json(404, { code: 'not_found', message: 'No re-file has run for your documents yet' })
        polls += 1
        return json(200, polls < 3 ? { ...RUN, done: polls * 100 } : { ...RUN, state: 'done', total: 300, done: 300, changed: 40, finished_at: '2026-12-07T10:01:00Z' })
      },
      'POST /api/topics/refile': () => {
        started = true
        return json(202, RUN)
      },
    })
    const store = useRefileStore()
    await store.watch()
    expect(store.loaded).toBe(true)
    expect(store.run).toBeNull()
    expect(store.running).toBe(false)
    // Nothing runs: nothing is polled.
    await vi.advanceTimersByTimeAsync(REFILE_POLL_MS * 3)
    expect(gets(calls)).toBe(1)

    await store.start()
    expect(store.running).toBe(true)
    expect(store.percent).toBe(0)
    await vi.advanceTimersByTimeAsync(REFILE_POLL_MS)
    expect(store.run?.done).toBe(100)
    expect(store.percent).toBe(32)
    await vi.advanceTimersByTimeAsync(REFILE_POLL_MS * 2)
    expect(store.run?.state).toBe('done')
    expect(store.finished).toBe(1)
    const after = gets(calls)
    await vi.advanceTimersByTimeAsync(REFILE_POLL_MS * 5)
    expect(gets(calls)).toBe(after)
  })

  it('stops polling when nobody watches, and cancels (a run that ended meanwhile is shown)', async () => {
    vi.useFakeTimers()
    let state: 'running' | 'cancelled' = 'running'
    const { calls } = mockFetch({
      'GET /api/topics/refile': () => json(200, { ...RUN, state, done: 10 }),
      'DELETE /api/topics/refile': () => {
        state = 'cancelled'
        return json(200, { ...RUN, state, done: 10 })
      },
    })
    const store = useRefileStore()
    await store.watch()
    store.unwatch()
    await vi.advanceTimersByTimeAsync(REFILE_POLL_MS * 3)
    expect(gets(calls)).toBe(1)
    await store.cancel()
    expect(store.run?.state).toBe('cancelled')
    // It ended while watched: what it changed so far is read again.
    expect(store.finished).toBe(1)
    // Already ended: the 404 is not an error.
    mockFetch({
      'GET /api/topics/refile': () => json(200, { ...RUN, state: 'done', done: 312, changed: 3 }),
      'DELETE /api/topics/refile': () => json(404, { code: 'not_found', message: 'No re-file of your documents is running' }),
    })
    await store.cancel()
    expect(store.run?.state).toBe('done')
  })
})

describe('RefilePanel', () => {
  it('starts after a confirmation, shows the progress, then the result', async () => {
    vi.useFakeTimers()
    let polls = 0
    const { calls } = mockFetch({
      'GET /api/topics/refile': () => {
        if (!calls.some((c) => c.method === 'POST')) return json(404, { code: 'not_found', message: 'none' })
        polls += 1
        return json(200, polls < 2 ? { ...RUN, done: 156, changed: 20 } : { ...RUN, state: 'done', done: 312, changed: 40, finished_at: '2026-12-07T10:01:00Z' })
      },
      'POST /api/topics/refile': () => json(202, RUN),
      'GET /api/topics': () => json(200, { items: [] }),
    })
    const w = mount(RefilePanel, { global: { plugins: [pinia] }, attachTo: document.body })
    await flushPromises()
    expect(w.find('[data-testid=refile-result]').exists()).toBe(false)
    await w.get('[data-testid=refile-start]').trigger('click')
    await flushPromises()
    expect(calls.filter((c) => c.method === 'POST')).toHaveLength(0)
    expect(document.querySelector('dialog')?.textContent).toContain('Documents you filed by hand keep their topics')
    ;(document.querySelector('dialog [data-testid=confirm]') as HTMLElement).click()
    await flushPromises()
    expect(calls.filter((c) => c.method === 'POST').map((c) => c.url)).toEqual(['/api/topics/refile'])
    expect(w.get('[data-testid=refile-progress]').attributes('aria-valuenow')).toBe('0')
    expect(w.find('[data-testid=refile-stop]').exists()).toBe(true)
    await vi.advanceTimersByTimeAsync(REFILE_POLL_MS)
    await flushPromises()
    expect(w.get('[data-testid=refile-progress]').attributes('aria-valuenow')).toBe('50')
    expect(w.text()).toContain('156 of 312 documents')
    await vi.advanceTimersByTimeAsync(REFILE_POLL_MS)
    await flushPromises()
    expect(w.find('[data-testid=refile-progress]').exists()).toBe(false)
    expect(w.get('[data-testid=refile-result]').text()).toContain('312 documents re-filed, 40 changed')
    expect(useToastStore().items.at(-1)?.text).toBe('312 documents re-filed, 40 changed')
    // The topics' counts are read again.
    expect(calls.filter((c) => c.method === 'GET' && c.url === '/api/topics')).toHaveLength(1)
    w.unmount()
  })

  it('shows why a start was refused', async () => {
    mockFetch({
      'GET /api/topics/refile': () => json(404, { code: 'not_found', message: 'none' }),
      'POST /api/topics/refile': () =>
        json(422, { code: 'refile_needs_builtin', message: 'Re-filing everything runs on the builtin classifier, and your account uses openai.' }),
    })
    const w = mount(RefilePanel, { global: { plugins: [pinia] }, attachTo: document.body })
    await flushPromises()
    await w.get('[data-testid=refile-start]').trigger('click')
    await flushPromises()
    ;(document.querySelector('dialog [data-testid=confirm]') as HTMLElement).click()
    await flushPromises()
    expect(document.querySelector('dialog [role=alert]')?.textContent).toContain('your account uses openai')
    expect(w.find('[data-testid=refile-progress]').exists()).toBe(false)
    w.unmount()
  })
})
